//! Binding and name updates (`pathsec:policy/binding-update`): who exports them, the host's name
//! checks, and answers that make no sense. The reference policy's tables are in
//! `tests/cases/reference/binding-update/`.

use pathsec::{
    FactSet, PolicyFault,
    related::{LocationOutcome, LocationReason, LocationUpdate, NameOutcome, NameRefusal, NameRequest},
};

const COVERED: LocationUpdate = LocationUpdate { security_association: true, covers_home_address: true };
use pathsec_suite::fixtures;

fn name_request(name: &str) -> NameRequest {
    NameRequest {
        name: Some(name.parse().expect("valid")),
        operator_domain: "iot.example.com".parse().expect("valid"),
        name_free: true,
        requester: "imsi-310410000000001".into(),
        security_association: true,
        subscriber_number: Some("+358 40 123 4567".into()),
        subscriber_name: Some("Matti Virtanen".into()),
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
    // The naming rule (001 step 9): a name consistent with the subscriber's name or number.
    let verdict = decider.decide_name(&facts, &name_request("n358401234567.iot.example.com"));
    let bound_to = String::from("imsi-310410000000001");
    let granted = |name: &str| NameOutcome::Grant { name: name.parse().expect("valid"), bound_to: bound_to.clone() };
    assert_eq!((verdict.outcome, verdict.fault), (granted("n358401234567.iot.example.com"), None));
    // A name the rule does not give is replaced by the rule's first.
    let verdict = decider.decide_name(&facts, &name_request("meter-7.iot.example.com"));
    assert_eq!((verdict.outcome, verdict.fault), (granted("matti-virtanen.iot.example.com"), None));
    let nothing =
        NameRequest { name: None, subscriber_name: None, subscriber_number: None, ..name_request("x.iot.example.com") };
    assert_eq!(decider.decide_name(&facts, &nothing).outcome, NameOutcome::Refuse(NameRefusal::NoName));

    let strict = pathsec_suite::bundled("always-secure").expect("bundled");
    assert!(!pathsec::related::BINDING_UPDATE.exported_by(&strict));
    let mut decider = strict.decider();
    let location = decider.decide_location(&facts, &COVERED);
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
    let protected = decider.decide_location(&facts, &COVERED);
    assert_eq!((protected.outcome, protected.fault), (LocationOutcome::Act, None));
    for update in [
        LocationUpdate { security_association: false, covers_home_address: false },
        LocationUpdate { covers_home_address: false, ..COVERED },
    ] {
        let unprotected = decider.decide_location(&facts, &update);
        assert_eq!((unprotected.outcome, unprotected.reason), (LocationOutcome::Ignore, LocationReason::PolicyFault));
        assert!(matches!(unprotected.fault.as_deref(), Some(PolicyFault::OutcomeNotAllowed { outcome: "act", .. })));
    }

    // It grants `m.iot.example.com` to `mallory`: never the requester, so always refused.
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

/// The runtime keeps what the home agent keeps (001 steps 7-9): the association's home addresses, and
/// the names it granted; a granted name comes with the record to publish.
#[test]
fn the_runtime_checks_the_home_address_and_keeps_the_zone() {
    use pathsec::related::{BindingLimits, NameAsk, NameRecord};
    use std::net::IpAddr;
    let runtime = pathsec::Runtime::builder(pathsec_suite::bundled("reference").expect("bundled"))
        .bindings(BindingLimits { associations: 2, names: 2, ..BindingLimits::default() })
        .build()
        .expect("runtime");
    let home: IpAddr = "2001:db8::17".parse().expect("valid");
    let other: IpAddr = "2001:db8::99".parse().expect("valid");
    let mut worker = runtime.worker();
    assert_eq!(worker.update_binding("matti", home).reason, LocationReason::NoSecurityAssociation);
    runtime.establish_association("matti", vec![home]).expect("set up");
    assert_eq!(worker.update_binding("matti", home).outcome, LocationOutcome::Act);
    let spoof = worker.update_binding("matti", other);
    assert_eq!((spoof.outcome, spoof.reason), (LocationOutcome::Ignore, LocationReason::AddressNotCovered));
    assert!(runtime.establish_association("", vec![home]).is_err());
    assert!(runtime.establish_association("x", Vec::new()).is_err());

    let ask = |requester: &str, name: Option<&str>, subscriber: &str| NameAsk {
        requester: requester.into(),
        name: name.map(|name| name.parse().expect("valid")),
        operator_domain: "iot.example.com".parse().expect("valid"),
        subscriber_number: None,
        subscriber_name: Some(subscriber.into()),
        address: home,
    };
    let verdict = worker.request_name(&ask("matti", None, "Matti Virtanen"));
    let name: pathsec::Fqdn = "matti-virtanen.iot.example.com".parse().expect("valid");
    assert_eq!(verdict.record, Some(NameRecord { name: name.clone(), address: home }), "{verdict}");
    // Another subscriber with the same name asks for it: taken in the runtime's zone.
    runtime.establish_association("matti-2", vec![other]).expect("set up");
    let taken = worker.request_name(&ask("matti-2", Some("matti-virtanen.iot.example.com"), "Matti Virtanen"));
    assert_eq!(taken.outcome, NameOutcome::Refuse(NameRefusal::NameTaken), "{taken}");
    assert_eq!(taken.record, None);
    // A third association evicts the least recently used whole; the zone refuses a third name.
    runtime.establish_association("liisa", vec![other]).expect("set up");
    runtime.establish_association("pekka", vec![other]).expect("set up");
    assert_eq!(
        worker.request_name(&ask("liisa", None, "Liisa")).record.map(|r| r.name.to_string()),
        Some("liisa.iot.example.com".into())
    );
    let full = worker.request_name(&ask("pekka", None, "Pekka"));
    assert_eq!(full.outcome, NameOutcome::Refuse(NameRefusal::ZoneFull), "{full}");
    let stats = runtime.binding_stats();
    assert_eq!((stats.associations, stats.names, stats.evicted), (2, 2, 2));
    assert_eq!((stats.refused_taken, stats.refused_zone_full, stats.updates_refused), (0, 1, 2));
}
