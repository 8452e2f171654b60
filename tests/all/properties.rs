//! Properties over arbitrary facts (proptest, shrinking to the smallest counterexample): the
//! reference policy decides exactly as the rule of `docs/method.md`, one request at a time and in a packed
//! batch. Networks are drawn so that look-alikes meet: MNCs of 2 and 3 digits with the same value
//! ("31041" and "310410"), and leading zeros ("070" and "70").

use pathsec::{
    AccessKind, Attach, Event, FactSet, LinkState, PlmnId, Registration, Request, Role, ServerId,
    vocab::{AccessIntegrity, Agreement, EndToEnd, RegistrationSource, TriggerCheck},
};
use pathsec_suite::method;
use proptest::prelude::*;
use proptest::sample::select;

/// A PLMN-ID; about half the time one of a few look-alike pairs, so lists and requests meet often.
fn plmn() -> impl Strategy<Value = PlmnId> {
    let look_alikes = select(vec!["31041", "310410", "00170", "001070", "20801", "208001", "99999", "999999"])
        .prop_map(|text| text.parse().expect("valid"));
    let any = (0u16..1000, prop_oneof![Just(2u8), Just(3u8)], 0u16..1000).prop_map(|(mcc, digits, mnc)| {
        let mnc = if digits == 2 { mnc % 100 } else { mnc };
        PlmnId::new(mcc, mnc, digits).expect("in range")
    });
    prop_oneof![look_alikes, any]
}

/// Lists over up to 8 networks and 3 servers, and the pool of networks requests are drawn from.
#[derive(Debug, Clone)]
struct World {
    networks: Vec<PlmnId>,
    path_a: Vec<usize>,
    path_b: Vec<(usize, usize)>,
    interconnect: Vec<usize>,
    /// List 3 per home network: (home, visited).
    interconnect_per_home: Vec<(usize, usize)>,
    /// Servers attached to a network other than the device's home: (server, network).
    server_networks: Vec<(usize, usize)>,
}

fn world() -> impl Strategy<Value = World> {
    prop::collection::vec(plmn(), 1..8).prop_flat_map(|networks| {
        let n = networks.len();
        (
            Just(networks),
            prop::collection::vec(0..n, 0..n + 1),
            prop::collection::vec((0..n, 0..3usize), 0..3 * n + 1),
            prop::collection::vec(0..n, 0..n + 1),
            prop::collection::vec((0..n, 0..n), 0..n + 1),
            prop::collection::vec((0..3usize, 0..n), 0..3),
        )
            .prop_map(|(networks, path_a, path_b, interconnect, interconnect_per_home, server_networks)| {
                World { networks, path_a, path_b, interconnect, interconnect_per_home, server_networks }
            })
    })
}

impl World {
    fn facts(&self) -> (FactSet, Vec<ServerId>) {
        let mut builder = FactSet::builder();
        let servers: Vec<ServerId> = ["mtc.example.com", "MTC.example.com.", "other.example.net"]
            .iter()
            .map(|name| builder.server(name.parse().expect("valid")))
            .collect();
        for &i in &self.path_a {
            builder.trust_path_a(self.networks[i]);
        }
        for &(i, server) in &self.path_b {
            builder.trust_path_b(self.networks[i], servers[server]);
        }
        for &i in &self.interconnect {
            builder.trust_interconnect(self.networks[i]);
        }
        for &(home, visited) in &self.interconnect_per_home {
            builder.trust_interconnect_for(self.networks[home], self.networks[visited]);
        }
        for &(server, network) in &self.server_networks {
            builder.attach_server(servers[server], self.networks[network]);
        }
        (builder.build(), servers)
    }
}

fn event() -> impl Strategy<Value = Event> {
    let check = (select(AccessIntegrity::ALL), select(EndToEnd::ALL)).prop_map(|(access_integrity, end_to_end)| {
        Event::ReceiveTrigger(TriggerCheck { access_integrity, end_to_end })
    });
    prop_oneof![
        Just(Event::SendData),
        Just(Event::ReceiveUnprotected),
        Just(Event::ReceiveProtected),
        Just(Event::SendTrigger),
        check,
    ]
}

/// A request's parts: indices into the world's networks and servers, and the rest as drawn.
#[derive(Debug, Clone)]
struct Drawn {
    home: usize,
    serving: Option<usize>,
    server: usize,
    role: Role,
    event: Event,
    access: AccessKind,
    link: Option<LinkState>,
    registration: Registration,
}

fn drawn(networks: usize) -> impl Strategy<Value = Drawn> {
    (
        (0..networks, prop::option::weighted(0.9, 0..networks), 0..3usize),
        select(Role::ALL),
        event(),
        select(AccessKind::ALL),
        prop::option::weighted(0.8, any::<(bool, bool)>()),
        select(vec![
            Registration::None,
            Registration::Mismatch,
            Registration::Agreed(Agreement {
                source: RegistrationSource::NetworkView,
                application_security: false,
                accept_plain_unciphered: false,
            }),
            Registration::Agreed(Agreement {
                source: RegistrationSource::ServerIndication,
                application_security: false,
                accept_plain_unciphered: true,
            }),
            Registration::Agreed(Agreement {
                source: RegistrationSource::DeviceReport,
                application_security: true,
                accept_plain_unciphered: false,
            }),
        ]),
    )
        .prop_map(|((home, serving, server), role, event, access, link, registration)| Drawn {
            home,
            serving,
            server,
            role,
            event,
            access,
            link: link.map(|(ciphering, integrity)| LinkState { ciphering, integrity }),
            registration,
        })
}

impl Drawn {
    fn request(&self, world: &World, servers: &[ServerId]) -> Request {
        Request {
            role: self.role,
            event: self.event,
            server: servers[self.server],
            attach: Attach {
                serving: self.serving.map(|i| world.networks[i]),
                home: world.networks[self.home],
                access: self.access,
            },
            link: self.link,
            registration: self.registration,
        }
    }
}

fn case() -> impl Strategy<Value = (World, Vec<Drawn>)> {
    world().prop_flat_map(|world| {
        let n = world.networks.len();
        (Just(world), prop::collection::vec(drawn(n), 1..64))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn reference_policy_agrees_with_the_method_table_on_arbitrary_facts((world, drawn) in case()) {
        let (facts, servers) = world.facts();
        let requests: Vec<Request> = drawn.iter().map(|drawn| drawn.request(&world, &servers)).collect();
        let mut decider = pathsec_suite::bundled("reference").expect("bundled").decider();
        for request in &requests {
            let decision = decider.decide(&facts, request);
            prop_assert!(decision.fault.is_none(), "{decision}");
            prop_assert_eq!((decision.action, decision.reason), method::expected(&facts, request), "{:?}", request);
        }
        let batch = decider.decide_batch(&facts, &requests);
        for (request, decision) in requests.iter().zip(&batch) {
            prop_assert_eq!((decision.action, decision.reason), method::expected(&facts, request), "batch: {:?}", request);
        }
    }
}
