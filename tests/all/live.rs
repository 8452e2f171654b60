//! The per-packet path: live facts, the per-flow cache, registration agreements and hot swap. Every
//! kind of change must make the next decision fresh; nothing else may.

use pathsec::{
    AccessKind, Action, Attach, DeviceId, Event, Flow, LinkState, PathATerms, PlmnId, Reason, Role, Runtime, ServerId,
    exchange::Report,
    runtime::{Carried, ReRegistrationCause, SwapError},
};
use pathsec_suite::fixtures::{self, BATCH_EMPTY, LOAD_OK, TRAP};

const SECURE: LinkState = LinkState { ciphering: true, integrity: true };

fn plmn(text: &str) -> PlmnId {
    text.parse().expect("valid PLMN-ID")
}

/// A runtime on the reference policy: home 310410 and visited 20801 trusted everywhere, 44010 in List 1
/// only; one device at home with a protected link; one server in List 2.
struct World {
    runtime: Runtime,
    device: DeviceId,
    server: ServerId,
}

fn world() -> World {
    let runtime = Runtime::new(pathsec_suite::bundled("reference").expect("bundled")).expect("runtime");
    let server = runtime.server_id(&"mtc.example.com".parse().expect("valid"));
    runtime.update_lists(|lists| {
        for network in ["310410", "20801", "44010"] {
            lists.trust_path_a(plmn(network));
        }
        lists.trust_path_b(plmn("310410"), server).trust_interconnect(plmn("20801"));
    });
    let device = runtime.device_id("imsi-310410000000001").expect("room for devices");
    attach(&runtime, device, Some("310410"));
    runtime.set_link(device, SECURE).expect("known device");
    World { runtime, device, server }
}

fn attach(runtime: &Runtime, device: DeviceId, serving: Option<&str>) {
    let attach = Attach { serving: serving.map(plmn), home: plmn("310410"), access: AccessKind::ThreeGpp };
    runtime.set_attach(device, attach).expect("known device");
}

impl World {
    fn flow(&self, event: Event) -> Flow {
        Flow { device: self.device, server: self.server, role: Role::Server, event }
    }
}

/// Decides `flow` twice: the first may miss, the second must hit and agree. Returns (action, reason).
fn decide_twice(worker: &mut pathsec::Worker, flow: &Flow) -> (Action, Reason) {
    let first = worker.decide(flow);
    let hits = worker.stats().hits;
    let second = worker.decide(flow);
    assert_eq!(worker.stats().hits, hits + 1, "the second decision is a cache hit");
    assert_eq!(first, second);
    assert!(first.fault.is_none(), "{first}");
    (first.action, first.reason)
}

#[test]
fn a_repeated_flow_is_a_cache_hit() {
    let w = world();
    let mut worker = w.runtime.worker();
    let flow = w.flow(Event::SendData);
    assert_eq!(decide_twice(&mut worker, &flow), (Action::SendPlain, Reason::PathSecure));
    for _ in 0..10 {
        worker.decide(&flow);
    }
    let stats = worker.stats();
    assert_eq!((stats.misses, stats.hits, stats.entries), (1, 11, 1));
}

#[test]
fn access_security_off_switches_a_cached_send_plain_at_once() {
    let w = world();
    let mut worker = w.runtime.worker();
    let flow = w.flow(Event::SendData);
    assert_eq!(decide_twice(&mut worker, &flow), (Action::SendPlain, Reason::PathSecure));
    w.runtime.set_link(w.device, LinkState::OFF).expect("known");
    assert_eq!(decide_twice(&mut worker, &flow), (Action::SecureThenSend, Reason::AccessNotProtected));
    // "Encryption and/or integrity" (000): integrity alone protects path A.
    w.runtime.set_link(w.device, LinkState { ciphering: false, integrity: true }).expect("known");
    assert_eq!(decide_twice(&mut worker, &flow), (Action::SendPlain, Reason::PathSecure));
    w.runtime.set_link(w.device, SECURE).expect("known");
    assert_eq!(decide_twice(&mut worker, &flow), (Action::SendPlain, Reason::PathSecure));
}

