//! Binding and name updates (`pathsec:policy/binding-update`): who exports them, the host's name
//! checks, and answers that make no sense. The reference policy's tables are in
//! `tests/cases/reference/binding-update/`.

use pathsec::{
    FactSet, PolicyFault,
    related::{LocationOutcome, LocationReason, LocationUpdate, NameOutcome, NameRefusal, NameRequest},
};
use pathsec_suite::fixtures;

fn name_request(name: &str) -> NameRequest {
    NameRequest {
        name: name.parse().expect("valid"),
        operator_domain: "iot.example.com".parse().expect("valid"),
        name_free: true,
        requester: "imsi-310410000000001".into(),
        security_association: true,
    }
}

#[test]
fn a_name_is_under_the_operator_domain_only_label_by_label() {
    for (name, under) in [
        ("meter-7.iot.example.com", true),
        ("a.b.iot.example.com", true),
        ("METER-7.IoT.Example.com.", true),
        ("iot.example.com", false),
        ("evil-iot.example.com", false),
        ("iot.example.com.evil.net", false),
        ("example.com", false),
    ] {
        assert_eq!(name_request(name).under_operator_domain(), under, "{name}");
    }
}

#[test]
fn the_reference_policy_exports_binding_updates_and_always_secure_does_not() {
    let facts = FactSet::builder().build();
    let reference = pathsec_suite::bundled("reference").expect("bundled");
    assert!(pathsec::related::BINDING_UPDATE.exported_by(&reference));
    let mut decider = reference.decider();
    let verdict = decider.decide_name(&facts, &name_request("meter-7.iot.example.com"));
    assert_eq!(
        (verdict.outcome, verdict.fault),
        (NameOutcome::Grant { bound_to: "imsi-310410000000001".into() }, None)
    );

    let strict = pathsec_suite::bundled("always-secure").expect("bundled");
    assert!(!pathsec::related::BINDING_UPDATE.exported_by(&strict));
    let mut decider = strict.decider();
    let location = decider.decide_location(&facts, &LocationUpdate { security_association: true });
    assert_eq!((location.outcome, location.reason), (LocationOutcome::Ignore, LocationReason::PolicyFault));
    let name = decider.decide_name(&facts, &name_request("meter-7.iot.example.com"));
    assert_eq!(name.outcome, NameOutcome::Refuse(NameRefusal::PolicyFault));
    assert!(matches!(name.fault.as_deref(), Some(PolicyFault::NotProvided { .. })), "{name}");
}

#[test]
fn acting_without_a_security_association_or_granting_to_another_fails_closed() {
    let facts = FactSet::builder().build();
    let component =
        fixtures::related_policy(fixtures::TRIGGER_DISCARD, fixtures::ADMIT_ALLOW, fixtures::ACCESS_USE_GBA_PUSH);
    let policy = pathsec_suite::engine().load_policy("reckless", &component).expect("loads");
    let mut decider = policy.decider();
    let protected = decider.decide_location(&facts, &LocationUpdate { security_association: true });
    assert_eq!((protected.outcome, protected.fault), (LocationOutcome::Act, None));
    let unprotected = decider.decide_location(&facts, &LocationUpdate { security_association: false });
    assert_eq!((unprotected.outcome, unprotected.reason), (LocationOutcome::Ignore, LocationReason::PolicyFault));
    assert!(matches!(unprotected.fault.as_deref(), Some(PolicyFault::OutcomeNotAllowed { outcome: "act", .. })));

    // It grants every name to `mallory`: never the requester, so always refused.
    for request in [
        name_request("meter-7.iot.example.com"),
        NameRequest { name_free: false, ..name_request("meter-7.iot.example.com") },
        name_request("evil-iot.example.com"),
        NameRequest { security_association: false, ..name_request("meter-7.iot.example.com") },
    ] {
        let verdict = decider.decide_name(&facts, &request);
        assert_eq!(verdict.outcome, NameOutcome::Refuse(NameRefusal::PolicyFault), "{request:?}");
        assert!(matches!(verdict.fault.as_deref(), Some(PolicyFault::OutcomeNotAllowed { outcome: "grant", .. })));
    }
}
