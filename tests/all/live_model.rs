//! Model-based differential test of the per-packet path: random fact changes, registrations (the server
//! side of the exchange), list edits, swaps and decisions (single and batched). The test keeps its own
//! model of every fact and of each stored registration outcome with what it rests on; each decision the
//! cached worker makes must equal the native rule's on the model's current facts.

use std::collections::HashMap;

use pathsec::{
    AccessKind, Action, Attach, DeviceId, Flow, LinkState, PathATerms, PlmnId, Reason, Registration, Request, Runtime,
    ServerId,
    exchange::Report,
    runtime::Carried,
    vocab::{Agreement, RegistrationSource},
};
use pathsec_suite::generate::{self, Rng};
use pathsec_suite::native::NativeRule;

#[derive(Default, Clone)]
struct DeviceModel {
    name: String,
    attach: Option<Attach>,
    link: Option<LinkState>,
    agreements: HashMap<ServerId, Held>,
}

/// A stored outcome as the model keeps it: what it is, the facts and List entries it rests on, and
/// whether a re-registration is due.
#[derive(Clone, Copy)]
struct Held {
    outcome: Registration,
    attach: Attach,
    link: LinkState,
    lists: Option<ListsUsed>,
    pending: bool,
}

/// The serving network's List 1 entry in force, and whether the List 2 pair and List 3 entry were there.
type ListsUsed = (Option<PathATerms>, [bool; 2]);

fn list_use(runtime: &Runtime, attach: &Attach, server: ServerId) -> ListsUsed {
    let lists = runtime.lists();
    let serving = attach.serving.expect("registered devices report a serving network");
    let path_a = lists.path_a_in_force().find(|(network, _)| *network == serving).map(|(_, terms)| terms);
    (
        path_a,
        [
            lists.path_b().contains(&(attach.home, server)),
            lists.interconnect().contains(&serving) || lists.interconnect_per_home().contains(&(attach.home, serving)),
        ],
    )
}

struct Model {
    devices: Vec<(DeviceId, DeviceModel)>,
    servers: Vec<ServerId>,
    networks: Vec<PlmnId>,
}

impl Model {
    fn expected(&self, runtime: &Runtime, flow: &Flow) -> (Action, Reason) {
        let (_, device) = self.devices.iter().find(|(id, _)| *id == flow.device).expect("device in model");
        let (attach, link, registration) = match device.agreements.get(&flow.server) {
            Some(held) if held.pending => {
                return (Action::fail_closed(flow.event.kind()), Reason::RegistrationPending);
            }
            Some(held) => (held.attach, Some(held.link), held.outcome),
            None => {
                let Some(attach) = device.attach else {
                    return (Action::fail_closed(flow.event.kind()), Reason::AttachUnknown);
                };
                (attach, device.link, Registration::None)
            }
        };
        let request = Request { role: flow.role, event: flow.event, server: flow.server, attach, link, registration };
        NativeRule::new(&runtime.lists()).decide(&request)
    }

    /// A device's new facts: outcomes resting on others are pending.
    fn facts_changed(device: &mut DeviceModel) {
        for held in device.agreements.values_mut() {
            // Attach facts are only ever set here, so none known means none ever were.
            let moved = device.attach.is_some_and(|attach| attach != held.attach);
            let relinked = device.link.is_some_and(|link| link != held.link);
            held.pending |= moved || relinked;
        }
    }

