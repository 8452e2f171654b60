//! The reference rule in native Rust: the oracle for the differential tests and the floor for the
//! benches. It must give the same action and reason as `guest-policies/reference` for every request.

use pathsec::{
    AccessKind, Action, Event, FactSet, PlmnId, Reason, Registration, Request, Role, ServerId,
    vocab::{AccessIntegrity, EndToEnd, TriggerCheck},
};
use rustc_hash::FxHashSet;

/// Lists 1-3 of one fact generation, as hash sets.
pub struct NativeRule {
    path_a: FxHashSet<PlmnId>,
    path_b: FxHashSet<(PlmnId, ServerId)>,
    /// List 3, by home network; `None` holds the entries for every home.
    interconnect: FxHashSet<(Option<PlmnId>, PlmnId)>,
}

impl NativeRule {
    /// The rule over `facts`' lists.
    pub fn new(facts: &FactSet) -> NativeRule {
        let every_home = facts.interconnect().iter().map(|visited| (None, *visited));
        let per_home = facts.interconnect_per_home().iter().map(|(home, visited)| (Some(*home), *visited));
        NativeRule {
            path_a: facts.path_a().iter().copied().collect(),
            path_b: facts.path_b().iter().copied().collect(),
            interconnect: every_home.chain(per_home).collect(),
        }
    }

    /// `Ok` when the entire path is secure, else the first check that failed.
    ///
    /// Read from the method (000): the serving network must be known. A stored registration outcome
    /// decides in the protocol-based form (FIG. 7 steps 7-8b, FIGS. 8-9 step 1, claim 2): a mismatch
    /// never trusts the path; an agreement is followed, and a device without access ciphering holds to
    /// application-layer security unless configured to accept none from this server (FIG. 7 step 7).
    /// Without one, the configuration-based form: access protection (wireline never; ciphering, then
    /// integrity), then Lists 1, 2 and 3 (claim 12: per home network).
    pub fn path(&self, request: &Request) -> Result<(), Reason> {
        let Some(serving) = request.attach.serving else { return Err(Reason::ServingNetworkUnknown) };
        let home = request.attach.home;
        let by_agreement = match request.registration {
            Registration::Mismatch => Some(Err(Reason::RegistrationMismatch)),
            Registration::Agreed(agreement) => Some(if agreement.application_security {
                Err(Reason::RegistrationRequiresApplicationSecurity)
            } else if request.role == Role::Device && !request.link.ciphering && !agreement.accept_plain_unciphered {
                Err(Reason::AccessCipheringOff)
            } else {
                Ok(())
            }),
            _ => None,
        };
        if let Some(answer) = by_agreement {
            return answer;
        }
        // The checks in the method's order, each made only when those before it passed: this is also
        // the benches' native floor, so it does no lookup it does not need.
        if request.attach.access == AccessKind::Wireline {
            Err(Reason::AccessNotProtected)
        } else if !request.link.ciphering {
            Err(Reason::AccessCipheringOff)
        } else if !request.link.integrity {
            Err(Reason::AccessIntegrityOff)
        } else if !self.path_a.contains(&serving) {
            Err(Reason::PathANotTrusted)
        } else if !self.path_b.contains(&(home, request.server)) {
            Err(Reason::PathBNotTrusted)
        } else if serving != home
            && !self.interconnect.contains(&(None, serving))
            && !self.interconnect.contains(&(Some(home), serving))
        {
            Err(Reason::InterconnectNotTrusted)
        } else {
            Ok(())
        }
    }

    /// The action and reason the method gives.
    pub fn decide(&self, request: &Request) -> (Action, Reason) {
        rule(request, || self.path(request))
    }
}

/// The method's answer to `request`, given `path`: whether the entire path is secure, else the first check
/// that failed. `path` is asked only when the answer depends on it. Shared with the peer engines of the
/// benches, which evaluate the path check in their own language.
pub fn rule(request: &Request, path: impl Fn() -> Result<(), Reason>) -> (Action, Reason) {
    match (request.role, request.event) {
        (Role::Device, Event::SendTrigger) => (Action::ProtectTrigger, Reason::EventNotForRole),
        (Role::Server, Event::ReceiveTrigger(_)) => (Action::Discard, Reason::EventNotForRole),
        (_, Event::ReceiveProtected) => (Action::Accept, Reason::ApplicationLayerProtected),
        (_, Event::SendData) => {
            path().map_or_else(|r| (Action::SecureThenSend, r), |()| (Action::SendPlain, Reason::PathSecure))
        }
        (_, Event::ReceiveUnprotected) => {
            path().map_or_else(|r| (Action::DiscardAndSecure, r), |()| (Action::Accept, Reason::PathSecure))
        }
        (Role::Server, Event::SendTrigger) => {
            path().map_or_else(|r| (Action::ProtectTrigger, r), |()| (Action::SendPlain, Reason::PathSecure))
        }
        (Role::Device, Event::ReceiveTrigger(check)) => trigger(check, path),
        // An event of a later contract: the safe side.
        (_, event) => (Action::fail_closed(event.kind()), Reason::EventNotForRole),
    }
}

fn trigger(check: TriggerCheck, path: impl Fn() -> Result<(), Reason>) -> (Action, Reason) {
    match (check.access_integrity, check.end_to_end) {
        (AccessIntegrity::Failed, _) => (Action::Discard, Reason::TriggerIntegrityFailed),
        (_, EndToEnd::Invalid) => (Action::Discard, Reason::TriggerEndToEndInvalid),
        (AccessIntegrity::Absent, EndToEnd::Valid) => (Action::Accept, Reason::TriggerEndToEndValid),
        (AccessIntegrity::Absent, EndToEnd::Absent) => (Action::Discard, Reason::TriggerUnprotected),
        (AccessIntegrity::Verified, end_to_end) => match (path(), end_to_end) {
            (Ok(()), _) => (Action::Accept, Reason::PathSecure),
            (Err(_), EndToEnd::Valid) => (Action::Accept, Reason::TriggerEndToEndValid),
            (Err(reason), _) => (Action::Discard, reason),
        },
    }
}
