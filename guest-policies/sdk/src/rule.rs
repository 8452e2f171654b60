//! [`Policy`]: the method as overridable steps.

use crate::{
    AccessIntegrity, AccessKind, Action, Agreement, Decision, EndToEnd, Event, Facts, LinkState, PlmnId, Reason,
    Registration, Request, Role, ServerId, TriggerCheck,
};

/// A pathsec policy. Every method defaults to the reference rule; override the ones your operator
/// needs and leave the rest.
///
/// The rule is the method's configuration-based form (000, FIGS. 11-13) and its protocol-based form
/// (FIGS. 7-10), row by row as `docs/method.md` tabulates them. The whole path is secure iff the
/// serving network is known and either a registration agreement stands that needs no application-layer
/// security ([`Policy::follow_agreement`]), or — with no registration — path A is protected
/// ([`Policy::access_protected`] where the asking node knows the device's access security, then
/// [`Policy::path_a_trusted`]: List 1 for the device's access kind, and the entry's integrity
/// requirement), path B is secure ([`Policy::path_b_trusted`]: List 2), and the intermediate path is
/// secure ([`Policy::interconnect_trusted`]: at home, or List 3 for every home or for this one). A
/// registration mismatch is never secure. The first check that fails is the reason.
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

    /// Is path A — between the device and its serving network — vouched for by List 1 over the
    /// device's access kind? Default: `serving`'s List 1 entry names `access` (an entry names 3GPP radio
    /// unless it says otherwise; 000 claims 23 and 42 let the lists speak for wireline and other
    /// networks too).
    #[inline(always)]
    fn path_a_trusted(facts: &Facts, serving: PlmnId, access: AccessKind) -> bool {
        facts.path_a(serving, access)
    }

    /// Is path B — between the server's network (`home`: the device's home unless the facts attach the
    /// server elsewhere, [`Facts::second_network`]) and the server — secure? Default: the pair is in
    /// List 2.
    #[inline(always)]
    fn path_b_trusted(facts: &Facts, home: PlmnId, server: ServerId) -> bool {
        facts.path_b(home, server)
    }

    /// Is the intermediate path — inside the serving network and its interconnect to the second network
    /// (`home`: the server's network, [`Facts::second_network`]) — secure? Default: the serving network
    /// is that network, or is in List 3 for every home or for this one (000 claim 12).
    #[inline(always)]
    fn interconnect_trusted(facts: &Facts, serving: PlmnId, home: PlmnId) -> bool {
        serving == home || facts.interconnect(serving, home)
    }

    /// What the asking node's own knowledge of the device's access security says of path A, before
    /// List 1 (rows P6-P8 of `docs/method.md`). Default:
    /// - a server that was not told the link state (`link` is `None`) takes List 1 as its statement
    ///   that path A is protected (000, FIG. 12 step 6, FIG. 13 step 3): `Ok`;
    /// - a device always knows its own: one whose link state the embedder never gave fails closed
    ///   ([`Reason::AccessNotProtected`]);
    /// - ciphering or integrity protects path A ("encryption and/or integrity", 000), neither does not
    ///   ([`Reason::AccessNotProtected`]);
    /// - a device receiving unprotected data checks that ciphering is on (FIG. 13 step 6,
    ///   [`Reason::AccessCipheringOff`]).
    #[inline]
    fn access_protected(request: &Request) -> Result<(), Reason> {
        let Some(link) = request.link else {
            return match request.role {
                Role::Server => Ok(()),
                Role::Device => Err(Reason::AccessNotProtected),
            };
        };
        if !link.ciphering() && !link.integrity() {
            return Err(Reason::AccessNotProtected);
        }
        if request.role == Role::Device && request.event == Event::ReceiveUnprotected && !link.ciphering() {
            return Err(Reason::AccessCipheringOff);
        }
        Ok(())
    }

    /// A standing registration agreement (000, FIG. 7 steps 7-8b; FIGS. 8-9 step 1): follow it.
    /// Default: secure when it says application-layer security is needed; a device whose access-layer
    /// ciphering is off (or unknown) secures anyway unless it is configured to accept "no
    /// application-layer security" from this server (FIG. 7 step 7).
    #[inline]
    fn follow_agreement(request: &Request, agreement: Agreement) -> Result<(), Reason> {
        if agreement.application_security() {
            return Err(Reason::RegistrationRequiresApplicationSecurity);
        }
        let ciphering = request.link.is_some_and(LinkState::ciphering);
        if request.role == Role::Device && !ciphering && !agreement.accept_plain_unciphered() {
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
        if !Self::path_a_trusted(facts, serving, attach.access) {
            return Err(Reason::PathANotTrusted);
        }
        // The entry (or the operator) reads "and/or" as "and" (row P10).
        if request.link.is_some_and(|link| !link.integrity()) && facts.integrity_required(serving) {
            return Err(Reason::AccessIntegrityOff);
        }
        // The second network: the server's, the device's home unless the facts name another.
        let second = facts.second_network(attach.home, request.server);
        if !Self::path_b_trusted(facts, second, request.server) {
            return Err(Reason::PathBNotTrusted);
        }
        if !Self::interconnect_trusted(facts, serving, second) {
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

    /// A received trigger (000, FIG. 11 step 6): a failed access-layer integrity check discards; a
    /// verified one lets the device check Lists 1, 2 and 3 and accept (the check shows integrity on,
    /// so [`Policy::path`] is asked with it); otherwise — no access-layer integrity, or a list check
    /// that fails — only valid end-to-end protection is accepted. Beyond the text: a trigger whose
    /// end-to-end protection is present and does not verify is discarded even where the lists would
    /// accept it (the text lets the device "look deeper"; a forged protection is not ignored).
    fn trigger(facts: &Facts, request: &Request, check: TriggerCheck) -> (Action, Reason) {
        match (check.access_integrity, check.end_to_end) {
            (AccessIntegrity::Failed, _) => (Action::Discard, Reason::TriggerIntegrityFailed),
            (_, EndToEnd::Invalid) => (Action::Discard, Reason::TriggerEndToEndInvalid),
            (AccessIntegrity::Absent, EndToEnd::Valid) => (Action::Accept, Reason::TriggerEndToEndValid),
            (AccessIntegrity::Absent, EndToEnd::Absent) => (Action::Discard, Reason::TriggerUnprotected),
            (AccessIntegrity::Verified, end_to_end) => {
                let ciphering = request.link.is_some_and(LinkState::ciphering);
                let verified = Request { link: Some(LinkState::new(ciphering, true)), ..*request };
                match (Self::path(facts, &verified), end_to_end) {
                    (Ok(()), _) => (Action::Accept, Reason::PathSecure),
                    (Err(_), EndToEnd::Valid) => (Action::Accept, Reason::TriggerEndToEndValid),
                    (Err(reason), _) => (Action::Discard, reason),
                }
            }
        }
    }

    /// Checks a new fact generation before it replaces the last; an error rejects it, and every
    /// decision on it fails closed. Default: accept.
    fn accept_facts(facts: &Facts) -> Result<(), String> {
        let _ = facts;
        Ok(())
    }
}
