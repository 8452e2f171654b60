//! The reference rule in native Rust: the oracle for the differential tests and the floor for the
//! benches. It must give the same action and reason as `guest-policies/reference` for every request.

use pathsec::{
    Action, Event, FactSet, PlmnId, Reason, Registration, Request, Role, ServerId,
    vocab::{AccessIntegrity, EndToEnd, TriggerCheck},
};
use rustc_hash::FxHashSet;

/// Lists 1-3 of one fact generation, as hash sets.
pub struct NativeRule {
    path_a: FxHashSet<PlmnId>,
    path_b: FxHashSet<(PlmnId, ServerId)>,
    interconnect: FxHashSet<PlmnId>,
}

impl NativeRule {
    /// The rule over `facts`' lists.
    pub fn new(facts: &FactSet) -> NativeRule {
        NativeRule {
            path_a: facts.path_a().iter().copied().collect(),
            path_b: facts.path_b().iter().copied().collect(),
            interconnect: facts.interconnect().iter().copied().collect(),
        }
    }

    /// `Ok` when the entire path is secure, else the first check that failed.
    pub fn path(&self, request: &Request) -> Result<(), Reason> {
        let serving = request.attach.serving.ok_or(Reason::ServingNetworkUnknown)?;
        if request.registration == Registration::Mismatch {
            return Err(Reason::RegistrationMismatch);
        }
        if !request.link.ciphering {
            return Err(Reason::AccessCipheringOff);
        }
        if !request.link.integrity {
            return Err(Reason::AccessIntegrityOff);
        }
        if !self.path_a.contains(&serving) {
            return Err(Reason::PathANotTrusted);
        }
        if !self.path_b.contains(&(request.attach.home, request.server)) {
            return Err(Reason::PathBNotTrusted);
        }
        if serving != request.attach.home && !self.interconnect.contains(&serving) {
            return Err(Reason::InterconnectNotTrusted);
        }
        Ok(())
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
