//! The registration exchange (000, FIGS. 7-10), both sides: the wire form and its refusals, the server
//! taking a report (network view or not, roaming), the device storing and following the indication,
//! re-registration events and what voids an agreement — and the adapter that runs 0.1.0 policies.

use std::time::{Duration, SystemTime};

use pathsec::exchange::{Format, Indication, Report, WireError};
use pathsec::runtime::{
    Carried, DeviceConfig, IndicationError, ManualClock, ReRegistrationCause, RegistrationConfig, RegistrationError,
    RegistrationState,
};
use pathsec::vocab::{Agreement, RegistrationSource};
use pathsec::{
    AccessKind, Action, Attach, DeviceId, Event, Flow, LinkState, PlmnId, Reason, Registration, Role, Runtime, ServerId,
};
use pathsec_suite::fixtures;

const SECURE: LinkState = LinkState { ciphering: true, integrity: true };
const DEVICE: &str = "imsi-310410000000001";
const START: Duration = Duration::from_secs(1_800_000_000);

fn plmn(text: &str) -> PlmnId {
    text.parse().expect("valid PLMN-ID")
}

fn clock() -> ManualClock {
    ManualClock::new(SystemTime::UNIX_EPOCH + START)
}

/// A node on the reference policy with the world's lists: 310410 (home) and 20801 in Lists 1 and 3, 44010
/// in List 1 only; mtc.example.com in List 2 for 310410.
fn node(
    clock: &ManualClock,
    configure: impl FnOnce(pathsec::runtime::RuntimeBuilder) -> pathsec::runtime::RuntimeBuilder,
) -> (Runtime, ServerId) {
    let builder = Runtime::builder(pathsec_suite::bundled("reference").expect("bundled")).clock(clock.clone());
    let runtime = configure(builder).build().expect("runtime");
    let server = runtime.server_id(&"mtc.example.com".parse().expect("valid"));
    runtime.update_lists(|lists| {
        for network in ["310410", "20801", "44010"] {
            lists.trust_path_a(plmn(network));
        }
        lists.trust_path_b(plmn("310410"), server).trust_interconnect(plmn("20801"));
    });
    (runtime, server)
}

fn report(serving: &str, link: LinkState) -> Report {
    Report {
        device: DEVICE.into(),
        server: "mtc.example.com".parse().expect("valid"),
        home: plmn("310410"),
        serving: plmn(serving),
        access: AccessKind::ThreeGpp,
        link,
        options: vec!["dtls-1.3".parse().expect("option"), "oscore".parse().expect("option")],
        lists: None,
        sequence: 1,
    }
}

fn attach(runtime: &Runtime, device: DeviceId, serving: &str, access: AccessKind) {
    let attach = Attach { serving: Some(plmn(serving)), home: plmn("310410"), access };
    runtime.set_attach(device, attach).expect("known device");
}

fn decide(runtime: &Runtime, device: DeviceId, server: ServerId, role: Role, event: Event) -> (Action, Reason) {
    let decision = runtime.worker().decide(&Flow { device, server, role, event });
    assert!(decision.fault.is_none(), "{decision}");
    (decision.action, decision.reason)
}

// The wire form.

