//! The reference rule in native Rust: the oracle for the differential tests and the floor for the
//! benches. It must give the same action and reason as `guest-policies/reference` for every request.

use pathsec::{
    AccessKind, Action, Event, FactSet, LinkState, PlmnId, Reason, Registration, Request, Role, ServerId,
    vocab::{AccessIntegrity, EndToEnd, TriggerCheck},
};
use rustc_hash::{FxHashMap, FxHashSet};

/// Lists 1-3 of one fact generation, as hash sets.
pub struct NativeRule {
    /// List 1, one key per (network, access kind its entry vouches for).
    path_a: FxHashSet<(PlmnId, AccessKind)>,
    /// The listed networks that ask for integrity as well (their entry, or the operator's setting).
    integrity_required: FxHashSet<PlmnId>,
    path_b: FxHashSet<(PlmnId, ServerId)>,
    /// List 3, by home network; `None` holds the entries for every home.
    interconnect: FxHashSet<(Option<PlmnId>, PlmnId)>,
    /// Servers attached to a network other than the device's home.
    server_networks: FxHashMap<ServerId, PlmnId>,
}

impl NativeRule {
    /// The rule over `facts`' lists.
    pub fn new(facts: &FactSet) -> NativeRule {
        let every_home = facts.interconnect().iter().map(|visited| (None, *visited));
        let per_home = facts.interconnect_per_home().iter().map(|(home, visited)| (Some(*home), *visited));
        NativeRule {
            path_a: facts
                .path_a_in_force()
                .flat_map(|(network, terms)| terms.access.iter().map(move |kind| (network, kind)))
                .collect(),
            integrity_required: facts
                .path_a_in_force()
                .filter(|(_, terms)| terms.integrity_required)
                .map(|(network, _)| network)
                .collect(),
            path_b: facts.path_b().iter().copied().collect(),
            interconnect: every_home.chain(per_home).collect(),
            server_networks: facts.server_networks().iter().copied().collect(),
        }
    }

    /// `Ok` when the entire path is secure, else the first check that failed: rows P1-P13 of
    /// `docs/method.md`, in order.
    ///
    /// Read from the method (000): the serving network must be known (P1). A stored registration outcome
    /// decides in the protocol-based form (FIG. 7 steps 7-8b, FIGS. 8-9 step 1, claim 2; P2-P5): a
    /// mismatch never trusts the path; an agreement is followed, and a device without access ciphering
    /// holds to application-layer security unless configured to accept none from this server (FIG. 7
    /// step 7). Without one, the configuration-based form (FIGS. 11-13): what the asking node knows of
    /// the access security (P6-P8: "encryption and/or integrity"; a server that was not told takes
    /// List 1 as its statement), List 1 for the device's access kind (P9) and its integrity
    /// requirement (P10), then Lists 2 and 3 (P11-P12; claim 12: per home network) for the second
    /// network: the server's, the device's home unless the facts name another.
    pub fn path(&self, request: &Request) -> Result<(), Reason> {
        let Some(serving) = request.attach.serving else { return Err(Reason::ServingNetworkUnknown) };
        let home = match self.server_networks.get(&request.server) {
            Some(&network) => network,
            None => request.attach.home,
        };
        let device = request.role == Role::Device;
        let by_agreement = match request.registration {
            Registration::Mismatch => Some(Err(Reason::RegistrationMismatch)),
            Registration::Agreed(agreement) => Some(if agreement.application_security {
                Err(Reason::RegistrationRequiresApplicationSecurity)
            } else if device && !request.link.is_some_and(|link| link.ciphering) && !agreement.accept_plain_unciphered {
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
        match request.link {
            None if device => return Err(Reason::AccessNotProtected),
            Some(link) if !link.ciphering && !link.integrity => return Err(Reason::AccessNotProtected),
            Some(link) if device && request.event == Event::ReceiveUnprotected && !link.ciphering => {
                return Err(Reason::AccessCipheringOff);
            }
            _ => {}
        }
        if !self.path_a.contains(&(serving, request.attach.access)) {
            Err(Reason::PathANotTrusted)
        } else if request.link.is_some_and(|link| !link.integrity) && self.integrity_required.contains(&serving) {
            Err(Reason::AccessIntegrityOff)
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
        rule(request, || self.path(&asked(request)))
    }
}

/// The request whose path [`rule`]'s `path` is asked about: `request` itself, or — for a trigger whose
/// access-layer integrity check verified — `request` with integrity known to be on, since the check
/// shows it (000, FIG. 11 step 6: the device then checks Lists 1, 2 and 3; row T3).
pub fn asked(request: &Request) -> Request {
    match request.event {
        Event::ReceiveTrigger(TriggerCheck { access_integrity: AccessIntegrity::Verified, .. }) => {
            let ciphering = request.link.is_some_and(|link| link.ciphering);
            Request { link: Some(LinkState { ciphering, integrity: true }), ..*request }
        }
        _ => *request,
    }
}

/// The method's answer to `request`, given `path`: whether the entire path of [`asked`]`(request)` is
/// secure, else the first check that failed. `path` is asked only when the answer depends on it. Shared
/// with the peer engines of the benches, which evaluate the path check in their own language.
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