#[test]
fn integrity_off_invalidates_where_list_1_asks_for_it() {
    let w = world();
    let mut worker = w.runtime.worker();
    let flow = w.flow(Event::ReceiveUnprotected);
    w.runtime.set_link(w.device, LinkState { ciphering: true, integrity: false }).expect("known");
    assert_eq!(decide_twice(&mut worker, &flow), (Action::Accept, Reason::PathSecure));
    w.runtime.update_lists(|lists| {
        lists.trust_path_a_with(plmn("310410"), PathATerms::DEFAULT.requiring_integrity());
    });
    assert_eq!(decide_twice(&mut worker, &flow), (Action::DiscardAndSecure, Reason::AccessIntegrityOff));
    w.runtime.set_link(w.device, SECURE).expect("known");
    assert_eq!(decide_twice(&mut worker, &flow), (Action::Accept, Reason::PathSecure));
    w.runtime.update_lists(|lists| {
        lists.trust_path_a(plmn("310410")).require_integrity(true);
    });
    w.runtime.set_link(w.device, LinkState { ciphering: true, integrity: false }).expect("known");
    assert_eq!(decide_twice(&mut worker, &flow), (Action::DiscardAndSecure, Reason::AccessIntegrityOff));
}

#[test]
fn moving_network_invalidates() {
    let w = world();
    let mut worker = w.runtime.worker();
    let flow = w.flow(Event::SendData);
    assert_eq!(decide_twice(&mut worker, &flow), (Action::SendPlain, Reason::PathSecure));
    attach(&w.runtime, w.device, Some("44010"));
    assert_eq!(decide_twice(&mut worker, &flow), (Action::SecureThenSend, Reason::InterconnectNotTrusted));
    attach(&w.runtime, w.device, Some("20801"));
    assert_eq!(decide_twice(&mut worker, &flow), (Action::SendPlain, Reason::PathSecure));
    attach(&w.runtime, w.device, Some("31041"));
    assert_eq!(decide_twice(&mut worker, &flow), (Action::SecureThenSend, Reason::PathANotTrusted));
    attach(&w.runtime, w.device, None);
    assert_eq!(decide_twice(&mut worker, &flow), (Action::SecureThenSend, Reason::ServingNetworkUnknown));
}

#[test]
fn detaching_and_unknown_devices_fail_closed() {
    let w = world();
    let mut worker = w.runtime.worker();
    let flow = w.flow(Event::ReceiveUnprotected);
    w.runtime.clear_attach(w.device).expect("known");
    assert_eq!(decide_twice(&mut worker, &flow), (Action::DiscardAndSecure, Reason::AttachUnknown));
    attach(&w.runtime, w.device, Some("310410"));
    assert_eq!(decide_twice(&mut worker, &flow), (Action::Accept, Reason::PathSecure));

    let stranger = Flow { device: w.runtime.device_id("imsi-never-attached").expect("room for devices"), ..flow };
    assert_eq!(decide_twice(&mut worker, &stranger), (Action::DiscardAndSecure, Reason::AttachUnknown));
    // A link state never given: the server decides from List 1 (000, FIG. 12 step 6; row P9), the
    // device fails closed (row P6).
    let link_unknown = w.runtime.device_id("imsi-link-unknown").expect("room for devices");
    attach(&w.runtime, link_unknown, Some("310410"));
    let flow = Flow { device: link_unknown, ..flow };
    assert_eq!(decide_twice(&mut worker, &flow), (Action::Accept, Reason::PathSecure));
    let at_device = Flow { role: Role::Device, ..flow };
    assert_eq!(decide_twice(&mut worker, &at_device), (Action::DiscardAndSecure, Reason::AccessNotProtected));
    // The network stops telling the server: back to List 1.
    w.runtime.set_link(link_unknown, LinkState::OFF).expect("known");
    assert_eq!(decide_twice(&mut worker, &flow), (Action::DiscardAndSecure, Reason::AccessNotProtected));
    w.runtime.clear_link(link_unknown).expect("known");
    assert_eq!(decide_twice(&mut worker, &flow), (Action::Accept, Reason::PathSecure));
}