#[test]
fn reports_and_indications_round_trip_in_json_and_cbor() {
    let report = report("20801", SECURE);
    let indication = Indication {
        device: DEVICE.into(),
        server: "mtc.example.com".parse().expect("valid"),
        application_security: true,
        reason: Reason::PathBNotTrusted,
        option: Some("oscore".parse().expect("option")),
        lists: "sha256:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff".parse().expect("digest"),
        report_sequence: report.sequence,
        report: report.digest(),
        sequence: 1_800_000_000_123,
        expires: 1_800_086_400,
    };
    for format in [Format::Json, Format::Cbor] {
        assert_eq!(Report::decode(format, &report.encode(format)), Ok(report.clone()), "{format}");
        assert_eq!(Indication::decode(format, &indication.encode(format)), Ok(indication.clone()), "{format}");
    }
    let json = String::from_utf8(indication.encode(Format::Json)).expect("UTF-8");
    assert!(json.starts_with(r#"{"v":2,"kind":"indication","device":"imsi-310410000000001""#), "{json}");
    assert!(json.contains(&format!(r#""report-seq":{},"report":"{}""#, report.sequence, report.digest())), "{json}");
    assert!(indication.encode(Format::Cbor).len() < json.len(), "CBOR is the compact form");
}

#[test]
fn the_report_digest_is_the_documented_one() {
    // docs/registration-wire.md's example pair: the indication names the report's digest, computed from
    // the report's canonical text (and checked against an independent computation when it was written).
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz/wire");
    let read = |name: &str| std::fs::read(dir.join(name)).expect("seed");
    let report = Report::decode(Format::Json, &read("report-v2.json")).expect("report");
    let indication = Indication::decode(Format::Json, &read("indication.json")).expect("indication");
    assert_eq!((indication.report_sequence, indication.report), (report.sequence, report.digest()));
    assert_eq!(report.digest().to_string(), "sha256:b493e8fac97d4ba1dd4c385c27691c5e0b05241380d530343fa2ab59e4f1ec3e");
    assert_eq!(Report::decode(Format::Cbor, &read("report-v2.cbor")), Ok(report.clone()));
    assert_eq!(Report::decode(Format::Json, &read("report.json")).map(|old| old.digest()), Ok(report.digest()));
}

#[test]
fn bad_messages_are_refused_naming_the_field() {
    let good = String::from_utf8(report("20801", SECURE).encode(Format::Json)).expect("UTF-8");
    let refused = |text: &str| Report::decode(Format::Json, text.as_bytes()).expect_err(text).to_string();
    assert!(refused(&good[..good.len() / 2]).starts_with("report is not valid JSON"), "truncated");
    assert_eq!(
        refused(&good.replace(r#""v":2"#, r#""v":3"#)),
        "report has wire version 3, and this engine reads version 2: have the peer send version 2, or upgrade pathsec"
    );
    assert!(refused(&good.replace(r#""v":2,"#, "")).contains("wire version 0"), "no version");
    // A version 1 report has the same fields: it is still read.
    let old = Report::decode(Format::Json, good.replace(r#""v":2"#, r#""v":1"#).as_bytes()).expect("version 1");
    assert_eq!(old, report("20801", SECURE));
    let mnc = refused(&good.replace(r#""serving":"20801""#, r#""serving":"2080""#));
    assert!(mnc.starts_with("report field `serving`:"), "{mnc}");
    let unknown = refused(&good.replace(r#""seq":1"#, r#""seq":1,"extra":true"#));
    assert!(unknown.starts_with("report field `extra`:") || unknown.contains("unknown field `extra`"), "{unknown}");
    let missing = refused(&good.replace(r#","ciphering":true"#, ""));
    assert!(missing.contains("ciphering"), "{missing}");
    let kind = refused(&good.replace(r#""kind":"report""#, r#""kind":"indication""#));
    assert!(kind.starts_with("report field `kind`:"), "{kind}");
    let option = refused(&good.replace("oscore", "OSCORE!"));
    assert!(option.contains("is not a security option"), "{option}");
    assert!(matches!(
        Report::decode(Format::Json, &vec![b' '; 5000]),
        Err(WireError::TooLarge { size: 5000, limit: 4096, .. })
    ));
    assert!(Report::decode(Format::Cbor, &[0xa1, 0x61]).is_err(), "truncated CBOR");
    assert!(Report::decode(Format::Cbor, b"not cbor at all").is_err());

    let indication = Indication {
        device: DEVICE.into(),
        server: "mtc.example.com".parse().expect("valid"),
        application_security: false,
        reason: Reason::PathSecure,
        option: None,
        lists: "sha256:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff".parse().expect("digest"),
        report_sequence: 1,
        report: report("20801", SECURE).digest(),
        sequence: 7,
        expires: 9,
    };
    let text = String::from_utf8(indication.encode(Format::Json)).expect("UTF-8");
    // A version 1 indication names no report, so it could answer any: refused as such.
    let unbound = Indication::decode(Format::Json, text.replace(r#""v":2"#, r#""v":1"#).as_bytes())
        .expect_err("version 1 indication");
    assert!(matches!(unbound, WireError::Version { found: 1, supported: 2, .. }), "{unbound}");
    let unnamed =
        Indication::decode(Format::Json, text.replace(r#","report-seq":1"#, "").as_bytes()).expect_err("no report-seq");
    assert!(unnamed.to_string().contains("report-seq"), "{unnamed}");
    let contradiction = Indication::decode(
        Format::Json,
        text.replace(r#""reason":"path-secure""#, r#""reason":"path-b-not-trusted""#).as_bytes(),
    )
    .expect_err("a reason that does not fit the answer");
    assert!(contradiction.to_string().starts_with("indication field `reason`:"), "{contradiction}");
    let digest =
        Indication::decode(Format::Json, text.replace("sha256:00", "sha256:0").as_bytes()).expect_err("a short digest");
    assert!(digest.to_string().starts_with("indication field `lists`:"), "{digest}");
}

// The server side (FIG. 7 steps 5-8a).

#[test]
fn an_unprotected_report_or_an_unknown_server_is_refused_and_nothing_is_stored() {
    let clock = clock();
    let (runtime, server) = node(&clock, |b| b);
    let mut worker = runtime.worker();
    assert_eq!(
        worker.register(&report("310410", SECURE), Carried::Unprotected),
        Err(RegistrationError::Unprotected { device: DEVICE.into() })
    );
    let elsewhere = Report { server: "other.example.com".parse().expect("valid"), ..report("310410", SECURE) };
    let error = worker.register(&elsewhere, Carried::Protected).expect_err("unknown server");
    assert!(error.to_string().contains("`other.example.com`, which this node does not serve"), "{error}");
    let device = runtime.device_id(DEVICE).expect("room");
    assert_eq!(runtime.registration_state(device, server), Ok(RegistrationState::None));
}

#[test]
fn a_server_its_lists_do_not_name_answers_when_it_serves_that_name() {
    let clock = clock();
    let serves = ["iot.example.com".parse().expect("valid")].into_iter().collect();
    let (runtime, _) = node(&clock, |b| b.registration(RegistrationConfig { serves, ..RegistrationConfig::default() }));
    let mut worker = runtime.worker();
    let ours = Report { server: "iot.example.com".parse().expect("valid"), ..report("310410", SECURE) };
    let indication = worker.register(&ours, Carried::Protected).expect("it serves that name");
    assert_eq!((indication.application_security, indication.reason), (true, Reason::PathBNotTrusted));
    // With `serves` set, a name the lists know but this node does not serve is refused too.
    let listed = report("310410", SECURE);
    assert!(matches!(worker.register(&listed, Carried::Protected), Err(RegistrationError::UnknownServer { .. })));
}

#[test]
fn without_a_network_view_the_report_is_the_information() {
    let clock = clock();
    let (runtime, server) = node(&clock, |b| b);
    let indication = runtime.worker().register(&report("20801", SECURE), Carried::Protected).expect("protected");
    assert_eq!((indication.application_security, indication.reason), (false, Reason::PathSecure));
    assert_eq!(indication.option, None, "no option is named when none is needed");
    assert_eq!(indication.lists, runtime.lists().lists_digest());
    assert_eq!(indication.expires, START.as_secs() + 24 * 3600);
    let device = runtime.device_id(DEVICE).expect("room");
    let agreement = Agreement {
        source: RegistrationSource::DeviceReport,
        application_security: false,
        accept_plain_unciphered: false,
    };
    assert_eq!(
        runtime.registration_state(device, server),
        Ok(RegistrationState::Standing(Registration::Agreed(agreement)))
    );
    // FIGS. 8-9: later traffic follows it, though the server has no attach facts of its own.
    assert_eq!(
        decide(&runtime, device, server, Role::Server, Event::SendData),
        (Action::SendPlain, Reason::PathSecure)
    );
    assert_eq!(
        decide(&runtime, device, server, Role::Server, Event::ReceiveUnprotected),
        (Action::Accept, Reason::PathSecure)
    );
    // Facts the server learns later void it only where they differ from the report.
    runtime.set_link(device, SECURE).expect("known");
    runtime.clear_attach(device).expect("known");
    assert!(matches!(runtime.registration_state(device, server), Ok(RegistrationState::Standing(_))));
    attach(&runtime, device, "44010", AccessKind::ThreeGpp);
    assert_eq!(
        runtime.registration_state(device, server),
        Ok(RegistrationState::Pending(ReRegistrationCause::PlmnChanged))
    );
    // A report whose path is not secure: security, with the option both support.
    let config =
        RegistrationConfig { options: vec!["oscore".parse().expect("option")], ..RegistrationConfig::default() };
    let (strict, _) = node(&clock, |b| b.registration(config));
    let insecure = strict.worker().register(&report("44010", SECURE), Carried::Protected).expect("protected");
    assert_eq!((insecure.application_security, insecure.reason), (true, Reason::InterconnectNotTrusted));
    assert_eq!(insecure.option.as_ref().map(|o| o.as_str()), Some("oscore"));
}

#[test]
fn a_network_view_is_checked_against_the_report() {
    let clock = clock();
    let (runtime, server) = node(&clock, |b| b);
    let device = runtime.device_id(DEVICE).expect("room");
    attach(&runtime, device, "310410", AccessKind::ThreeGpp);
    runtime.set_link(device, SECURE).expect("known");
    let mut worker = runtime.worker();
    let agreeing = worker.register(&report("310410", SECURE), Carried::Protected).expect("protected");
    assert!(!agreeing.application_security);
    let Ok(RegistrationState::Standing(Registration::Agreed(agreement))) = runtime.registration_state(device, server)
    else {
        panic!("an agreement stands")
    };
    assert_eq!(agreement.source, RegistrationSource::NetworkView);
    // The device claims ciphering it does not have in the network's view: mismatch.
    runtime.set_link(device, LinkState { ciphering: false, integrity: true }).expect("known");
    let disagreeing = worker.register(&report("310410", SECURE), Carried::Protected).expect("protected");
    assert_eq!((disagreeing.application_security, disagreeing.reason), (true, Reason::RegistrationMismatch));
    assert_eq!(
        decide(&runtime, device, server, Role::Server, Event::ReceiveUnprotected),
        (Action::DiscardAndSecure, Reason::RegistrationMismatch)
    );
}

#[test]
fn roaming_where_the_home_does_not_allow_is_answered_with_security() {
    let clock = clock();
    let roaming = [(plmn("310410"), [plmn("26201")].into_iter().collect())].into_iter().collect();
    let (runtime, _) =
        node(&clock, |b| b.registration(RegistrationConfig { roaming, ..RegistrationConfig::default() }));
    let mut worker = runtime.worker();
    let refused = worker.register(&report("20801", SECURE), Carried::Protected).expect("protected");
    assert_eq!((refused.application_security, refused.reason), (true, Reason::RoamingNotAllowed));
    let home = worker.register(&report("310410", SECURE), Carried::Protected).expect("protected");
    assert!(!home.application_security, "home is always allowed");
}

// What voids an agreement, and the events.

#[test]
fn attaching_the_server_to_another_network_voids_an_agreement_that_rested_on_its_lists() {
    // The device is at home with the server: path secure. The operator then says the server is attached
    // to 20801: List 2 has no (20801, server) pair, so the agreement no longer rests on what it did.
    let clock = clock();
    let (runtime, server) = node(&clock, |b| b);
    let events = runtime.reregistrations();
    let device = runtime.device_id(DEVICE).expect("room");
    attach(&runtime, device, "310410", AccessKind::ThreeGpp);
    let mut worker = runtime.worker();
    assert!(!worker.register(&report("310410", SECURE), Carried::Protected).expect("protected").application_security);
    runtime.update_lists(|lists| {
        lists.attach_server(server, plmn("20801"));
    });
    let event = events.try_recv().expect("an event");
    assert_eq!((event.device, event.cause), (device, ReRegistrationCause::ListsChanged));
    let again = worker.register(&report("310410", SECURE), Carried::Protected).expect("protected");
    assert_eq!(again.reason, Reason::PathBNotTrusted);
    // With the pair for its network, the path from home to 20801 is List 3's (20801 is there for every
    // home, but the device is at 310410, which is not).
    runtime.update_lists(|lists| {
        lists.trust_path_b(plmn("20801"), server);
    });
    let again = worker.register(&report("310410", SECURE), Carried::Protected).expect("protected");
    assert_eq!(again.reason, Reason::InterconnectNotTrusted);
    attach(&runtime, device, "20801", AccessKind::ThreeGpp);
    let roaming = worker.register(&report("20801", SECURE), Carried::Protected).expect("protected");
    assert_eq!((roaming.application_security, roaming.reason), (false, Reason::PathSecure));
}

#[test]
fn only_a_change_to_a_fact_it_rests_on_voids_an_agreement() {
    let clock = clock();
    let (runtime, server) = node(&clock, |b| b);
    let events = runtime.reregistrations();
    let device = runtime.device_id(DEVICE).expect("room");
    attach(&runtime, device, "20801", AccessKind::ThreeGpp);
    runtime.set_link(device, SECURE).expect("known");
    let mut worker = runtime.worker();
    assert!(!worker.register(&report("20801", SECURE), Carried::Protected).expect("protected").application_security);
    let flow = Flow { device, server, role: Role::Server, event: Event::SendData };

    // An unrelated list edit (another server, another network) leaves it standing.
    let other = runtime.server_id(&"other.example.com".parse().expect("valid"));
    runtime.update_lists(|lists| {
        lists.trust_path_b(plmn("310410"), other).trust_path_a(plmn("26201"));
    });
    assert!(events.try_recv().is_err());
    assert_eq!(worker.decide(&flow).action, Action::SendPlain);

    // Removing the List 3 entry it used voids it: pending until re-registration.
    runtime.update_lists(|lists| {
        lists.distrust_interconnect(plmn("20801"));
    });
    let event = events.try_recv().expect("an event");
    assert_eq!((event.device, event.server, event.cause), (device, server, ReRegistrationCause::ListsChanged));
    assert_eq!(event.server_name.as_ref().map(|n| n.as_str()), Some("mtc.example.com"));
    assert_eq!(worker.decide(&flow).reason, Reason::RegistrationPending);
    let again = worker.register(&report("20801", SECURE), Carried::Protected).expect("protected");
    assert_eq!(again.reason, Reason::InterconnectNotTrusted);
    assert_eq!(worker.decide(&flow).reason, Reason::RegistrationRequiresApplicationSecurity);

    // Each trigger of FIG. 10 step 1.
    let cases: [(&dyn Fn(), ReRegistrationCause); 4] = [
        (&|| attach(&runtime, device, "44010", AccessKind::ThreeGpp), ReRegistrationCause::PlmnChanged),
        (&|| attach(&runtime, device, "20801", AccessKind::TrustedNon3gpp), ReRegistrationCause::AccessChanged),
        (
            &|| runtime.set_link(device, LinkState { ciphering: false, integrity: true }).expect("known"),
            ReRegistrationCause::AccessSecurityChanged,
        ),
        (
            &|| assert!(runtime.request_reregistration(device, server).expect("known")),
            ReRegistrationCause::ServerRequest,
        ),
    ];
    for (change, cause) in cases {
        attach(&runtime, device, "20801", AccessKind::ThreeGpp);
        runtime.set_link(device, SECURE).expect("known");
        while events.try_recv().is_ok() {}
        worker.register(&report("20801", SECURE), Carried::Protected).expect("protected");
        assert_ne!(worker.decide(&flow).reason, Reason::RegistrationPending);
        change();
        assert_eq!(events.try_recv().map(|event| event.cause), Ok(cause));
        assert_eq!(worker.decide(&flow).reason, Reason::RegistrationPending, "{cause}");
        assert!(matches!(runtime.registration_state(device, server), Ok(RegistrationState::Pending(c)) if c == cause));
    }

    // The timer, by the runtime's clock.
    attach(&runtime, device, "20801", AccessKind::ThreeGpp);
    runtime.set_link(device, SECURE).expect("known");
    worker.register(&report("20801", SECURE), Carried::Protected).expect("protected");
    while events.try_recv().is_ok() {}
    assert_eq!(runtime.poll_registrations(), 0, "earlier timers belonged to voided agreements");
    assert_eq!(
        runtime.next_registration_timer(),
        Some(SystemTime::UNIX_EPOCH + START + Duration::from_secs(24 * 3600)),
        "the embedder can wait until then"
    );
    clock.advance(Duration::from_secs(24 * 3600 - 1));
    assert_eq!(runtime.poll_registrations(), 0);
    assert_ne!(worker.decide(&flow).reason, Reason::RegistrationPending);
    clock.advance(Duration::from_secs(1));
    assert_eq!(worker.decide(&flow).reason, Reason::RegistrationPending, "expired before the sweep, too");
    assert_eq!(runtime.poll_registrations(), 1);
    assert_eq!(events.try_recv().map(|event| event.cause), Ok(ReRegistrationCause::TimerExpired));
}

// The device side (FIG. 7 steps 2-4 and 8b, FIGS. 8-9).

/// A device node and a server node; the device registers and stores the server's answer.
fn exchange(device_config: DeviceConfig, link: LinkState) -> (Runtime, DeviceId, ServerId, Indication) {
    let clock = clock();
    let (server_node, _) = node(&clock, |b| b);
    let (device_node, _) = node(&clock, |b| b.device_config(device_config));
    let device = device_node.device_id(DEVICE).expect("room");
    attach(&device_node, device, "310410", AccessKind::ThreeGpp);
    device_node.set_link(device, link).expect("known");
    let fqdn = "mtc.example.com".parse().expect("valid");
    let report = device_node.registration_report(device, &fqdn, Vec::new()).expect("facts known");
    let wire = report.encode(Format::Cbor);
    let indication = server_node
        .worker()
        .register(&Report::decode(Format::Cbor, &wire).expect("parses"), Carried::Protected)
        .expect("protected");
    let server = device_node.server_id(&fqdn);
    (device_node, device, server, indication)
}

#[test]
fn the_device_stores_the_indication_and_follows_it() {
    let (node, device, server, indication) = exchange(DeviceConfig::default(), SECURE);
    assert!(!indication.application_security);
    let state = node.accept_indication(device, &indication, Carried::Protected).expect("valid");
    assert!(
        matches!(state, RegistrationState::Standing(Registration::Agreed(a)) if a.source == RegistrationSource::ServerIndication)
    );
    assert_eq!(decide(&node, device, server, Role::Device, Event::SendData), (Action::SendPlain, Reason::PathSecure));
    // Replayed, for another device, from a server never reported to, expired: refused, state kept.
    assert!(matches!(
        node.accept_indication(device, &indication, Carried::Protected),
        Err(IndicationError::Replay { .. })
    ));
    let other =
        Indication { device: "imsi-310410000000002".into(), sequence: indication.sequence + 1, ..indication.clone() };
    assert!(matches!(
        node.accept_indication(device, &other, Carried::Protected),
        Err(IndicationError::WrongDevice { .. })
    ));
    let stranger = Indication {
        server: "other.example.com".parse().expect("valid"),
        sequence: indication.sequence + 1,
        ..indication.clone()
    };
    assert!(matches!(
        node.accept_indication(device, &stranger, Carried::Protected),
        Err(IndicationError::WrongServer { .. })
    ));
    let stale = Indication { expires: START.as_secs(), sequence: indication.sequence + 1, ..indication.clone() };
    assert!(matches!(node.accept_indication(device, &stale, Carried::Protected), Err(IndicationError::Expired { .. })));
    assert!(matches!(node.registration_state(device, server), Ok(RegistrationState::Standing(_))));
    // The device moves: its own re-registration is due.
    attach(&node, device, "20801", AccessKind::ThreeGpp);
    assert_eq!(decide(&node, device, server, Role::Device, Event::SendData).1, Reason::RegistrationPending);
}

#[test]
fn an_indication_answers_the_last_report_sent_and_arrives_protected() {
    let (node, device, server, first) = exchange(DeviceConfig::default(), SECURE);
    let refused = node.accept_indication(device, &first, Carried::Unprotected);
    assert!(matches!(refused, Err(IndicationError::Unprotected { .. })), "{refused:?}");
    // The device moves and reports again (FIG. 10 step 1) before the first answer arrives: that answer
    // was made for a serving network it no longer has.
    attach(&node, device, "20801", AccessKind::ThreeGpp);
    let fqdn = "mtc.example.com".parse().expect("valid");
    let second = node.registration_report(device, &fqdn, Vec::new()).expect("facts known");
    let late = node.accept_indication(device, &first, Carried::Protected);
    assert!(matches!(late, Err(IndicationError::OtherReport { answers: 1, last: 2, .. })), "{late:?}");
    // The last report's number with another report's digest: made for a report this device did not send.
    let forged = Indication { report_sequence: second.sequence, sequence: first.sequence + 1, ..first.clone() };
    let mismatch = node.accept_indication(device, &forged, Carried::Protected);
    assert!(matches!(mismatch, Err(IndicationError::ReportMismatch { sequence: 2, .. })), "{mismatch:?}");
    assert_eq!(node.registration_state(device, server), Ok(RegistrationState::None), "nothing was stored");
    let answer = Indication { report: second.digest(), ..forged };
    assert!(matches!(node.accept_indication(device, &answer, Carried::Protected), Ok(RegistrationState::Standing(_))));
}

#[test]
fn an_outcome_rests_on_the_facts_reported_not_the_latest() {
    // The device reported integrity and ciphering on; before the answer arrives both go off, and it has
    // not reported again. The answer is stored against what was reported, so it is pending at once.
    let (node, device, server, indication) = exchange(DeviceConfig::default(), SECURE);
    node.set_link(device, LinkState { ciphering: false, integrity: false }).expect("known");
    let state = node.accept_indication(device, &indication, Carried::Protected).expect("valid");
    assert!(matches!(state, RegistrationState::Pending(ReRegistrationCause::AccessSecurityChanged)), "{state:?}");
    assert_eq!(decide(&node, device, server, Role::Device, Event::SendData).1, Reason::RegistrationPending);
}

#[test]
fn a_device_without_ciphering_refuses_no_security_unless_configured_for_that_server() {
    let unciphered = LinkState { ciphering: false, integrity: true };
    // The server would not say "no security" to an unciphered device on its own lists; one that needs
    // none says so, which is the case the device's configuration is for (FIG. 7 step 7).
    let (node, device, server, indication) = exchange(DeviceConfig::default(), unciphered);
    let plain = Indication { application_security: false, reason: Reason::PathSecure, ..indication };
    node.accept_indication(device, &plain, Carried::Protected).expect("valid");
    assert_eq!(
        decide(&node, device, server, Role::Device, Event::SendData),
        (Action::SecureThenSend, Reason::AccessCipheringOff)
    );
    let trusting = DeviceConfig {
        accept_plain_from: ["mtc.example.com".parse().expect("valid")].into_iter().collect(),
        ..DeviceConfig::default()
    };
    let (node, device, server, indication) = exchange(trusting, unciphered);
    let plain = Indication { application_security: false, reason: Reason::PathSecure, ..indication };
    node.accept_indication(device, &plain, Carried::Protected).expect("valid");
    assert_eq!(decide(&node, device, server, Role::Device, Event::SendData), (Action::SendPlain, Reason::PathSecure));
}

// Per-home List 3 (000 claim 12).

#[test]
fn list_3_is_relative_to_the_home_network() {
    let clock = clock();
    let (runtime, server) = node(&clock, |b| b);
    let other_home = plmn("50501");
    runtime.update_lists(|lists| {
        lists.trust_path_b(other_home, server).trust_path_a(plmn("26201"));
        lists.trust_interconnect_for(plmn("310410"), plmn("26201"));
    });
    let visitor = |name: &str, home: PlmnId| {
        let device = runtime.device_id(name).expect("room");
        runtime
            .set_attach(device, Attach { serving: Some(plmn("26201")), home, access: AccessKind::ThreeGpp })
            .expect("known");
        runtime.set_link(device, SECURE).expect("known");
        device
    };
    let ours = visitor("ours", plmn("310410"));
    let theirs = visitor("theirs", other_home);
    assert_eq!(decide(&runtime, ours, server, Role::Server, Event::SendData), (Action::SendPlain, Reason::PathSecure));
    assert_eq!(
        decide(&runtime, theirs, server, Role::Server, Event::SendData),
        (Action::SecureThenSend, Reason::InterconnectNotTrusted)
    );
}

// The 0.1.0 adapter.

#[test]
fn a_policy_built_for_0_1_0_still_decides_through_the_adapter() {
    let engine = pathsec_suite::engine();
    let policy = engine.load_policy("old.wasm", &fixtures::policy_v0_1()).expect("0.1.0 still loads");
    assert_eq!(policy.wit_version(), "0.1.0");
    assert!(!policy.has_packed_batch());
    let mut lists = pathsec::FactSet::builder();
    let server = lists.server("mtc.example.com".parse().expect("valid"));
    let lists = lists.trust_interconnect_for(plmn("310410"), plmn("20801")).build();
    // The fixture answers secure-then-send with the reason numbered as the registration case it saw
    // (none 0: path-secure, agreed 1: serving-network-unknown, mismatch 2: registration-mismatch).
    let seen = |registration: Registration| {
        let request = pathsec::Request {
            role: Role::Server,
            event: Event::SendData,
            server,
            attach: Attach { serving: Some(plmn("310410")), home: plmn("310410"), access: AccessKind::ThreeGpp },
            link: Some(SECURE),
            registration,
        };
        let decision = policy.decider().decide(&lists, &request);
        assert!(decision.fault.is_none(), "{decision}");
        decision.reason
    };
    let agreed = |application_security| {
        Registration::Agreed(Agreement {
            source: RegistrationSource::DeviceReport,
            application_security,
            accept_plain_unciphered: true,
        })
    };
    assert_eq!(seen(Registration::None), Reason::PathSecure);
    assert_eq!(seen(agreed(false)), Reason::ServingNetworkUnknown, "a standing agreement is `agreed`");
    assert_eq!(seen(agreed(true)), Reason::RegistrationMismatch, "one that needs security is `mismatch`");
    assert_eq!(seen(Registration::Mismatch), Reason::RegistrationMismatch);
}
