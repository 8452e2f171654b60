//! Deterministic generation of fact sets and requests for differential tests and benches, over a
//! universe of networks chosen to trip identifier bugs: 2- vs 3-digit MNCs with the same digits
//! ("31041" / "310410"), leading zeros ("31070" / "310070"), the test network "00101" / "001001".

use pathsec::{
    AccessIntegrity, AccessKind, Attach, EndToEnd, Event, FactSet, FactSetBuilder, LinkState, PlmnId, Request, Role,
    ServerId, TriggerCheck,
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
/// (home, server) pair in List 2, with the given probability.
pub fn facts(rng: &mut Rng, servers: usize, p: f64) -> (FactSet, Vec<ServerId>) {
    let networks = networks();
    let mut builder = FactSetBuilder::default();
    let ids: Vec<ServerId> =
        (0..servers).map(|i| builder.server(format!("server{i}.example.com").parse().expect("valid FQDN"))).collect();
    for &network in &networks {
        if rng.chance(p) {
            builder.trust_path_a(network);
        }
        if rng.chance(p) {
            builder.trust_interconnect(network);
        }
        for &server in &ids {
            if rng.chance(p) {
                builder.trust_path_b(network, server);
            }
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
        link: LinkState { ciphering: rng.chance(0.85), integrity: rng.chance(0.85) },
    }
}
