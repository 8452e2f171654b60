//! Attach admission and trigger submissions (`pathsec:policy/attach-admission`, after 002 FIG. 7A):
//! the server is asked only when the method asks it; the runtime enforces the server's back-off and
//! counts each server's submissions; answers that make no sense fail closed.

use std::time::{Duration, SystemTime};

use pathsec::related::{
    Admission, AdmissionLimits, AdmissionRequest, ExternalId, FAIL_CLOSED_BACK_OFF, RejectCause, SubmissionReason,
    TriggerLimits,
};
use pathsec::runtime::ManualClock;
use pathsec::{FactSet, PolicyFault, Runtime, ServerId};
use pathsec_suite::fixtures;

/// Lists naming `mtc.example.com` in List 2 (the reference admits for it) and `other.example.com` in none.
fn facts() -> (FactSet, ServerId, ServerId) {
    let mut builder = FactSet::builder();
    let listed = builder.server("mtc.example.com".parse().expect("valid"));
    let unlisted = builder.server("other.example.com".parse().expect("valid"));
    builder.trust_path_b("310410".parse().expect("valid"), listed);
    (builder.build(), listed, unlisted)
}

fn attach(server: ServerId, id: &str) -> AdmissionRequest {
    AdmissionRequest {
        server,
        external_id: ExternalId::parse(id).expect("valid"),
        attachment_block_enabled: true,
        server_named: false,
        server_permitted: true,
        proposed_name: None,
    }
}

fn reject(cause: RejectCause, seconds: u64) -> Admission {
    Admission::Reject { cause, back_off: Some(Duration::from_secs(seconds)) }
}

#[test]
fn the_server_is_asked_only_when_the_method_asks_it() {
    let (facts, listed, unlisted) = facts();
    let policy = pathsec_suite::bundled("reference").expect("bundled");
    let mut decider = policy.decider();
    let flagged = attach(listed, "meter@m2m.example.com");
    let cases = [
        ("the flag set: asked, admitted", flagged.clone(), Admission::Allow { name: None }, true),
        (
            "a server named at attach: asked, the proposed name granted",
            AdmissionRequest {
                attachment_block_enabled: false,
                server_named: true,
                proposed_name: Some("dgscl-17".into()),
                ..flagged.clone()
            },
            Admission::Allow { name: Some("dgscl-17".into()) },
            true,
        ),
        (
            "neither: the device attaches without a question (and no name is granted)",
            AdmissionRequest {
                attachment_block_enabled: false,
                proposed_name: Some("dgscl-17".into()),
                ..flagged.clone()
            },
            Admission::Allow { name: None },
            false,
        ),
        (
            "the subscription does not permit the server: rejected before asking (step 255)",
            AdmissionRequest { server_permitted: false, ..flagged.clone() },
            Admission::Reject { cause: RejectCause::SubscriptionForbids, back_off: None },
            false,
        ),
        (
            "a server the operator lists for no home: the reference's server rejects it for an hour",
            attach(unlisted, "meter@m2m.example.com"),
            reject(RejectCause::NotPermitted, 3_600),
            true,
        ),
    ];
    for (note, request, want, asked) in cases {
        let verdict = decider.admit(&facts, &request);
        assert_eq!((verdict.admission, verdict.asked, verdict.fault), (want, asked, None), "{note}");
    }
}

