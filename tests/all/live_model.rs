//! Model-based differential test of the per-packet path: random fact changes, registrations, swaps and
//! decisions (single and batched). The test keeps its own model of every fact; each decision the cached
//! worker makes must equal the native rule's on the model's current facts.

use std::collections::HashMap;

use pathsec::{
    AccessKind, Action, Attach, DeviceId, Flow, LinkState, PlmnId, Reason, Registration, Request, Runtime, ServerId,
    runtime::RegistrationReport,
};
use pathsec_suite::generate::{self, Rng};
use pathsec_suite::native::NativeRule;

#[derive(Default, Clone)]
struct DeviceModel {
    attach: Option<Attach>,
    link: Option<LinkState>,
    agreements: HashMap<ServerId, Registration>,
}

struct Model {
    devices: Vec<(DeviceId, DeviceModel)>,
    servers: Vec<ServerId>,
    networks: Vec<PlmnId>,
}

impl Model {
    fn expected(&self, runtime: &Runtime, flow: &Flow) -> (Action, Reason) {
        let (_, device) = self.devices.iter().find(|(id, _)| *id == flow.device).expect("device in model");
        let Some(attach) = device.attach else {
            return (Action::fail_closed(flow.event.kind()), Reason::AttachUnknown);
        };
        let request = Request {
            role: flow.role,
            event: flow.event,
            server: flow.server,
            attach,
            link: device.link.unwrap_or(LinkState { ciphering: false, integrity: false }),
            registration: device.agreements.get(&flow.server).copied().unwrap_or(Registration::None),
        };
        NativeRule::new(&runtime.lists()).decide(&request)
    }

    fn void_all_agreements(&mut self) {
        for (_, device) in &mut self.devices {
            device.agreements.clear();
        }
    }
}

fn random_flow(rng: &mut Rng, model: &Model) -> Flow {
    let request = generate::request(rng, &model.networks, &model.servers);
    Flow {
        device: model.devices[rng.below(model.devices.len())].0,
        server: request.server,
        role: request.role,
        event: request.event,
    }
}

#[test]
fn cached_decisions_equal_the_native_rule_on_the_current_facts() {
    let reference = pathsec_suite::bundled("reference").expect("bundled");
    let runtime = Runtime::new(reference.clone()).expect("runtime");
    let mut rng = Rng::new(2026);
    let networks = generate::networks();
    let servers: Vec<ServerId> =
        (0..3).map(|i| runtime.server_id(&format!("s{i}.example.com").parse().expect("valid"))).collect();
    let devices = (0..6)
        .map(|i| (runtime.device_id(&format!("device-{i}")).expect("room for devices"), DeviceModel::default()))
        .collect();
    let mut model = Model { devices, servers, networks };
    // Traffic repeats: most decisions come from a pool of flows, so the cache gets hits to lose.
    let pool: Vec<Flow> = (0..30).map(|_| random_flow(&mut rng, &model)).collect();
    let next_flow =
        |rng: &mut Rng, model: &Model| if rng.chance(0.85) { rng.pick(&pool) } else { random_flow(rng, model) };
    let mut single = runtime.worker();
    let mut batched = runtime.worker();
    let (mut decisions, mut changes) = (0usize, 0usize);

    for _step in 0..3_000 {
        match rng.below(20) {
            0..=2 => {
                let index = rng.below(model.devices.len());
                let serving = if rng.chance(0.15) { None } else { Some(rng.pick(&model.networks)) };
                let attach =
                    Attach { serving, home: rng.pick(&model.networks[..4]), access: rng.pick(AccessKind::ALL) };
                let (id, device) = &mut model.devices[index];
                runtime.set_attach(*id, attach).expect("known");
                if device.attach != Some(attach) {
                    device.agreements.clear();
                }
                device.attach = Some(attach);
                changes += 1;
            }
            3..=4 => {
                let index = rng.below(model.devices.len());
                let link = LinkState { ciphering: rng.chance(0.8), integrity: rng.chance(0.8) };
                let (id, device) = &mut model.devices[index];
                runtime.set_link(*id, link).expect("known");
                if device.link != Some(link) {
                    device.agreements.clear();
                }
                device.link = Some(link);
                changes += 1;
            }
            5 => {
                let network = rng.pick(&model.networks);
                let server = rng.pick(&model.servers);
                let which = rng.below(3);
                runtime.update_lists(|lists| match which {
                    0 if rng.chance(0.5) => drop(lists.trust_path_a(network)),
                    0 => drop(lists.distrust_path_a(network)),
                    1 if rng.chance(0.5) => drop(lists.trust_path_b(network, server)),
                    1 => drop(lists.distrust_path_b(network, server)),
                    _ if rng.chance(0.5) => drop(lists.trust_interconnect(network)),
                    _ => drop(lists.distrust_interconnect(network)),
                });
                model.void_all_agreements();
                changes += 1;
            }
            6 => {
                let index = rng.below(model.devices.len());
                let server = rng.pick(&model.servers);
                let (id, device) = &mut model.devices[index];
                let honest =
                    rng.chance(0.5) && device.attach.is_some_and(|a| a.serving.is_some()) && device.link.is_some();
                let report = match (honest, device.attach, device.link) {
                    (true, Some(attach), Some(link)) => RegistrationReport { serving: attach.serving, link },
                    _ => RegistrationReport {
                        serving: Some(rng.pick(&model.networks)),
                        link: LinkState { ciphering: true, integrity: true },
                    },
                };
                let matches = device.attach.is_some_and(|a| a.serving == report.serving)
                    && report.serving.is_some()
                    && device.link == Some(report.link);
                let outcome = runtime.record_registration(*id, server, report).expect("known");
                assert_eq!(outcome, if matches { Registration::Agreed } else { Registration::Mismatch });
                device.agreements.insert(server, outcome);
                changes += 1;
            }
            7 if rng.chance(0.2) => {
                runtime.swap(reference.clone()).expect("passes");
                model.void_all_agreements();
                changes += 1;
            }
            8 => {
                let flows: Vec<Flow> = (0..rng.below(40) + 1).map(|_| next_flow(&mut rng, &model)).collect();
                for (flow, decision) in flows.iter().zip(batched.decide_batch(&flows)) {
                    assert!(decision.fault.is_none(), "{decision}");
                    assert_eq!((decision.action, decision.reason), model.expected(&runtime, flow), "batched {flow:?}");
                    decisions += 1;
                }
            }
            _ => {
                for _ in 0..8 {
                    let flow = next_flow(&mut rng, &model);
                    let decision = single.decide(&flow);
                    assert!(decision.fault.is_none(), "{decision}");
                    assert_eq!((decision.action, decision.reason), model.expected(&runtime, &flow), "{flow:?}");
                    decisions += 1;
                }
            }
        }
    }
    let stats = single.stats();
    assert!(decisions > 10_000 && changes > 500, "{decisions} decisions, {changes} changes");
    assert!(stats.hits > stats.misses, "the cache is exercised: {stats:?}");
    assert!(stats.misses > 1_000, "and so is invalidation: {stats:?}");
}
