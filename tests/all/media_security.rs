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