    /// New lists: agreements whose List entries changed are pending.
    fn lists_changed(&mut self, runtime: &Runtime) {
        for (_, device) in &mut self.devices {
            for (server, held) in device.agreements.iter_mut() {
                if let Some(used) = held.lists {
                    held.pending |= list_use(runtime, &held.attach, *server) != used;
                }
            }
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
        .map(|i| {
            let name = format!("device-{i}");
            let id = runtime.device_id(&name).expect("room for devices");
            (id, DeviceModel { name, ..DeviceModel::default() })
        })
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
                device.attach = Some(attach);
                Model::facts_changed(device);
                changes += 1;
            }
            3..=4 => {
                let index = rng.below(model.devices.len());
                let link = LinkState { ciphering: rng.chance(0.8), integrity: rng.chance(0.8) };
                let (id, device) = &mut model.devices[index];
                runtime.set_link(*id, link).expect("known");
                device.link = Some(link);
                Model::facts_changed(device);
                changes += 1;
            }
            5 => {
                let network = rng.pick(&model.networks);
                let server = rng.pick(&model.servers);
                let which = rng.below(3);
                // A listed network's terms change too (an agreement resting on them is voided).
                let terms = match rng.below(3) {
                    0 => PathATerms::DEFAULT,
                    1 => PathATerms::access(AccessKind::ALL.iter().copied().collect()),
                    _ => PathATerms::DEFAULT.requiring_integrity(),
                };
                runtime.update_lists(|lists| match which {
                    0 if rng.chance(0.5) => drop(lists.trust_path_a_with(network, terms)),
                    0 => drop(lists.distrust_path_a(network)),
                    1 if rng.chance(0.5) => drop(lists.trust_path_b(network, server)),
                    1 => drop(lists.distrust_path_b(network, server)),
                    _ if rng.chance(0.5) => drop(lists.trust_interconnect(network)),
                    _ => drop(lists.distrust_interconnect(network)),
                });
                model.lists_changed(&runtime);
                changes += 1;
            }
            6 => {
                let index = rng.below(model.devices.len());
                let server = rng.pick(&model.servers);
                let (_, device) = &mut model.devices[index];
                let honest = rng.chance(0.5);
                let report = match (honest, device.attach, device.link) {
                    (true, Some(attach @ Attach { serving: Some(serving), .. }), link) => Report {
                        device: device.name.clone(),
                        server: runtime.lists().server(server).expect("named").clone(),
                        home: attach.home,
                        serving,
                        access: attach.access,
                        link: link.unwrap_or(LinkState { ciphering: true, integrity: true }),
                        options: Vec::new(),
                        lists: None,
                        sequence: 1,
                    },
                    _ => Report {
                        device: device.name.clone(),
                        server: runtime.lists().server(server).expect("named").clone(),
                        home: rng.pick(&model.networks[..4]),
                        serving: rng.pick(&model.networks),
                        access: rng.pick(AccessKind::ALL),
                        link: LinkState { ciphering: rng.chance(0.8), integrity: rng.chance(0.8) },
                        options: Vec::new(),
                        lists: None,
                        sequence: 1,
                    },
                };
                let reported = Attach { serving: Some(report.serving), home: report.home, access: report.access };
                // The network's view when the runtime has one (a known serving network), else the report.
                let held = match device.attach.filter(|attach| attach.serving.is_some()) {
                    Some(view) => {
                        let link = device.link.unwrap_or(report.link);
                        let agrees = view == reported && device.link.is_none_or(|known| known == report.link);
                        Held { outcome: Registration::Mismatch, attach: view, link, lists: None, pending: false }
                            .decided(agrees, &runtime, server, RegistrationSource::NetworkView)
                    }
                    None => Held {
                        outcome: Registration::Mismatch,
                        attach: reported,
                        link: report.link,
                        lists: None,
                        pending: false,
                    }
                    .decided(true, &runtime, server, RegistrationSource::DeviceReport),
                };
                let indication = single.register(&report, Carried::Protected).expect("protected and known");
                let agreed = matches!(held.outcome, Registration::Agreed(a) if !a.application_security);
                assert_eq!(indication.application_security, !agreed, "{report:?}");
                device.agreements.insert(server, held);
                changes += 1;
            }
            7 if rng.chance(0.2) => {
                // A swap voids nothing: agreements rest on facts, not on the policy.
                runtime.swap(reference.clone()).expect("passes");
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

impl Held {
    /// The outcome the server stores: a mismatch unless the report `agrees` with the view; else the
    /// native rule's path decision, as for data the server sends, resting on the List entries used.
    fn decided(self, agrees: bool, runtime: &Runtime, server: ServerId, source: RegistrationSource) -> Held {
        if !agrees {
            return self;
        }
        let request = Request {
            role: pathsec::Role::Server,
            event: pathsec::Event::SendData,
            server,
            attach: self.attach,
            link: Some(self.link),
            registration: Registration::None,
        };
        let (action, _) = NativeRule::new(&runtime.lists()).decide(&request);
        let agreement =
            Agreement { source, application_security: action != Action::SendPlain, accept_plain_unciphered: false };
        Held { outcome: Registration::Agreed(agreement), lists: Some(list_use(runtime, &self.attach, server)), ..self }
    }
}
