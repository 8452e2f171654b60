//! Deterministic generation of fact sets and requests for differential tests and benches, over a
//! universe of networks chosen to trip identifier bugs: 2- vs 3-digit MNCs with the same digits
//! ("31041" / "310410"), leading zeros ("31070" / "310070"), the test network "00101" / "001001".

use pathsec::{
    AccessKind, AccessKinds, Attach, Event, FactSet, FactSetBuilder, LinkState, PathATerms, PlmnId, Registration,
    Request, Role, ServerId,
    vocab::{AccessIntegrity, EndToEnd, TriggerCheck},
    vocab::{Agreement, RegistrationSource},
};

/// The networks the generator draws from.
pub const NETWORKS: &[&str] =
    &["310410", "31041", "310070", "31070", "00101", "001001", "20801", "208010", "26202", "44010", "310260"];

/// A small, fast, deterministic generator (SplitMix64).
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }

    /// One of `items`.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

/// Every network of [`NETWORKS`], parsed.
pub fn networks() -> Vec<PlmnId> {
    NETWORKS.iter().map(|text| text.parse().expect("NETWORKS are valid")).collect()
}

/// Random facts over [`NETWORKS`] and `servers` servers: each network is in List 1 and List 3, and each
/// (home, server) pair in List 2, with the given probability. A List 1 entry vouches for 3GPP alone
/// half the time, else for random access kinds, and asks for integrity a quarter of the time; the
/// operator asks for it on every entry one time in eight.
pub fn facts(rng: &mut Rng, servers: usize, p: f64) -> (FactSet, Vec<ServerId>) {
    let networks = networks();
    let mut builder = FactSetBuilder::default();
    let ids: Vec<ServerId> =
        (0..servers).map(|i| builder.server(format!("server{i}.example.com").parse().expect("valid FQDN"))).collect();
    builder.require_integrity(rng.chance(0.125));
    for &network in &networks {
        if rng.chance(p) {
            let access = match rng.chance(0.5) {
                true => AccessKinds::THREE_GPP,
                false => AccessKind::ALL.iter().copied().filter(|_| rng.chance(0.5)).collect(),
            };
            let access = if access.is_empty() { AccessKinds::of(AccessKind::Wireline) } else { access };
            builder.trust_path_a_with(network, PathATerms { access, integrity_required: rng.chance(0.25) });
        }
        if rng.chance(p) {
            builder.trust_interconnect(network);
        }
        if rng.chance(p) {
            builder.trust_interconnect_for(rng.pick(&networks), network);
        }
        for &server in &ids {
            if rng.chance(p) {
                builder.trust_path_b(network, server);
            }
        }
    }
    // Some servers are attached to a network other than the device's home (000, path B).
    for &server in &ids {
        if rng.chance(0.25) {
            builder.attach_server(server, rng.pick(&networks));
        }
    }
    (builder.build(), ids)
}

/// A random request naming one of `servers` (or an unknown handle's worth of server: any of them).
pub fn request(rng: &mut Rng, networks: &[PlmnId], servers: &[ServerId]) -> Request {
    let home = rng.pick(networks);
    let serving = match rng.below(4) {
        0 => None,
        1 => Some(home),
        _ => Some(rng.pick(networks)),
    };
    let event = match rng.below(5) {
        0 => Event::SendData,
        1 => Event::ReceiveUnprotected,
        2 => Event::ReceiveProtected,
        3 => Event::ReceiveTrigger(TriggerCheck {
            access_integrity: rng.pick(AccessIntegrity::ALL),
            end_to_end: rng.pick(EndToEnd::ALL),
        }),
        _ => Event::SendTrigger,
    };
    Request {
        role: rng.pick(Role::ALL),
        event,
        server: rng.pick(servers),
        attach: Attach { serving, home, access: rng.pick(AccessKind::ALL) },
        // A server is often not told the device's access security (000, FIG. 12 step 6).
        link: (!rng.chance(0.2)).then(|| LinkState { ciphering: rng.chance(0.85), integrity: rng.chance(0.85) }),
        registration: match rng.below(10) {
            0 => Registration::Mismatch,
            1..=3 => Registration::Agreed(Agreement {
                source: rng.pick(RegistrationSource::ALL),
                application_security: rng.chance(0.3),
                accept_plain_unciphered: rng.chance(0.5),
            }),
            _ => Registration::None,
        },
    }
}

