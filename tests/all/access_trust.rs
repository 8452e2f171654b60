//! Access trust and bootstrap (`pathsec:policy/access-trust`): who exports it, and answers that make
//! no sense fail closed. The reference policy's table is in `tests/cases/reference/access-trust/`.

use pathsec::{
    AccessKind, AccessKinds, Action, Attach, Event, FactSet, PathATerms, PlmnId, PolicyFault, Reason, Registration,
    Request, Role,
    related::{AccessReason, AccessRequest, AvailableKey, Bootstrap, BootstrapMethod},
};
use pathsec_suite::fixtures;

fn plmn(text: &str) -> PlmnId {
    text.parse().expect("valid PLMN-ID")
}

#[test]
fn the_reference_policy_exports_access_trust_and_always_secure_does_not() {
    let facts = FactSet::builder().trust_path_a(plmn("310410")).build();
    let request = AccessRequest {
        serving: Some(plmn("310410")),
        access: AccessKind::ThreeGpp,
        access_network: None,
        tunnel_up: false,
        keys: vec![AvailableKey { method: BootstrapMethod::EapAka, expired: false }],
    };
    let reference = pathsec_suite::bundled("reference").expect("bundled");
    assert!(pathsec::related::ACCESS_TRUST.exported_by(&reference));
    let verdict = reference.decider().decide_access(&facts, &request);
    assert_eq!(
        (verdict.trusted, verdict.reason, verdict.bootstrap),
        (true, AccessReason::ThreeGpp, Bootstrap::NotNeeded)
    );

    let strict = pathsec_suite::bundled("always-secure").expect("bundled");
    assert!(!pathsec::related::ACCESS_TRUST.exported_by(&strict));
    let verdict = strict.decider().decide_access(&facts, &request);
    assert_eq!((verdict.trusted, verdict.bootstrap), (false, Bootstrap::NoneAvailable));
    assert!(matches!(verdict.fault.as_deref(), Some(PolicyFault::NotProvided { .. })), "{verdict}");
    assert!(verdict.to_string().contains("pathsec_policy::export_access_trust!"), "{verdict}");
}

#[test]
fn nonsense_answers_fail_closed() {
    let facts = FactSet::builder().build();
    let engine = pathsec_suite::engine();
    let load = |access| {
        let component = fixtures::related_policy(fixtures::TRIGGER_DISCARD, fixtures::ADMIT_ALLOW, access);
        engine.load_policy("fixture", &component).expect("loads").decider()
    };
    let request = |keys| AccessRequest {
        serving: None,
        access: AccessKind::Wireline,
        access_network: None,
        tunnel_up: false,
        keys,
    };
    let gba = |expired| vec![AvailableKey { method: BootstrapMethod::GbaPush, expired }];

    let mut uses_gba_push = load(fixtures::ACCESS_USE_GBA_PUSH);
    let verdict = uses_gba_push.decide_access(&facts, &request(gba(false)));
    assert_eq!((verdict.bootstrap, verdict.fault), (Bootstrap::Use(BootstrapMethod::GbaPush), None), "it has the key");
    for keys in [gba(true), Vec::new()] {
        let verdict = uses_gba_push.decide_access(&facts, &request(keys));
        assert_eq!((verdict.reason, verdict.bootstrap), (AccessReason::PolicyFault, Bootstrap::NoneAvailable));
        assert!(
            matches!(
                verdict.fault.as_deref(),
                Some(PolicyFault::OutcomeNotAllowed { why: "the method it names has no unexpired key", .. })
            ),
            "{verdict}"
        );
    }

    let mut not_needed = load(fixtures::ACCESS_UNTRUSTED_NOT_NEEDED);
    let verdict = not_needed.decide_access(&facts, &request(gba(false)));
    assert_eq!((verdict.trusted, verdict.bootstrap), (false, Bootstrap::NoneAvailable));
    assert!(
        matches!(verdict.fault.as_deref(), Some(PolicyFault::OutcomeNotAllowed { outcome: "not-needed", .. })),
        "{verdict}"
    );
}

#[test]
fn the_host_checks_the_access_network_against_the_facts() {
    let mut builder = FactSet::builder();
    builder.trust_access_network("wlan.operator-hotspots").trust_path_a_with(
        plmn("20801"),
        PathATerms { access: AccessKinds::of(AccessKind::TrustedNon3gpp), integrity_required: false },
    );
    let facts = builder.build();
    assert!(facts.trusts_access_network("wlan.operator-hotspots"));
    assert!(!facts.trusts_access_network("WLAN.operator-hotspots"), "compared exactly");
    let mut decider = pathsec_suite::bundled("reference").expect("bundled").decider();
    let request = |network: Option<&str>| AccessRequest {
        serving: Some(plmn("20801")),
        access: AccessKind::TrustedNon3gpp,
        access_network: network.map(str::to_owned),
        tunnel_up: false,
        keys: Vec::new(),
    };
    let listed = decider.decide_access(&facts, &request(Some("wlan.operator-hotspots")));
    assert_eq!((listed.trusted, listed.reason), (true, AccessReason::TrustedAccessListed));
    for other in [Some("cafe-wifi"), None] {
        let verdict = decider.decide_access(&facts, &request(other));
        assert_eq!((verdict.trusted, verdict.reason), (false, AccessReason::TrustedAccessNotListed), "{other:?}");
    }
    let next = facts.to_builder().distrust_access_network("wlan.operator-hotspots").build();
    let verdict = decider.decide_access(&next, &request(Some("wlan.operator-hotspots")));
    assert!(!verdict.trusted, "a new generation without it: no longer trusted");
}

/// Access trust and the path decision read one definition of which access kinds a network vouches for
/// (its List 1 entry): for every access kind and every set of terms, access trust says `not-vouched`
/// exactly when the path decision (a server without link facts, everything else listed) says
/// `path-a-not-trusted`.
#[test]
fn access_trust_and_the_path_read_one_list_1() {
    let mut decider = pathsec_suite::bundled("reference").expect("bundled").decider();
    let network = plmn("20801");
    for bits in 0u8..16 {
        let kinds: AccessKinds =
            AccessKind::ALL.iter().copied().filter(|kind| bits & (1 << *kind as u8) != 0).collect();
        let mut builder = FactSet::builder();
        let server = builder.server("mtc.example.com".parse().expect("valid"));
        if !kinds.is_empty() {
            builder.trust_path_a_with(network, PathATerms { access: kinds, integrity_required: false });
        }
        builder.trust_path_b(network, server);
        let facts = builder.build();
        for &access in AccessKind::ALL {
            let request = Request {
                role: Role::Server,
                event: Event::SendData,
                server,
                attach: Attach { serving: Some(network), home: network, access },
                link: None,
                registration: Registration::None,
            };
            let path = decider.decide(&facts, &request);
            let trust = decider.decide_access(
                &facts,
                &AccessRequest {
                    serving: Some(network),
                    access,
                    access_network: Some("wlan".into()),
                    tunnel_up: true,
                    keys: Vec::new(),
                },
            );
            assert_eq!(
                path.reason == Reason::PathANotTrusted,
                trust.reason == AccessReason::NotVouched,
                "{kinds:?} {access}: path {path}, access {trust}"
            );
            assert_eq!(path.action == Action::SendPlain, kinds.contains(access), "{kinds:?} {access}: {path}");
        }
    }
}
