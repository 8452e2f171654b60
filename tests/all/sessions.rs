//! Data sessions (000, FIG. 7 step 3 note): a session that set up application-layer security keeps it
//! until it ends; a change that makes the path secure applies to new sessions. The table is bounded and
//! sessions end when idle.

use std::time::{Duration, SystemTime};

use pathsec::runtime::{ManualClock, SessionError};
use pathsec::{AccessKind, Action, Attach, Event, LinkState, PlmnId, Reason, Role, Runtime};

fn plmn(text: &str) -> PlmnId {
    text.parse().expect("valid PLMN-ID")
}

#[test]
fn a_secured_session_is_never_downgraded_and_new_sessions_see_the_change() {
    let clock = ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000));
    let runtime = Runtime::builder(pathsec_suite::bundled("reference").expect("bundled"))
        .clock(clock.clone())
        .sessions(2, Duration::from_secs(60))
        .build()
        .expect("runtime");
    let server = runtime.server_id(&"mtc.example.com".parse().expect("valid"));
    runtime.update_lists(|lists| {
        lists.trust_path_a(plmn("310410"));
    });
    let device = runtime.device_id("meter-17").expect("room");
    let home = plmn("310410");
    runtime.set_attach(device, Attach { serving: Some(home), home, access: AccessKind::ThreeGpp }).expect("known");
    runtime.set_link(device, LinkState { ciphering: true, integrity: true }).expect("known");
    let mut worker = runtime.worker();

    // List 2 lacks the pair: the session sets up application-layer security.
    let session = runtime.open_session(device, server).expect("room");
    let first = worker.decide_in(session, Role::Server, Event::SendData).expect("live");
    assert_eq!((first.action, first.reason), (Action::SecureThenSend, Reason::PathBNotTrusted));

    // The list changes and the path becomes secure: the live session keeps its security…
    runtime.update_lists(|lists| {
        lists.trust_path_b(home, server);
    });
    for event in [Event::SendData, Event::ReceiveUnprotected] {
        let kept = worker.decide_in(session, Role::Server, event).expect("live");
        assert_eq!((kept.action, kept.reason), (Action::fail_closed(event.kind()), Reason::SessionSecured));
    }
    let protected = worker.decide_in(session, Role::Server, Event::ReceiveProtected).expect("live");
    assert_eq!(protected.action, Action::Accept, "protected data is accepted as ever");
    // …and a new session goes plain.
    let fresh = runtime.open_session(device, server).expect("room");
    assert_eq!(worker.decide_in(fresh, Role::Server, Event::SendData).expect("live").action, Action::SendPlain);
    assert_eq!(runtime.session_stats().kept_secure, 2);

    // The bound: a third live session is refused, and counted.
    assert_eq!(runtime.open_session(device, server), Err(SessionError::Full { capacity: 2 }));
    assert_eq!(runtime.session_stats().refused_full, 1);
    // Closing frees a slot; the closed handle is stale.
    assert!(runtime.close_session(session));
    assert!(!runtime.close_session(session));
    assert!(matches!(worker.decide_in(session, Role::Server, Event::SendData), Err(SessionError::Ended { .. })));
    let third = runtime.open_session(device, server).expect("a slot was freed");
    assert_ne!(third, session, "a reused slot gets a new handle");

    // Idle sessions end: on use, and when the table needs their slots.
    clock.advance(Duration::from_secs(61));
    assert!(matches!(worker.decide_in(fresh, Role::Server, Event::SendData), Err(SessionError::Ended { .. })));
    runtime.open_session(device, server).expect("the ended one's slot");
    runtime.open_session(device, server).expect("the idle one is reclaimed");
    let stats = runtime.session_stats();
    assert_eq!((stats.open, stats.expired), (2, 2), "{stats:?}");
}
