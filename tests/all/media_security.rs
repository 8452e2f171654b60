//! Media over a CS leg (`pathsec:policy/media-security`): who exports it, the host's voucher check,
//! and answers that make no sense. The reference policy's table is in
//! `tests/cases/reference/media-security/`.

use pathsec::{
    FactSet, PolicyFault,
    related::{CallParties, MediaProtection, MediaReason, MediaRequest, Voucher},
};
use pathsec_suite::fixtures;

fn call() -> CallParties {
    CallParties { device: "sip:meter@ims.example.com".into(), peer: "tel:+15550100".into() }
}

fn request(crosses_cs_leg: bool, network_path_secure: bool) -> MediaRequest {
    MediaRequest {
        crosses_cs_leg,
        via_gateway: crosses_cs_leg,
        network_path_secure,
        call: call(),
        voucher: Some(Voucher { parties: call(), key: vec![7; 16] }),
    }
}

#[test]
fn the_voucher_is_released_only_to_its_own_call_with_its_key() {
    let facts = FactSet::builder().build();
    let reference = pathsec_suite::bundled("reference").expect("bundled");
    assert!(pathsec::related::MEDIA_SECURITY.exported_by(&reference));
    let mut decider = reference.decider();
    let verdict = decider.decide_media(&facts, &request(true, true));
    assert_eq!((verdict.protection, verdict.reason), (MediaProtection::MediaLayer, MediaReason::CsLeg));
    assert_eq!(verdict.voucher.map(|v| v.key), Some(vec![7; 16]), "the voucher itself is released");

    let mut other = request(true, true);
    other.voucher = Some(Voucher { parties: CallParties { peer: "tel:+15550199".into(), ..call() }, key: vec![7; 16] });
    let verdict = decider.decide_media(&facts, &other);
    assert_eq!(
        (verdict.protection, verdict.reason, verdict.voucher),
        (MediaProtection::Refuse, MediaReason::VoucherMismatch, None)
    );

    let strict = pathsec_suite::bundled("always-secure").expect("bundled");
    assert!(!pathsec::related::MEDIA_SECURITY.exported_by(&strict));
    let verdict = strict.decider().decide_media(&facts, &request(true, true));
    assert_eq!((verdict.protection, verdict.voucher.is_none()), (MediaProtection::Refuse, true));
    assert!(matches!(verdict.fault.as_deref(), Some(PolicyFault::NotProvided { .. })), "{verdict}");
}

#[test]
fn network_layer_where_it_cannot_reach_fails_closed() {
    let facts = FactSet::builder().build();
    let component =
        fixtures::related_policy(fixtures::TRIGGER_DISCARD, fixtures::ADMIT_ALLOW, fixtures::ACCESS_USE_GBA_PUSH);
    let policy = pathsec_suite::engine().load_policy("network-layer-always", &component).expect("loads");
    let mut decider = policy.decider();
    let verdict = decider.decide_media(&facts, &request(false, true));
    assert_eq!((verdict.protection, verdict.fault), (MediaProtection::NetworkLayer, None), "a secure PS path: fine");
    for (crosses, secure, why) in [
        (true, true, "network-layer security does not reach across a CS leg and a gateway"),
        (false, false, "the packet-switched path is not secure at the network layer"),
    ] {
        let verdict = decider.decide_media(&facts, &request(crosses, secure));
        assert_eq!(
            (verdict.protection, verdict.reason, verdict.voucher.is_none()),
            (MediaProtection::Refuse, MediaReason::PolicyFault, true)
        );
        assert!(
            matches!(verdict.fault.as_deref(), Some(PolicyFault::OutcomeNotAllowed { why: w, .. }) if *w == why),
            "{verdict}"
        );
    }
}

/// The runtime's voucher store (004, FIG. 3): stored, correlated by identity, released once; bounded,
/// with every drop and refusal counted.
#[test]
fn the_voucher_store_is_bounded_and_counts_what_it_drops() {
    use pathsec::related::{GatewayCall, MediaLimits, VoucherError};
    use std::time::{Duration, SystemTime};
    let clock = pathsec::runtime::ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000));
    let runtime = pathsec::Runtime::builder(pathsec_suite::bundled("reference").expect("bundled"))
        .clock(clock.clone())
        .media(MediaLimits { vouchers: 2, timeout: Duration::from_secs(30) })
        .expect("valid")
        .build()
        .expect("runtime");
    let call = |calling: &str, called: &str| GatewayCall {
        calling: calling.into(),
        called: called.into(),
        crosses_cs_leg: true,
        via_gateway: true,
        network_path_secure: true,
    };
    let mut worker = runtime.worker();
    runtime.store_voucher("sip:a@ims.example.com", "tel:+15550001", b"a".to_vec()).expect("stored");
    runtime.store_voucher("sip:b@ims.example.com", "tel:+15550002", b"b".to_vec()).expect("stored");
    runtime.store_voucher("sip:c@ims.example.com", "tel:+15550003", b"c".to_vec()).expect("stored: a dropped");
    runtime.store_voucher("sip:c@ims.example.com", "tel:+1-555-0003", b"c2".to_vec()).expect("supersedes c");
    assert!(matches!(
        runtime.store_voucher("sip:d@ims.example.com", "tel:+15550004", b"b".to_vec()),
        Err(VoucherError::Replayed { .. })
    ));
    assert!(matches!(
        runtime.store_voucher("sip:d@ims.example.com", "tel:+15550004", Vec::new()),
        Err(VoucherError::Size { len: 0 })
    ));
    let error = runtime.store_voucher("sip:+15550005@ims.example.com", "tel:+15550004", b"e".to_vec());
    assert_eq!(
        error.expect_err("ambiguous").to_string(),
        "`calling`: `sip:+15550005@ims.example.com` does not name one party for sure: a user part that looks like a telephone number, without `user=phone`"
    );
    assert_eq!(worker.correlate_media(&call("sip:a@ims.example.com", "tel:+15550001")).voucher, None, "evicted");
    let released = worker.correlate_media(&call("sip:c@ims.example.com", "sip:+15550003@gw.example.net;user=phone"));
    assert_eq!(released.voucher.map(|voucher| voucher.key), Some(b"c2".to_vec()), "the newer voucher");
    clock.advance(Duration::from_secs(30));
    assert_eq!(worker.correlate_media(&call("sip:b@ims.example.com", "tel:+15550002")).voucher, None, "expired");
    let stats = runtime.media_stats();
    assert_eq!(
        (stats.stored, stats.evicted, stats.superseded, stats.replays_refused, stats.identities_refused),
        (4, 1, 1, 1, 1)
    );
    assert_eq!((stats.released, stats.expired, stats.uncorrelated, stats.vouchers_held), (1, 1, 2, 0));
    // The replay memory ends with the timeout: the same voucher may be presented again later.
    runtime.store_voucher("sip:d@ims.example.com", "tel:+15550004", b"b".to_vec()).expect("no longer remembered");
}
