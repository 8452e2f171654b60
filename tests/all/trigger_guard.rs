//! The trigger guard (`pathsec:policy/trigger-guard`): the reference policy follows the method on the
//! normal flow and every refusal; a policy without the guard discards every trigger; an answer that
//! makes no sense fails closed.

use pathsec::{
    FactSet, PolicyFault, ServerId,
    related::{PushProtection, Trigger, TriggerOutcome, TriggerReason, TriggerVerdict, Window},
};
use pathsec_suite::fixtures;

const VALID: PushProtection = PushProtection { mac_verified: true, fields_covered: true, key_expired: false };

fn facts() -> (FactSet, ServerId) {
    let mut builder = FactSet::builder();
    let naf = builder.server("push.mtc.example.com".parse().expect("valid"));
    (builder.build(), naf)
}

fn window(opens_in: i64, closes_in: i64) -> Option<Window> {
    Some(Window::new(opens_in, closes_in).expect("a window"))
}

#[test]
fn the_reference_guard_follows_the_method() {
    let (facts, naf) = facts();
    let trigger = Trigger { naf, registered: true, protection: Some(VALID), window: window(-5, 60) };
    use TriggerOutcome::*;
    use TriggerReason::*;
    let cases = [
        ("valid protection from a registered server inside its window", trigger, Accept, Protected),
        ("no window at all", Trigger { window: None, ..trigger }, Accept, Protected),
        ("no GBA push protection", Trigger { protection: None, ..trigger }, Discard, Unprotected),
        (
            "the MAC did not verify",
            Trigger { protection: Some(PushProtection { mac_verified: false, ..VALID }), ..trigger },
            Discard,
            MacInvalid,
        ),
        (
            "from a server the device is not registered with",
            Trigger { registered: false, ..trigger },
            Discard,
            ServerNotRegistered,
        ),
        (
            "after the push key's lifetime",
            Trigger { protection: Some(PushProtection { key_expired: true, ..VALID }), ..trigger },
            Discard,
            KeyExpired,
        ),
        (
            "fields outside the protection",
            Trigger { protection: Some(PushProtection { fields_covered: false, ..VALID }), ..trigger },
            Discard,
            FieldsUnprotected,
        ),
        ("after its window closed", Trigger { window: window(-60, -1), ..trigger }, Discard, WindowClosed),
        ("before its window opens", Trigger { window: window(30, 90), ..trigger }, AcceptWithinWindow, WindowNotOpen),
        (
            "an invalid MAC is the reason even when everything else fails too",
            Trigger {
                registered: false,
                protection: Some(PushProtection { mac_verified: false, fields_covered: false, key_expired: true }),
                window: window(-60, -1),
                ..trigger
            },
            Discard,
            MacInvalid,
        ),
    ];
    let policy = pathsec_suite::bundled("reference").expect("bundled");
    assert!(pathsec::related::TRIGGER_GUARD.exported_by(&policy));
    let mut decider = policy.decider();
    for (note, trigger, outcome, reason) in cases {
        let verdict = decider.decide_trigger(&facts, &trigger);
        assert_eq!(verdict, TriggerVerdict { outcome, reason, fault: None }, "{note}");
    }
}

#[test]
fn a_policy_without_the_guard_discards_every_trigger() {
    let (facts, naf) = facts();
    let policy = pathsec_suite::bundled("always-secure").expect("bundled");
    assert!(!pathsec::related::TRIGGER_GUARD.exported_by(&policy), "always-secure exports only the path decision");
    let trigger = Trigger { naf, registered: true, protection: Some(VALID), window: None };
    let verdict = policy.decider().decide_trigger(&facts, &trigger);
    assert_eq!((verdict.outcome, verdict.reason), (TriggerOutcome::Discard, TriggerReason::PolicyFault));
    let fault = verdict.fault.expect("a fault");
    assert!(matches!(*fault, PolicyFault::NotProvided { .. }));
    assert_eq!(
        fault.to_string(),
        "policy does not export `pathsec:policy/trigger-guard@0.2.0`, so this decision fails closed: export it (Rust SDK: `pathsec_policy::export_trigger_guard!`)"
    );
}