/// Operator-sized facts: `path_a` networks in List 1, `path_b` (home, server) pairs in List 2 over
/// `servers` servers, `interconnect` networks in List 3 — and `requests` requests over them, about half
/// of which find a secure path.
pub fn sized(
    rng: &mut Rng,
    path_a: usize,
    path_b: usize,
    interconnect: usize,
    servers: usize,
    requests: usize,
) -> (FactSet, Vec<Request>) {
    let network = |i: usize| {
        // Distinct networks for i < 160,000: 200 per MCC, 2- and 3-digit MNCs alternating.
        let (mcc, j) = (200 + (i / 200) % 800, i % 200);
        if j.is_multiple_of(2) {
            PlmnId::new(mcc as u16, (j / 2) as u16, 2)
        } else {
            PlmnId::new(mcc as u16, (j / 2) as u16 + 100, 3)
        }
        .expect("in range")
    };
    assert!(path_a + 1000 <= 160_000, "sized: at most 159,000 networks in List 1");
    let mut builder = FactSetBuilder::default();
    let ids: Vec<ServerId> =
        (0..servers).map(|i| builder.server(format!("mtc{i}.example.net").parse().expect("valid FQDN"))).collect();
    let visited: Vec<PlmnId> = (0..path_a).map(network).collect();
    for &n in &visited {
        builder.trust_path_a(n);
    }
    for &n in visited.iter().take(interconnect) {
        builder.trust_interconnect(n);
    }
    let homes: Vec<PlmnId> = visited.iter().copied().take((path_b / servers.max(1)).max(1)).collect();
    let mut pairs = Vec::with_capacity(path_b);
    for i in 0..path_b {
        let pair = (homes[i % homes.len()], ids[(i / homes.len()) % ids.len()]);
        builder.trust_path_b(pair.0, pair.1);
        pairs.push(pair);
    }
    let facts = builder.build();
    let requests = (0..requests)
        .map(|_| {
            let (home, server) = if pairs.is_empty() { (network(0), ids[0]) } else { rng.pick(&pairs) };
            let serving = match rng.below(4) {
                0 => Some(home),
                1 => Some(visited[rng.below(interconnect.max(1)).min(visited.len() - 1)]),
                2 => Some(network(path_a + rng.below(1000))),
                _ => Some(rng.pick(&visited)),
            };
            Request {
                role: Role::Server,
                event: if rng.chance(0.5) { Event::SendData } else { Event::ReceiveUnprotected },
                server,
                attach: Attach { serving, home, access: AccessKind::ThreeGpp },
                link: Some(LinkState { ciphering: rng.chance(0.95), integrity: rng.chance(0.95) }),
                registration: Registration::None,
            }
        })
        .collect();
    (facts, requests)
}

/// A runtime holding operator-sized facts (as [`sized`]) and one device per request, attached and linked
/// as the request says; returns it with one flow per request (device `i` makes request `i`).
pub fn sized_runtime(
    policy: pathsec::Policy,
    flow_cache_capacity: usize,
    facts: &FactSet,
    requests: &[Request],
) -> (pathsec::Runtime, Vec<pathsec::Flow>) {
    let runtime = pathsec::Runtime::builder(policy)
        .lists(facts.to_builder().build())
        .flow_cache_capacity(flow_cache_capacity)
        .build()
        .expect("runtime");
    let flows = devices_for(&runtime, requests);
    (runtime, flows)
}

/// One device per request in `runtime` (named `device-<i>`) with the request's attach and link facts,
/// and the request's flow for each.
pub fn devices_for(runtime: &pathsec::Runtime, requests: &[Request]) -> Vec<pathsec::Flow> {
    requests
        .iter()
        .enumerate()
        .map(|(i, request)| {
            let device = runtime.device_id(&format!("device-{i}")).expect("room for devices");
            runtime.set_attach(device, request.attach).expect("known");
            if let Some(link) = request.link {
                runtime.set_link(device, link).expect("known");
            }
            pathsec::Flow { device, server: request.server, role: request.role, event: request.event }
        })
        .collect()
}
