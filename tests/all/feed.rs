//! Facts written by a fact feed (`Runtime::apply_fed`): revisions applied in order per device, replays
//! harmless, the staleness bound failing decisions closed with its own reason and lifting again, and the
//! revision reported with every logged decision.

use pathsec::runtime::{DecisionLog, FedFacts, FedUpdate};
use pathsec::{AccessKind, Action, Attach, Event, Flow, LinkState, PlmnId, Reason, Role, Runtime};

const SECURE: LinkState = LinkState { ciphering: true, integrity: true };
const OFF: LinkState = LinkState { ciphering: false, integrity: false };

fn plmn(text: &str) -> PlmnId {
    text.parse().expect("valid PLMN-ID")
}

/// A node on the reference policy trusting 310410 for paths A and B with mtc.example.com.
fn node(configure: impl FnOnce(pathsec::runtime::RuntimeBuilder) -> pathsec::runtime::RuntimeBuilder) -> Runtime {
    let runtime =
        configure(Runtime::builder(pathsec_suite::bundled("reference").expect("bundled"))).build().expect("runtime");
    let server = runtime.server_id(&"mtc.example.com".parse().expect("valid"));
    runtime.update_lists(|lists| {
        lists.trust_path_a(plmn("310410")).trust_path_b(plmn("310410"), server);
    });
    runtime
}

fn at_home(link: LinkState) -> FedFacts {
    let home = plmn("310410");
    FedFacts { attach: Some(Attach { serving: Some(home), home, access: AccessKind::ThreeGpp }), link: Some(link) }
}

fn flow(runtime: &Runtime, name: &str) -> Flow {
    let device = runtime.device_id(name).expect("room");
    let server = runtime.server_id(&"mtc.example.com".parse().expect("valid"));
    Flow { device, server, role: Role::Server, event: Event::SendData }
}

#[test]
fn fed_updates_apply_in_revision_order_and_replays_change_nothing() {
    let runtime = node(|builder| builder);
    let flow = flow(&runtime, "meter");
    let mut worker = runtime.worker();
    assert_eq!(worker.decide(&flow).reason, Reason::AttachUnknown);

    assert_eq!(runtime.apply_fed(flow.device, at_home(SECURE), 7), Ok(FedUpdate::Applied));
    assert_eq!(worker.decide(&flow).action, Action::SendPlain);
    assert_eq!((runtime.fed_revision(flow.device), runtime.feed_revision()), (Some(7), 7));

    // An older update (delivered late) and a replay of the same revision change nothing.
    assert_eq!(runtime.apply_fed(flow.device, at_home(OFF), 5), Ok(FedUpdate::Current { revision: 7 }));
    assert_eq!(runtime.apply_fed(flow.device, at_home(OFF), 7), Ok(FedUpdate::Current { revision: 7 }));
    assert_eq!(worker.decide(&flow).action, Action::SendPlain);

    // A newer one applies, and the cached decision goes with the facts it rested on.
    assert_eq!(runtime.apply_fed(flow.device, at_home(OFF), 9), Ok(FedUpdate::Applied));
    assert_eq!(worker.decide(&flow).reason, Reason::AccessNotProtected);

    // A delete (no facts) fails closed as unknown facts do; its revision still orders what follows.
    assert_eq!(runtime.apply_fed(flow.device, FedFacts::default(), 12), Ok(FedUpdate::Applied));
    assert_eq!(worker.decide(&flow).reason, Reason::AttachUnknown);
    assert_eq!(runtime.apply_fed(flow.device, at_home(SECURE), 10), Ok(FedUpdate::Current { revision: 12 }));
    assert_eq!(worker.decide(&flow).reason, Reason::AttachUnknown);
    assert_eq!(runtime.feed_revision(), 12);
}