#[test]
fn keeping_a_trigger_for_a_window_it_does_not_have_fails_closed() {
    let (facts, naf) = facts();
    let component = fixtures::related_policy(
        fixtures::TRIGGER_KEEP_FOR_WINDOW,
        fixtures::ADMIT_ALLOW,
        fixtures::ACCESS_USE_GBA_PUSH,
    );
    let policy = pathsec_suite::engine().load_policy("keeper", &component).expect("loads");
    assert!(pathsec::related::TRIGGER_GUARD.exported_by(&policy));
    let mut decider = policy.decider();
    let ahead = Trigger { naf, registered: true, protection: Some(VALID), window: window(30, 90) };
    let verdict = decider.decide_trigger(&facts, &ahead);
    assert_eq!((verdict.outcome, verdict.fault), (TriggerOutcome::AcceptWithinWindow, None), "a window ahead: kept");
    for window in [None, window(-5, 60), window(-60, -1)] {
        let verdict = decider.decide_trigger(&facts, &Trigger { window, ..ahead });
        assert_eq!((verdict.outcome, verdict.reason), (TriggerOutcome::Discard, TriggerReason::PolicyFault));
        assert!(
            matches!(
                verdict.fault.as_deref(),
                Some(PolicyFault::OutcomeNotAllowed { outcome: "accept-within-window", .. })
            ),
            "{verdict}"
        );
    }
}

#[test]
fn a_window_must_open_before_it_closes() {
    assert_eq!(Window::new(10, 5), None);
    let window = Window::new(-5, 5).expect("valid");
    assert_eq!((window.opens_in(), window.closes_in(), window.is_ahead()), (-5, 5, false));
    assert!(Window::new(1, 1).is_some_and(Window::is_ahead));
}

/// A running server asks through its worker: the active policy, the current lists; a swap to a policy
/// without the guard discards, and the fault is counted in the runtime's metrics.
#[test]
fn a_worker_asks_the_active_policy() {
    let runtime = pathsec::Runtime::new(pathsec_suite::bundled("reference").expect("bundled")).expect("runtime");
    let naf = runtime.server_id(&"push.mtc.example.com".parse().expect("valid"));
    let trigger = Trigger { naf, registered: true, protection: Some(VALID), window: None };
    let mut worker = runtime.worker();
    assert_eq!(worker.decide_trigger(&trigger).outcome, TriggerOutcome::Accept);
    runtime.swap(pathsec_suite::bundled("always-secure").expect("bundled")).expect("swaps");
    let verdict = worker.decide_trigger(&trigger);
    assert_eq!((verdict.outcome, verdict.reason), (TriggerOutcome::Discard, TriggerReason::PolicyFault));
    assert_eq!(runtime.metrics().faults[pathsec::vocab::FaultKind::NotProvided], 1);
}

/// The runtime's push associations are bounded: when full, the least recently used goes whole (its
/// registration and replay window with it), counted; an unknown device is an error.
#[test]
fn push_associations_are_bounded_and_evicted_whole() {
    use pathsec::related::{PushTrigger, TriggerReason};
    use std::time::Duration;
    let clock = pathsec::runtime::ManualClock::new(std::time::UNIX_EPOCH + Duration::from_secs(1_800_000_000));
    let runtime = pathsec::Runtime::builder(pathsec_suite::bundled("reference").expect("bundled"))
        .clock(clock.clone())
        .push_associations(2)
        .build()
        .expect("runtime");
    let naf = runtime.server_id(&"push.mtc.example.com".parse().expect("valid"));
    let push = |sequence| PushTrigger {
        naf,
        sequence,
        mac_verified: true,
        fields_covered: true,
        key_expires: runtime.now() + Duration::from_secs(3_600),
        trigger_time: None,
        window: None,
    };
    let mut worker = runtime.worker();
    let devices: Vec<_> = ["a", "b", "c"].iter().map(|name| runtime.device_id(name).expect("room")).collect();
    for &device in &devices {
        runtime.register_push(device, naf).expect("known");
        assert_eq!(worker.receive_push(device, &push(1)).expect("known").reason, TriggerReason::Protected);
    }
    // `a`'s association was the least recently used: evicted whole, so `a` is no longer registered; once
    // it registers again its sequence 1 is fresh again.
    assert_eq!(worker.receive_push(devices[2], &push(1)).expect("known").reason, TriggerReason::Replayed);
    assert_eq!(worker.receive_push(devices[0], &push(2)).expect("known").reason, TriggerReason::ServerNotRegistered);
    runtime.register_push(devices[0], naf).expect("known");
    assert_eq!(worker.receive_push(devices[0], &push(1)).expect("known").reason, TriggerReason::Protected);
    let stats = runtime.push_stats();
    assert_eq!((stats.associations, stats.evicted, stats.replays, stats.accepted, stats.unregistered), (2, 2, 1, 4, 1));
    assert!(runtime.register_push(pathsec::DeviceId::from_raw(99), naf).is_err());
    let stranger = pathsec::DeviceId::from_raw(99);
    assert!(worker.receive_push(stranger, &push(1)).is_err(), "a handle this runtime did not issue");
}
