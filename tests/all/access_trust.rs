//! Access trust and bootstrap (`pathsec:policy/access-trust`): who exports it, and answers that make
//! no sense fail closed. The reference policy's table is in `tests/cases/reference/access-trust/`.

use pathsec::{
    AccessKind, FactSet, PolicyFault,
    related::{AccessReason, AccessRequest, AvailableKey, Bootstrap, BootstrapMethod},
};
use pathsec_suite::fixtures;

#[test]
fn the_reference_policy_exports_access_trust_and_always_secure_does_not() {
    let facts = FactSet::builder().build();
    let request = AccessRequest {
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
    let request = |keys| AccessRequest { access: AccessKind::Wireline, access_network: None, tunnel_up: false, keys };
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
    builder.trust_access_network("wlan.operator-hotspots");
    let facts = builder.build();
    assert!(facts.trusts_access_network("wlan.operator-hotspots"));
    assert!(!facts.trusts_access_network("WLAN.operator-hotspots"), "compared exactly");
    let mut decider = pathsec_suite::bundled("reference").expect("bundled").decider();
    let request = |network: Option<&str>| AccessRequest {
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