#[test]
fn a_policy_without_admission_rejects_what_needs_the_server_only() {
    let (facts, listed, _) = facts();
    let policy = pathsec_suite::bundled("always-secure").expect("bundled");
    assert!(!pathsec::related::ATTACH_ADMISSION.exported_by(&policy));
    let mut decider = policy.decider();
    let verdict = decider.admit(&facts, &attach(listed, "meter@m2m.example.com"));
    assert_eq!(verdict.admission, reject(RejectCause::PolicyFault, FAIL_CLOSED_BACK_OFF.as_secs()));
    assert_eq!(
        verdict.fault.expect("a fault").to_string(),
        "policy does not export `pathsec:policy/attach-admission@0.2.0`, so this decision fails closed: export it (Rust SDK: `pathsec_policy::export_attach_admission!`)"
    );
    let unasked = AdmissionRequest { attachment_block_enabled: false, ..attach(listed, "meter@m2m.example.com") };
    let verdict = decider.admit(&facts, &unasked);
    assert_eq!((verdict.admission, verdict.asked), (Admission::Allow { name: None }, false), "no question, no policy");
    let submission = decider.submit_trigger(
        &facts,
        &pathsec::related::TriggerSubmission {
            server: listed,
            accepted_this_period: 0,
            quota: None,
            period_resets_in: 60,
            submitted_in_window: 1,
            rate_limit: None,
            rate_window_seconds: 60,
        },
    );
    assert_eq!((submission.accept, submission.reason), (false, SubmissionReason::PolicyFault));
}

#[test]
fn an_answer_that_ignores_the_proposed_name_fails_closed() {
    let (facts, listed, _) = facts();
    let component =
        fixtures::related_policy(fixtures::TRIGGER_DISCARD, fixtures::ADMIT_ALLOW, fixtures::ACCESS_USE_GBA_PUSH);
    let policy = pathsec_suite::engine().load_policy("admits-all", &component).expect("loads");
    let mut decider = policy.decider();
    let request = attach(listed, "meter@m2m.example.com");
    let verdict = decider.admit(&facts, &request);
    assert_eq!((verdict.admission, verdict.fault), (Admission::Allow { name: None }, None));
    let verdict = decider.admit(&facts, &AdmissionRequest { proposed_name: Some("dgscl-17".into()), ..request });
    assert_eq!(verdict.admission, reject(RejectCause::PolicyFault, 300));
    assert!(
        matches!(verdict.fault.as_deref(), Some(PolicyFault::OutcomeNotAllowed { outcome: "allow", .. })),
        "{verdict}"
    );
}

/// A runtime on the reference policy with `facts`, a manual clock and `limits`.
fn node(facts: &FactSet, limits: AdmissionLimits) -> (Runtime, ManualClock) {
    let clock = ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000));
    let runtime = Runtime::builder(pathsec_suite::bundled("reference").expect("bundled"))
        .lists(facts.to_builder().build())
        .clock(clock.clone())
        .admission(limits)
        .expect("valid limits")
        .build()
        .expect("runtime");
    (runtime, clock)
}

#[test]
fn the_runtime_enforces_the_servers_back_off_without_asking_again() {
    let (facts, _, unlisted) = facts();
    let (runtime, clock) = node(&facts, AdmissionLimits::default());
    let mut worker = runtime.worker();
    let request = attach(unlisted, "meter@M2M.example.com");
    assert_eq!(worker.admit(&request).admission, reject(RejectCause::NotPermitted, 3_600));
    // The operator lists the server now: the policy would admit — but the device is still backing off,
    // so it is not asked (under the same identifier, its domain in any case, and from any worker).
    runtime.update_lists(|lists| {
        lists.trust_path_b("310410".parse().expect("valid"), unlisted);
    });
    clock.advance(Duration::from_secs(600));
    let again = runtime.worker().admit(&attach(unlisted, "meter@m2m.EXAMPLE.com"));
    assert_eq!((again.admission, again.asked), (reject(RejectCause::BackingOff, 3_000), false));
    // Another device, or the same one towards another server, is asked.
    assert_eq!(worker.admit(&attach(unlisted, "other@m2m.example.com")).admission, Admission::Allow { name: None });
    clock.advance(Duration::from_secs(3_000));
    let after = worker.admit(&request);
    assert_eq!((after.admission, after.asked), (Admission::Allow { name: None }, true), "the back-off ended");
    let stats = runtime.admission_stats();
    assert_eq!((stats.back_offs_recorded, stats.refused_backing_off), (1, 1));
}

