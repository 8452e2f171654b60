//! Attach admission (`pathsec:policy/attach-admission`): the reference policy allows and rejects as
//! the rule says, with a back-off for each cause; a policy without it rejects every registration; an
//! answer that makes no sense fails closed.

use std::time::Duration;

use pathsec::{
    FactSet, PolicyFault, ServerId,
    related::{Admission, AdmissionRequest, FAIL_CLOSED_BACK_OFF, RejectCause},
};
use pathsec_suite::fixtures;

fn facts() -> (FactSet, ServerId) {
    let mut builder = FactSet::builder();
    let server = builder.server("mtc.example.com".parse().expect("valid"));
    (builder.build(), server)
}

fn reject(cause: RejectCause, seconds: u64) -> Admission {
    Admission::Reject { cause, back_off: Duration::from_secs(seconds) }
}

#[test]
fn the_reference_admission_follows_its_rule() {
    let (facts, server) = facts();
    let normal = AdmissionRequest {
        server,
        attachment_blocked: false,
        server_permitted: true,
        trigger_quota_left: Some(40),
        quota_resets_in: 1_800,
        trigger_rate: 10,
        trigger_rate_limit: Some(60),
    };
    use RejectCause::*;
    let cases = [
        ("a permitted device, a server within quota and rate", normal, Admission::Allow),
        (
            "no quota and no rate limit",
            AdmissionRequest { trigger_quota_left: None, trigger_rate_limit: None, ..normal },
            Admission::Allow,
        ),
        ("a rate exactly at the limit", AdmissionRequest { trigger_rate: 60, ..normal }, Admission::Allow),
        (
            "the subscription blocks attachment",
            AdmissionRequest { attachment_blocked: true, ..normal },
            reject(AttachmentBlocked, 3_600),
        ),
        (
            "the subscription does not permit the server",
            AdmissionRequest { server_permitted: false, ..normal },
            reject(ServerNotPermitted, 86_400),
        ),
        (
            "the server's quota is used up: back off until it resets",
            AdmissionRequest { trigger_quota_left: Some(0), ..normal },
            reject(QuotaExhausted, 1_800),
        ),
        (
            "a quota resetting in 5 s still backs off a minute",
            AdmissionRequest { trigger_quota_left: Some(0), quota_resets_in: 5, ..normal },
            reject(QuotaExhausted, 60),
        ),
        (
            "the server sends triggers over its rate",
            AdmissionRequest { trigger_rate: 61, ..normal },
            reject(RateExceeded, 60),
        ),
        (
            "everything fails: the subscription is the cause",
            AdmissionRequest {
                attachment_blocked: true,
                server_permitted: false,
                trigger_quota_left: Some(0),
                trigger_rate: 1_000,
                ..normal
            },
            reject(AttachmentBlocked, 3_600),
        ),
    ];
    let policy = pathsec_suite::bundled("reference").expect("bundled");
    assert!(pathsec::related::ATTACH_ADMISSION.exported_by(&policy));
    let mut decider = policy.decider();
    for (note, request, want) in cases {
        let verdict = decider.admit(&facts, &request);
        assert_eq!((verdict.admission, verdict.fault), (want, None), "{note}");
    }
}

#[test]
fn a_policy_without_admission_rejects_every_registration() {
    let (facts, server) = facts();
    let policy = pathsec_suite::bundled("always-secure").expect("bundled");
    assert!(!pathsec::related::ATTACH_ADMISSION.exported_by(&policy));
    let request = AdmissionRequest {
        server,
        attachment_blocked: false,
        server_permitted: true,
        trigger_quota_left: None,
        quota_resets_in: 0,
        trigger_rate: 0,
        trigger_rate_limit: None,
    };
    let verdict = policy.decider().admit(&facts, &request);
    assert_eq!(verdict.admission, reject(RejectCause::PolicyFault, FAIL_CLOSED_BACK_OFF.as_secs()));
    assert_eq!(
        verdict.fault.expect("a fault").to_string(),
        "policy does not export `pathsec:policy/attach-admission@0.2.0`, so this decision fails closed: export it (Rust SDK: `pathsec_policy::export_attach_admission!`)"
    );
}

#[test]
fn admitting_a_blocked_subscription_fails_closed() {
    let (facts, server) = facts();
    let component =
        fixtures::related_policy(fixtures::TRIGGER_DISCARD, fixtures::ADMIT_ALLOW, fixtures::ACCESS_USE_GBA_PUSH);
    let policy = pathsec_suite::engine().load_policy("admits-all", &component).expect("loads");
    let mut decider = policy.decider();
    let request = AdmissionRequest {
        server,
        attachment_blocked: false,
        server_permitted: false,
        trigger_quota_left: Some(0),
        quota_resets_in: 0,
        trigger_rate: 0,
        trigger_rate_limit: None,
    };
    let verdict = decider.admit(&facts, &request);
    assert_eq!((verdict.admission, verdict.fault), (Admission::Allow, None), "the policy's own choice: allowed");
    let verdict = decider.admit(&facts, &AdmissionRequest { attachment_blocked: true, ..request });
    assert_eq!(verdict.admission, reject(RejectCause::PolicyFault, 300));
    assert!(
        matches!(verdict.fault.as_deref(), Some(PolicyFault::OutcomeNotAllowed { outcome: "allow", .. })),
        "{verdict}"
    );
}
