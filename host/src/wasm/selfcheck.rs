//! The self-check a policy passes before it becomes active: it must load a small probe fact set and
//! the current facts, and answer every event of both roles without a fault.

use std::sync::Arc;

use crate::facts::FactSet;
use crate::vocab::{
    AccessIntegrity, AccessKind, Attach, EndToEnd, Event, Fqdn, LinkState, PlmnId, PolicyFault, Registration, Request,
    Role, TriggerCheck,
};
use crate::wasm::policy::Policy;

/// Runs the self-check; the fault is the first the policy showed.
pub(crate) fn run(policy: &Policy, current: &FactSet) -> Result<(), Arc<PolicyFault>> {
    let mut decider = policy.decider();
    let (probe_facts, probes) = probes();
    decider.prepare(&probe_facts)?;
    for request in &probes {
        if let Some(fault) = decider.decide(&probe_facts, request).fault {
            return Err(fault);
        }
    }
    decider.prepare(current)
}

/// One secure path (at home, every list) and one request per role and event on it, plus one roaming.
pub(crate) fn probes() -> (FactSet, Vec<Request>) {
    let home = PlmnId::TEST_NETWORK;
    let mut builder = FactSet::builder();
    let server = builder.server(Fqdn::known_valid("self-check.pathsec.invalid"));
    builder.trust_path_a(home).trust_path_b(home, server);
    let facts = builder.build();
    let trigger = Event::ReceiveTrigger(TriggerCheck {
        access_integrity: AccessIntegrity::Verified,
        end_to_end: EndToEnd::Absent,
    });
    let events = [Event::SendData, Event::ReceiveUnprotected, Event::ReceiveProtected, trigger, Event::SendTrigger];
    let mut requests = Vec::new();
    for role in Role::ALL.iter().copied() {
        for event in events {
            for serving in [Some(home), None] {
                requests.push(Request {
                    role,
                    event,
                    server,
                    attach: Attach { serving, home, access: AccessKind::ThreeGpp },
                    link: LinkState { ciphering: true, integrity: true },
                    registration: Registration::None,
                });
            }
        }
    }
    (facts, requests)
}