#[test]
fn list_changes_invalidate() {
    let w = world();
    let mut worker = w.runtime.worker();
    let flow = w.flow(Event::SendData);
    assert_eq!(decide_twice(&mut worker, &flow), (Action::SendPlain, Reason::PathSecure));
    w.runtime.update_lists(|lists| {
        lists.distrust_path_b(plmn("310410"), w.server);
    });
    assert_eq!(decide_twice(&mut worker, &flow), (Action::SecureThenSend, Reason::PathBNotTrusted));
    w.runtime.update_lists(|lists| {
        lists.trust_path_b(plmn("310410"), w.server);
    });
    assert_eq!(decide_twice(&mut worker, &flow), (Action::SendPlain, Reason::PathSecure));
    w.runtime.replace_lists(|lists| {
        lists.trust_path_b(plmn("310410"), w.server);
    });
    assert_eq!(decide_twice(&mut worker, &flow), (Action::SecureThenSend, Reason::PathANotTrusted));
    assert_eq!(w.runtime.lists().server(w.server).map(|s| s.as_str()), Some("mtc.example.com"), "servers survive");
}

#[test]
fn a_policy_swap_invalidates() {
    let w = world();
    let mut worker = w.runtime.worker();
    let flow = w.flow(Event::SendData);
    assert_eq!(decide_twice(&mut worker, &flow), (Action::SendPlain, Reason::PathSecure));
    w.runtime.swap(pathsec_suite::bundled("always-secure").expect("bundled")).expect("passes its self-check");
    assert_eq!(w.runtime.policy().name(), "always-secure");
    assert_eq!(decide_twice(&mut worker, &flow), (Action::SecureThenSend, Reason::PolicyRequiresApplicationSecurity));
    w.runtime.swap(pathsec_suite::bundled("reference").expect("bundled")).expect("passes");
    assert_eq!(decide_twice(&mut worker, &flow), (Action::SendPlain, Reason::PathSecure));
    assert_eq!(w.runtime.swaps(), 2);
}

#[test]
fn a_policy_failing_its_self_check_is_refused_and_the_old_one_stays() {
    let w = world();
    let mut worker = w.runtime.worker();
    let flow = w.flow(Event::SendData);
    let broken = pathsec_suite::engine().load_policy("broken.wasm", &fixtures::policy(LOAD_OK, TRAP, BATCH_EMPTY));
    let error = w.runtime.swap(broken.expect("loads")).expect_err("refused");
    assert!(matches!(error, SwapError::SelfCheck { .. }));
    assert_eq!(
        error.to_string(),
        "policy `broken.wasm` failed its self-check: policy trapped: wasm trap: wasm `unreachable` instruction executed: the active policy stays"
    );
    assert_eq!(w.runtime.policy().name(), "reference");
    assert_eq!(w.runtime.swaps(), 0);
    assert_eq!(decide_twice(&mut worker, &flow), (Action::SendPlain, Reason::PathSecure));
}