#[test]
fn stale_fed_facts_fail_closed_with_their_own_reason_until_the_feed_is_back() {
    let runtime = node(|builder| builder);
    let fed = flow(&runtime, "fed");
    let local = flow(&runtime, "local");
    runtime.apply_fed(fed.device, at_home(SECURE), 3).expect("known");
    let home = plmn("310410");
    runtime
        .set_attach(local.device, Attach { serving: Some(home), home, access: AccessKind::ThreeGpp })
        .expect("known");
    runtime.set_link(local.device, SECURE).expect("known");

    let mut worker = runtime.worker();
    let receive = Flow { event: Event::ReceiveUnprotected, ..fed };
    for flow in [fed, local, receive] {
        assert!(worker.decide(&flow).path_trusted()); // cached from here on
    }

    assert_eq!(runtime.mark_fed_stale(true), 1, "only the fed device is marked");
    assert_eq!(runtime.mark_fed_stale(true), 0, "marking twice changes nothing");
    let stale = worker.decide(&fed);
    assert_eq!((stale.action, stale.reason), (Action::SecureThenSend, Reason::FactsStale));
    let stale = worker.decide(&receive);
    assert_eq!((stale.action, stale.reason), (Action::DiscardAndSecure, Reason::FactsStale));
    assert!(worker.decide(&local).path_trusted(), "facts the node set itself do not rest on the feed");
    // The batch paths say the same.
    let batch = worker.decide_batch(&[fed, local, receive]);
    assert_eq!(
        batch.iter().map(|d| d.reason).collect::<Vec<_>>(),
        [Reason::FactsStale, Reason::PathSecure, Reason::FactsStale]
    );

    // A fresh update of the device lifts it at once; the others when the follower catches up.
    let other = flow(&runtime, "other");
    runtime.apply_fed(other.device, at_home(SECURE), 4).expect("known");
    runtime.mark_fed_stale(true);
    runtime.apply_fed(fed.device, at_home(SECURE), 5).expect("known");
    assert!(worker.decide(&fed).path_trusted());
    assert_eq!(worker.decide(&other).reason, Reason::FactsStale);
    assert_eq!(runtime.mark_fed_stale(false), 1);
    assert!(worker.decide(&other).path_trusted());
}

#[test]
fn the_log_names_the_feed_revision_of_fed_facts() {
    let path = tempfile::NamedTempFile::new().expect("temp file");
    let log = DecisionLog::to_file(path.path()).expect("log opens");
    let runtime = node(|builder| builder.decision_log(log));
    let fed = flow(&runtime, "fed");
    runtime.apply_fed(fed.device, at_home(SECURE), 41).expect("known");
    let mut worker = runtime.worker();
    worker.decide(&fed);
    worker.decide_batch(&[fed]);
    runtime.flush_log().expect("a log");
    let text = std::fs::read_to_string(path.path()).expect("log");
    let lines: Vec<serde_json::Value> = text.lines().map(|line| serde_json::from_str(line).expect("json")).collect();
    assert_eq!(lines.len(), 2);
    for line in lines {
        assert_eq!(line["facts"]["revision"], 41, "{line}");
    }
}

#[test]
fn a_fed_registration_outcome_is_followed_until_withdrawn_or_voided() {
    use pathsec::Registration;
    use pathsec::runtime::{FedAgreement, ReRegistrationCause};
    use pathsec::vocab::{Agreement, RegistrationSource};

    let runtime = node(|builder| builder);
    let flow = flow(&runtime, "meter");
    let events = runtime.reregistrations();
    runtime.apply_fed(flow.device, at_home(SECURE), 3).expect("known");
    let mut worker = runtime.worker();
    assert!(worker.decide(&flow).path_trusted());

    let expires =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_secs() + 3600;
    let home = plmn("310410");
    let agreed = |application_security, serving: &str| FedAgreement {
        registration: Registration::Agreed(Agreement {
            source: RegistrationSource::DeviceReport,
            application_security,
            accept_plain_unciphered: false,
        }),
        attach: Attach { serving: Some(plmn(serving)), home, access: AccessKind::ThreeGpp },
        link: SECURE,
        expires,
    };
    // Another server's outcome, shared through the feed: this node follows it.
    let apply = |agreement, revision| runtime.apply_fed_agreement(flow.device, flow.server, agreement, revision);
    assert_eq!(apply(Some(agreed(true, "310410")), 10), Ok(FedUpdate::Applied));
    assert_eq!(worker.decide(&flow).reason, Reason::RegistrationRequiresApplicationSecurity);
    assert_eq!(apply(Some(agreed(false, "310410")), 9), Ok(FedUpdate::Current { revision: 10 }), "older: ignored");
    assert_eq!(worker.decide(&flow).reason, Reason::RegistrationRequiresApplicationSecurity);

    // Withdrawn: the lists decide again.
    assert_eq!(apply(None, 11), Ok(FedUpdate::Applied));
    assert!(worker.decide(&flow).path_trusted());

    // Made on other facts than this node holds (the device roamed since): voided at once.
    assert_eq!(apply(Some(agreed(false, "20801")), 12), Ok(FedUpdate::Applied));
    assert_eq!(worker.decide(&flow).reason, Reason::RegistrationPending);
    let event = events.try_recv().expect("a re-registration event");
    assert_eq!((event.device, event.server, event.cause), (flow.device, flow.server, ReRegistrationCause::PlmnChanged));

    // Made on the facts it holds, then the device's fed facts change: voided as a local one would be.
    assert_eq!(apply(Some(agreed(false, "310410")), 13), Ok(FedUpdate::Applied));
    assert!(worker.decide(&flow).path_trusted());
    runtime.apply_fed(flow.device, at_home(OFF), 14).expect("known");
    assert_eq!(worker.decide(&flow).reason, Reason::RegistrationPending);
}
