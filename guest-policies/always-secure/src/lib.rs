//! The strict baseline: application-layer security whatever the path.
//!
//! Sends are always secured first, unprotected data is always discarded (and security established so
//! the peer re-sends), protected data is accepted, and a trigger is accepted only on valid end-to-end
//! protection. It ignores the lists, so it is also what an operator runs while no list can be trusted.

wit_bindgen::generate!({ path: "../../wit", world: "path-secure" });

use exports::pathsec::policy::decide::Guest;
use pathsec::policy::types::{AccessIntegrity, Action, Decision, EndToEnd, Event, FactSet, Reason, Request, Role};

fn decide(request: &Request) -> Decision {
    let strict = Reason::PolicyRequiresApplicationSecurity;
    let (action, reason) = match (request.role, request.event) {
        (Role::Device, Event::SendTrigger) => (Action::ProtectTrigger, Reason::EventNotForRole),
        (Role::Server, Event::ReceiveTrigger(_)) => (Action::Discard, Reason::EventNotForRole),
        (Role::Server, Event::SendTrigger) => (Action::ProtectTrigger, strict),
        (_, Event::SendData) => (Action::SecureThenSend, strict),
        (_, Event::ReceiveUnprotected) => (Action::DiscardAndSecure, strict),
        (_, Event::ReceiveProtected) => (Action::Accept, Reason::ApplicationLayerProtected),
        (Role::Device, Event::ReceiveTrigger(check)) => match (check.access_integrity, check.end_to_end) {
            (AccessIntegrity::Failed, _) => (Action::Discard, Reason::TriggerIntegrityFailed),
            (_, EndToEnd::Valid) => (Action::Accept, Reason::TriggerEndToEndValid),
            (_, EndToEnd::Invalid) => (Action::Discard, Reason::TriggerEndToEndInvalid),
            (_, EndToEnd::Absent) => (Action::Discard, strict),
        },
    };
    Decision { action, reason }
}

struct AlwaysSecure;

impl Guest for AlwaysSecure {
    fn load(_facts: FactSet) -> Result<(), String> {
        Ok(())
    }

    fn decide(request: Request) -> Decision {
        decide(&request)
    }

    fn decide_batch(requests: Vec<Request>) -> Vec<Decision> {
        requests.iter().map(decide).collect()
    }
}

export!(AlwaysSecure);
