//! [`Policy`]: the method as overridable steps.

use crate::{
    AccessIntegrity, AccessKind, Action, Agreement, Decision, EndToEnd, Event, Facts, PlmnId, Reason, Registration,
    Request, Role, ServerId, TriggerCheck,
};

/// A pathsec policy. Every method defaults to the reference rule; override the ones your operator
/// needs and leave the rest.
///
/// The whole path is secure iff the serving network is known and either a registration agreement
/// stands that needs no application-layer security ([`Policy::follow_agreement`]: the protocol-based
/// form), or — with no registration — the access protects path A ([`Policy::access_protected`]),
/// path A is trusted ([`Policy::path_a_trusted`]: List 1), path B is trusted ([`Policy::path_b_trusted`]:
/// List 2), and the intermediate path is trusted ([`Policy::interconnect_trusted`]: at home, or List 3
/// for every home or for this one). A registration mismatch is never secure. The first check that fails
/// is the reason.
pub trait Policy {
    /// Whether the packed exports (the batch, `decide-packed`, and the single decision,
    /// `decide-scalar`) decide straight from the packed words with the method's rule — calling this
    /// policy's list steps ([`Policy::path_a_trusted`], [`Policy::path_b_trusted`],
    /// [`Policy::interconnect_trusted`]) and never building a [`Request`] — instead of unpacking each
    /// request and calling [`Policy::decide`].
    ///
    /// Set it to `true` only when the policy overrides no step but those three (and
    /// [`Policy::accept_facts`]): the steps that take a `Request` (`decide`, `path`, `trigger`,
    /// `access_protected`, `follow_agreement`) are not called on the keyed path, so an override of one
    /// would be honoured by `decide` and not by the packed exports. The host's self-check compares the
    /// two at load and refuses a policy whose answers differ. Default `false`: every override is
    /// honoured, at a few dozen instructions more per packed decision.
    const KEYED: bool = false;

    /// Is path A — between the device and its serving network — protected? Default: `serving` is in
    /// List 1.
    #[inline(always)]
    fn path_a_trusted(facts: &Facts, serving: PlmnId) -> bool {
        facts.path_a(serving)
    }

    /// Is path B — between the home network and the server — secure? Default: the pair is in List 2.
    #[inline(always)]
    fn path_b_trusted(facts: &Facts, home: PlmnId, server: ServerId) -> bool {
        facts.path_b(home, server)
    }

    /// Is the intermediate path — inside the serving network and its interconnect to home — secure?
    /// Default: the device is at home, or the visited network is in List 3 for every home or for this
    /// one (000 claim 12).
    #[inline(always)]
    fn interconnect_trusted(facts: &Facts, serving: PlmnId, home: PlmnId) -> bool {
        serving == home || facts.interconnect(serving, home)
    }

    /// Does the access protect path A by itself, whatever List 1 says? Default: wireline access never
    /// does; otherwise access-layer ciphering and integrity must both be on (for untrusted non-3GPP
    /// access the link state is its IPsec tunnel's). An operator that accepts ciphering alone where
    /// user-plane integrity does not exist (4G) overrides this step.
    #[inline]
    fn access_protected(request: &Request) -> Result<(), Reason> {
        if request.attach.access == AccessKind::Wireline {
            return Err(Reason::AccessNotProtected);
        }
        if !request.link.ciphering() {
            return Err(Reason::AccessCipheringOff);
        }
        if !request.link.integrity() {
            return Err(Reason::AccessIntegrityOff);
        }
        Ok(())
    }

    /// A standing registration agreement (000, FIG. 7 steps 7-8b; FIGS. 8-9 step 1): follow it.
    /// Default: secure when it says application-layer security is needed; a device whose access-layer
    /// ciphering is off secures anyway unless it is configured to accept "no application-layer
    /// security" from this server.
    #[inline]
    fn follow_agreement(request: &Request, agreement: Agreement) -> Result<(), Reason> {
        if agreement.application_security() {
            return Err(Reason::RegistrationRequiresApplicationSecurity);
        }
        if request.role == Role::Device && !request.link.ciphering() && !agreement.accept_plain_unciphered() {
            return Err(Reason::AccessCipheringOff);
        }
        Ok(())
    }