#[test]
fn a_full_back_off_table_refuses_new_attaches_and_evicts_none() {
    let (facts, listed, unlisted) = facts();
    let (runtime, clock) = node(&facts, AdmissionLimits { back_offs: 2, ..AdmissionLimits::default() });
    let mut worker = runtime.worker();
    for id in ["a@x.example", "b@x.example"] {
        assert_eq!(worker.admit(&attach(unlisted, id)).admission, reject(RejectCause::NotPermitted, 3_600));
    }
    // Full: a third device the server would be asked about is refused; the two back-offs stand.
    let full = worker.admit(&attach(listed, "c@x.example"));
    assert_eq!((full.admission, full.asked), (reject(RejectCause::BackOffsFull, 300), false));
    assert!(matches!(
        worker.admit(&attach(unlisted, "a@x.example")).admission,
        Admission::Reject { cause: RejectCause::BackingOff, .. }
    ));
    // A device that needs no question still attaches.
    let unasked = AdmissionRequest { attachment_block_enabled: false, ..attach(listed, "d@x.example") };
    assert_eq!(worker.admit(&unasked).admission, Admission::Allow { name: None });
    // Once the back-offs end, room is made.
    clock.advance(Duration::from_secs(3_600));
    assert_eq!(worker.admit(&attach(listed, "c@x.example")).admission, Admission::Allow { name: None });
    let stats = runtime.admission_stats();
    assert_eq!((stats.refused_back_offs_full, stats.admitted_without_asking), (1, 1));
}

#[test]
fn the_runtime_counts_each_servers_submissions() {
    let (facts, listed, unlisted) = facts();
    let quota = TriggerLimits { quota: Some(2), period: Duration::from_secs(3_600), ..TriggerLimits::default() };
    let (runtime, clock) = node(&facts, AdmissionLimits { servers: 2, triggers: quota, ..AdmissionLimits::default() });
    let mut worker = runtime.worker();
    let verdicts: Vec<_> = (0..3).map(|_| worker.submit_trigger(listed)).map(|v| (v.accept, v.reason)).collect();
    assert_eq!(
        verdicts,
        [
            (true, SubmissionReason::WithinLimits),
            (true, SubmissionReason::WithinLimits),
            (false, SubmissionReason::QuotaExhausted),
        ]
    );
    clock.advance(Duration::from_secs(3_599));
    assert_eq!(worker.submit_trigger(listed).reason, SubmissionReason::QuotaExhausted, "the same period");
    clock.advance(Duration::from_secs(1));
    assert!(worker.submit_trigger(listed).accept, "a new period");
    assert_eq!(worker.submit_trigger(unlisted).reason, SubmissionReason::NotAuthorized);
    // Two servers counted at most: a third is refused without asking.
    let third = runtime.server_id(&"third.example.com".parse().expect("valid"));
    assert_eq!(worker.submit_trigger(third).reason, SubmissionReason::CountersFull);
    let stats = runtime.admission_stats();
    assert_eq!((stats.servers_counted, stats.refused_counters_full, stats.submissions_accepted), (2, 1, 3));

    // A rate: every submission counts, accepted or not, over a sliding window.
    let rate = TriggerLimits { rate_limit: Some(2), rate_window: Duration::from_secs(60), ..TriggerLimits::default() };
    let (runtime, clock) = node(&facts, AdmissionLimits { triggers: rate, ..AdmissionLimits::default() });
    let mut worker = runtime.worker();
    assert!(worker.submit_trigger(listed).accept);
    clock.advance(Duration::from_secs(30));
    assert!(worker.submit_trigger(listed).accept);
    assert_eq!(worker.submit_trigger(listed).reason, SubmissionReason::RateExceeded);
    clock.advance(Duration::from_secs(30));
    assert_eq!(worker.submit_trigger(listed).reason, SubmissionReason::RateExceeded, "three in the last minute");
    clock.advance(Duration::from_secs(60));
    assert!(worker.submit_trigger(listed).accept, "the window slid past them");
}