/// Once `update_lists` has returned, no decision is made on the lists before it — on a cache hit, a
/// miss or a batch, on any thread. The main thread toggles the flow's List 2 entry (path B trusted or
/// not, so the answer flips) and says which toggle it began and which returned; a decider's decision
/// that started after a toggle returned, with no other begun by its end, must get that toggle's answer.
#[test]
fn no_decision_is_made_on_the_lists_before_a_change_that_returned() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let w = world();
    let flow = w.flow(Event::SendData);
    let (home, server) = (plmn("310410"), w.server);
    let want = |toggle: usize| if toggle.is_multiple_of(2) { Action::SendPlain } else { Action::SecureThenSend };
    // `returned`: the last change whose call returned; `started`: the last change begun. A decision is
    // checked when no change began while it ran: it must be on the lists of the last one returned (a
    // decision that overlaps a change may see either side of it).
    let (returned, started) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let (stop, checked) = (AtomicBool::new(false), AtomicUsize::new(0));
    std::thread::scope(|scope| {
        for batch in [false, true] {
            let (w, returned, started, stop, checked) = (&w, &returned, &started, &stop, &checked);
            scope.spawn(move || {
                let mut worker = w.runtime.worker();
                while !stop.load(Ordering::Acquire) {
                    let before = returned.load(Ordering::Acquire);
                    let action =
                        if batch { worker.decide_batch(&[flow, flow])[1].action } else { worker.decide(&flow).action };
                    if started.load(Ordering::Acquire) == before {
                        assert_eq!(action, want(before), "toggle {before} had returned, and no other began");
                        checked.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
        for toggle in 1..=200usize {
            started.store(toggle, Ordering::Release);
            w.runtime.update_lists(|lists| {
                if !toggle.is_multiple_of(2) {
                    lists.distrust_path_b(home, server);
                } else {
                    lists.trust_path_b(home, server);
                }
            });
            returned.store(toggle, Ordering::Release);
            std::thread::sleep(std::time::Duration::from_micros(500));
        }
        stop.store(true, Ordering::Release);
    });
    assert!(
        checked.load(Ordering::Relaxed) > 200,
        "the deciders checked {} decisions",
        checked.load(Ordering::Relaxed)
    );
}

#[test]
fn unrelated_changes_keep_the_cache() {
    let w = world();
    let mut worker = w.runtime.worker();
    let flow = w.flow(Event::SendData);
    worker.decide(&flow);
    let other = w.runtime.device_id("imsi-310410000000002").expect("room for devices");
    attach(&w.runtime, other, Some("44010"));
    w.runtime.set_link(w.device, SECURE).expect("same link: no change");
    attach(&w.runtime, w.device, Some("310410"));
    let misses = worker.stats().misses;
    assert_eq!(worker.decide(&flow).action, Action::SendPlain);
    assert_eq!(worker.stats().misses, misses, "another device's change, or no change, keeps this flow cached");
}

fn report(serving: &str) -> Report {
    Report {
        device: "imsi-310410000000001".into(),
        server: "mtc.example.com".parse().expect("valid"),
        home: plmn("310410"),
        serving: plmn(serving),
        access: AccessKind::ThreeGpp,
        link: SECURE,
        options: Vec::new(),
        lists: None,
        sequence: 1,
    }
}

#[test]
fn a_registration_mismatch_holds_until_a_fact_it_rests_on_changes() {
    let w = world();
    let mut worker = w.runtime.worker();
    let events = w.runtime.reregistrations();
    let flow = w.flow(Event::SendData);
    let lied = worker.register(&report("20801"), Carried::Protected).expect("protected");
    assert_eq!((lied.application_security, lied.reason), (true, Reason::RegistrationMismatch));
    assert_eq!(decide_twice(&mut worker, &flow), (Action::SecureThenSend, Reason::RegistrationMismatch));

    // Neither a list edit nor a swap is a fact it rests on.
    w.runtime.update_lists(|lists| {
        lists.trust_interconnect(plmn("26202"));
    });
    w.runtime.swap(pathsec_suite::bundled("reference").expect("bundled")).expect("passes");
    w.runtime.set_link(w.device, SECURE).expect("no change");
    assert_eq!(decide_twice(&mut worker, &flow), (Action::SecureThenSend, Reason::RegistrationMismatch));
    assert!(events.try_recv().is_err(), "nothing was voided");

    // A move is: a re-registration is due, and decisions fail closed until it is made.
    attach(&w.runtime, w.device, Some("20801"));
    let event = events.try_recv().expect("a re-registration event");
    assert_eq!((event.device, event.server, event.cause), (w.device, w.server, ReRegistrationCause::PlmnChanged));
    assert_eq!(&*event.device_name, "imsi-310410000000001");
    let pending = worker.decide(&flow);
    assert_eq!((pending.action, pending.reason), (Action::SecureThenSend, Reason::RegistrationPending));

    // The honest re-registration: 20801 is in Lists 1 and 3.
    let honest = worker.register(&report("20801"), Carried::Protected).expect("protected");
    assert_eq!((honest.application_security, honest.reason), (false, Reason::PathSecure));
    assert!(honest.sequence > lied.sequence);
    assert_eq!(decide_twice(&mut worker, &flow), (Action::SendPlain, Reason::PathSecure));

    // A report on another server does not touch this one.
    w.runtime.server_id(&"other.example.com".parse().expect("valid"));
    let other = Report { server: "other.example.com".parse().expect("valid"), ..report("310410") };
    assert!(worker.register(&other, Carried::Protected).expect("protected").application_security);
    assert_eq!(decide_twice(&mut worker, &flow), (Action::SendPlain, Reason::PathSecure));
}

#[test]
fn handles_from_another_runtime_are_refused_or_fail_closed() {
    let w = world();
    let other = world().runtime;
    for i in 0..4 {
        other.device_id(&format!("device-{i}")).expect("room for devices");
    }
    let foreign = other.device_id("device-4").expect("room for devices");
    assert_eq!(foreign.get(), 5);
    let error = w.runtime.set_link(foreign, SECURE).expect_err("not issued by this runtime");
    assert_eq!(
        error.to_string(),
        "device handle 5 was not issued by this runtime: get handles from `Runtime::device_id`"
    );
    let mut worker = w.runtime.worker();
    let decision = worker.decide(&Flow { device: foreign, ..w.flow(Event::SendData) });
    assert_eq!((decision.action, decision.reason), (Action::SecureThenSend, Reason::AttachUnknown));
}

/// A change to the lists or the policy makes every worker's instances ready before it is published
/// (`update_lists`, `swap` do it on the calling thread): a worker that decided before the change takes
/// them and decides on without loading the lists itself. Only a worker's first decision loads.
#[test]
fn changes_prepare_every_workers_instances_before_they_are_published() {
    let w = world();
    let flow = w.flow(Event::SendData);
    let (mut first, mut second) = (w.runtime.worker(), w.runtime.worker());
    assert_eq!(first.decide(&flow).action, Action::SendPlain);
    assert_eq!(second.decide(&flow).action, Action::SendPlain);
    let before = w.runtime.metrics();
    assert_eq!(before.loads_while_deciding, 2, "each worker's first decision loads");
    for toggle in 1..=4 {
        w.runtime.update_lists(|lists| {
            if toggle % 2 == 1 {
                lists.distrust_path_b(plmn("310410"), w.server);
            } else {
                lists.trust_path_b(plmn("310410"), w.server);
            }
        });
        let want = if toggle % 2 == 1 { Action::SecureThenSend } else { Action::SendPlain };
        assert_eq!(first.decide(&flow).action, want);
        assert_eq!(second.decide_batch(&[flow])[0].action, want);
    }
    w.runtime.swap(pathsec_suite::bundled("reference").expect("bundled")).expect("passes its self-check");
    assert_eq!(first.decide(&flow).action, Action::SendPlain);
    let after = w.runtime.metrics();
    assert_eq!(after.loads_while_deciding, 2, "no worker loaded while deciding after a change");
    assert_eq!(after.instances_prepared - before.instances_prepared, 2 * 5, "two workers, five changes");
    // A worker gone is not prepared for; one made after the change loads for its first decision.
    drop(second);
    w.runtime.update_lists(|lists| {
        lists.distrust_path_b(plmn("310410"), w.server);
    });
    let mut third = w.runtime.worker();
    assert_eq!(third.decide(&flow).action, Action::SecureThenSend);
    assert_eq!(first.decide(&flow).action, Action::SecureThenSend);
    let last = w.runtime.metrics();
    assert_eq!(last.instances_prepared - after.instances_prepared, 1);
    assert_eq!(last.loads_while_deciding, 3);
}
