//! The self-check a policy passes before it becomes active: it must load a small probe fact set and
//! the current facts, and answer every event of both roles without a fault — and alike through each
//! of its exports (`decide`, the scalar `decide-one`, the packed batch), since the host picks the
//! export by the call.

use std::sync::Arc;

use crate::facts::{FactSet, PathATerms};
use crate::vocab::{
    AccessIntegrity, AccessKind, Agreement, Attach, EndToEnd, Event, Fqdn, LinkState, PlmnId, PolicyFault,
    Registration, RegistrationSource, Request, Role, TriggerCheck,
};
use crate::wasm::policy::Policy;

/// Runs the self-check; the fault is the first the policy showed.
pub(crate) fn run(policy: &Policy, current: &FactSet) -> Result<(), Arc<PolicyFault>> {
    let mut decider = policy.decider();
    let (probe_facts, probes) = probes();
    decider.prepare(&probe_facts)?;
    let batch = decider.decide_batch(&probe_facts, &probes);
    let batch_export = if policy.has_packed_batch() { "decide-packed" } else { "decide-batch" };
    let single_export = if policy.has_scalar_decision() { "decide-one" } else { "decide" };
    for (request, batched) in probes.iter().zip(batch) {
        let record = decider.decide_record(&probe_facts, request);
        if let Some(fault) = record.fault {
            return Err(fault);
        }
        let one = decider.decide(&probe_facts, request);
        for (export, answer) in [(single_export, one), (batch_export, batched)] {
            if let Some(fault) = answer.fault {
                return Err(fault);
            }
            if !answer.same_outcome(&record) {
                return Err(Arc::new(PolicyFault::ExportsDisagree {
                    export,
                    request: format!("{request:?}"),
                    record: format!("{} / {}", record.action, record.reason),
                    packed: format!("{} / {}", answer.action, answer.reason),
                }));
            }
        }
    }
    decider.prepare(current)
}

/// One secure path (at home, every list) and one request per role and event on it, with the serving
/// network known and unknown; then, for each role and a sent message, a sent trigger and a received
/// one, the same path with each step of the method failing in turn (roaming in an unlisted network,
/// wireline access, ciphering off, integrity off (which the probe network's List 1 entry asks for),
/// both off, the link state unknown, a registration mismatch, agreements with and without
/// application-layer security) — so that exports deciding otherwise than `decide` show here.
pub(crate) fn probes() -> (FactSet, Vec<Request>) {
    let home = PlmnId::TEST_NETWORK;
    let mut builder = FactSet::builder();
    let server = builder.server(Fqdn::known_valid("self-check.pathsec.invalid"));
    builder.trust_path_a_with(home, PathATerms::DEFAULT.requiring_integrity()).trust_path_b(home, server);
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
                    link: Some(LinkState::ON),
                    registration: Registration::None,
                });
            }
        }
    }
    let secure = requests[0];
    let unlisted = PlmnId::new(999, 99, 2).expect("a valid PLMN-ID");
    let agreed = |application_security| {
        Registration::Agreed(Agreement {
            source: RegistrationSource::DeviceReport,
            application_security,
            accept_plain_unciphered: false,
        })
    };
    let off = Some(LinkState { ciphering: false, integrity: true });
    let variations = [
        Request { attach: Attach { serving: Some(unlisted), ..secure.attach }, ..secure },
        Request { attach: Attach { access: AccessKind::Wireline, ..secure.attach }, ..secure },
        Request { link: off, ..secure },
        Request { link: Some(LinkState { ciphering: true, integrity: false }), ..secure },
        Request { link: Some(LinkState::OFF), ..secure },
        Request { link: None, ..secure },
        Request { registration: Registration::Mismatch, ..secure },
        Request { registration: agreed(true), ..secure },
        Request { registration: agreed(false), link: off, ..secure },
    ];
    let received = |access_integrity, end_to_end| Event::ReceiveTrigger(TriggerCheck { access_integrity, end_to_end });
    for variation in variations {
        for role in Role::ALL.iter().copied() {
            for event in [
                Event::SendData,
                Event::ReceiveUnprotected,
                Event::SendTrigger,
                received(AccessIntegrity::Verified, EndToEnd::Valid),
                received(AccessIntegrity::Absent, EndToEnd::Absent),
            ] {
                requests.push(Request { role, event, ..variation });
            }
        }
    }
    (facts, requests)
}