#[test]
fn a_policy_cannot_deliver_a_trigger_over_the_operators_limits() {
    let (facts, listed, _) = facts();
    let component =
        fixtures::related_policy(fixtures::TRIGGER_DISCARD, fixtures::ADMIT_ALLOW, fixtures::ACCESS_USE_GBA_PUSH);
    let policy = pathsec_suite::engine().load_policy("accepts-all", &component).expect("loads");
    let mut decider = policy.decider();
    let within = pathsec::related::TriggerSubmission {
        server: listed,
        accepted_this_period: 0,
        quota: Some(1),
        period_resets_in: 60,
        submitted_in_window: 1,
        rate_limit: Some(1),
        rate_window_seconds: 60,
    };
    assert!(decider.submit_trigger(&facts, &within).accept);
    for over in [
        pathsec::related::TriggerSubmission { accepted_this_period: 1, ..within },
        pathsec::related::TriggerSubmission { submitted_in_window: 2, ..within },
    ] {
        let verdict = decider.submit_trigger(&facts, &over);
        assert_eq!((verdict.accept, verdict.reason), (false, SubmissionReason::PolicyFault));
        assert!(
            matches!(verdict.fault.as_deref(), Some(PolicyFault::OutcomeNotAllowed { outcome: "accept", .. })),
            "{verdict}"
        );
    }
}

#[test]
fn bad_limits_and_identifiers_are_refused_naming_the_setting() {
    let limits = AdmissionLimits { back_offs: 0, ..AdmissionLimits::default() };
    let error = limits.check().expect_err("zero back-offs");
    assert_eq!(error.to_string(), "admission limits: `back-offs` must be at least 1");
    let window = TriggerLimits { rate_window: Duration::from_secs(7_200), ..TriggerLimits::default() };
    let error = AdmissionLimits { triggers: window, ..AdmissionLimits::default() }.check().expect_err("window");
    assert_eq!(error.to_string(), "admission limits: `triggers.rate-window` must be 1 to 3,600 seconds");
    let error = ExternalId::parse("meter").expect_err("no @");
    assert_eq!(
        error.to_string(),
        "`meter` is not an external identifier: it has no `@` (write `local@domain`, e.g. `meter-17@m2m.example.com`)"
    );
}

/// A back-off holds across gateways: one runtime sends the back-offs it records, another enforces them
/// (a device cannot evade its back-off by attaching through another gateway).
#[test]
fn a_back_off_recorded_by_one_gateway_is_enforced_by_another() {
    let (facts, _, unlisted) = facts();
    let (first, clock) = node(&facts, AdmissionLimits::default());
    let second = Runtime::builder(pathsec_suite::bundled("reference").expect("bundled"))
        .lists(facts.to_builder().build())
        .clock(clock.clone())
        .build()
        .expect("runtime");
    let feed = first.back_offs();
    let request = attach(unlisted, "meter@m2m.example.com");
    assert_eq!(first.worker().admit(&request).admission, reject(RejectCause::NotPermitted, 3_600));
    let back_off = feed.try_recv().expect("the rejection's back-off is sent");
    assert_eq!(
        (back_off.server.as_str(), back_off.external_id.as_str()),
        ("other.example.com", "meter@m2m.example.com")
    );
    assert!(second.import_back_off(&back_off));
    // The second gateway lists the server (its policy would admit), but the device is backing off.
    second.update_lists(|lists| {
        lists.trust_path_b("310410".parse().expect("valid"), unlisted);
    });
    clock.advance(Duration::from_secs(60));
    let evading = second.worker().admit(&attach(second.server_id(&back_off.server), "meter@m2m.example.com"));
    assert_eq!((evading.admission, evading.asked), (reject(RejectCause::BackingOff, 3_540), false));
    assert_eq!(second.admission_stats().back_offs_imported, 1);
    clock.advance(Duration::from_secs(3_540));
    assert_eq!(second.worker().admit(&request).admission, Admission::Allow { name: None }, "it ended");
}