    /// Whether the entire path is secure: `Ok`, or the first check that failed.
    #[inline]
    fn path(facts: &Facts, request: &Request) -> Result<(), Reason> {
        let attach = &request.attach;
        let serving = attach.serving.ok_or(Reason::ServingNetworkUnknown)?;
        match request.registration {
            Registration::Mismatch => return Err(Reason::RegistrationMismatch),
            Registration::NetworkView(agreement)
            | Registration::DeviceReport(agreement)
            | Registration::ServerIndication(agreement) => return Self::follow_agreement(request, agreement),
            Registration::None => {}
        }
        Self::access_protected(request)?;
        if !Self::path_a_trusted(facts, serving) {
            return Err(Reason::PathANotTrusted);
        }
        if !Self::path_b_trusted(facts, attach.home, request.server) {
            return Err(Reason::PathBNotTrusted);
        }
        if !Self::interconnect_trusted(facts, serving, attach.home) {
            return Err(Reason::InterconnectNotTrusted);
        }
        Ok(())
    }

    /// The decision for a request: what to do, and why.
    #[inline]
    fn decide(facts: &Facts, request: &Request) -> Decision {
        let (action, reason) = match (request.role, request.event) {
            (Role::Device, Event::SendTrigger) => (Action::ProtectTrigger, Reason::EventNotForRole),
            (Role::Server, Event::ReceiveTrigger(_)) => (Action::Discard, Reason::EventNotForRole),
            (_, Event::ReceiveProtected) => (Action::Accept, Reason::ApplicationLayerProtected),
            (_, Event::SendData) => match Self::path(facts, request) {
                Ok(()) => (Action::SendPlain, Reason::PathSecure),
                Err(reason) => (Action::SecureThenSend, reason),
            },
            (_, Event::ReceiveUnprotected) => match Self::path(facts, request) {
                Ok(()) => (Action::Accept, Reason::PathSecure),
                Err(reason) => (Action::DiscardAndSecure, reason),
            },
            (Role::Server, Event::SendTrigger) => match Self::path(facts, request) {
                Ok(()) => (Action::SendPlain, Reason::PathSecure),
                Err(reason) => (Action::ProtectTrigger, reason),
            },
            (Role::Device, Event::ReceiveTrigger(check)) => Self::trigger(facts, request, check),
        };
        Decision { action, reason }
    }

    /// A received trigger: a failed access-layer integrity check discards; without access-layer
    /// integrity, or on a path that is not secure, only valid end-to-end protection is accepted.
    fn trigger(facts: &Facts, request: &Request, check: TriggerCheck) -> (Action, Reason) {
        match (check.access_integrity, check.end_to_end) {
            (AccessIntegrity::Failed, _) => (Action::Discard, Reason::TriggerIntegrityFailed),
            (_, EndToEnd::Invalid) => (Action::Discard, Reason::TriggerEndToEndInvalid),
            (AccessIntegrity::Absent, EndToEnd::Valid) => (Action::Accept, Reason::TriggerEndToEndValid),
            (AccessIntegrity::Absent, EndToEnd::Absent) => (Action::Discard, Reason::TriggerUnprotected),
            (AccessIntegrity::Verified, end_to_end) => match (Self::path(facts, request), end_to_end) {
                (Ok(()), _) => (Action::Accept, Reason::PathSecure),
                (Err(_), EndToEnd::Valid) => (Action::Accept, Reason::TriggerEndToEndValid),
                (Err(reason), _) => (Action::Discard, reason),
            },
        }
    }

    /// Checks a new fact generation before it replaces the last; an error rejects it, and every
    /// decision on it fails closed. Default: accept.
    fn accept_facts(facts: &Facts) -> Result<(), String> {
        let _ = facts;
        Ok(())
    }
}
