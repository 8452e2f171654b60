//! Hostile and broken policies: each gives a clear load error or the fail-closed decision with a
//! fault that says why, and the engine — even the same decider — keeps deciding afterwards.

use std::time::Duration;

use pathsec::{
    AccessKind, Action, Attach, Decider, Decision, Engine, Event, FactSet, LinkState, PlmnId, Policy, PolicyFault,
    Reason, Registration, Request, Role, Runtime,
    vocab::{AccessIntegrity, EndToEnd, TriggerCheck},
    wasm::LoadError,
};
use pathsec_suite::fixtures::{self, *};

/// Long enough that a well-behaved call never hits it on a loaded two-core machine; short enough that
/// the endless loops end quickly.
const DEADLINE: Duration = Duration::from_millis(50);
const LOAD_DEADLINE: Duration = Duration::from_millis(400);
const MEMORY: usize = 4 << 20;

fn engine() -> Engine {
    let limits = pathsec::Limits {
        deadline: DEADLINE,
        load_deadline: LOAD_DEADLINE,
        memory: MEMORY,
        ..pathsec::Limits::default()
    };
    Engine::builder().limits(limits).build().expect("engine starts")
}

fn load(engine: &Engine, bytes: &[u8]) -> Policy {
    engine.load_policy("fixture", bytes).unwrap_or_else(|e| panic!("fixture should load: {e}"))
}

fn facts() -> FactSet {
    let mut builder = FactSet::builder();
    let home: PlmnId = "310410".parse().expect("valid");
    let server = builder.server("mtc.example.com".parse().expect("valid"));
    builder.trust_path_a(home).trust_path_b(home, server);
    builder.build()
}

fn request(role: Role, event: Event) -> Request {
    let home: PlmnId = "310410".parse().expect("valid");
    let server = facts().to_builder().server("mtc.example.com".parse().expect("valid"));
    Request {
        role,
        event,
        server,
        attach: Attach { serving: Some(home), home, access: AccessKind::ThreeGpp },
        link: Some(LinkState { ciphering: true, integrity: true }),
        registration: Registration::None,
    }
}

/// The device's requests make the fixture misbehave; the server's are answered normally.
fn misbehaving_for_devices(body: &str) -> Vec<u8> {
    // The request crosses in memory (17 flat values): its role is the byte at its address.
    let decide = format!("(if (i32.eq (i32.load8_u (local.get 0)) (i32.const 1)) (then {body})) {DECIDE_STRICT}");
    fixtures::policy(LOAD_OK, &decide, BATCH_EMPTY)
}

/// Asserts the device's request fails closed with a fault `check` accepts, then that the same decider
/// answers the server's request normally (a fresh instance after the fault).
fn fails_closed_then_recovers(decider: &mut Decider, check: impl Fn(&PolicyFault) -> bool) {
    let facts = facts();
    for _ in 0..3 {
        let decision = decider.decide(&facts, &request(Role::Device, Event::SendData));
        assert_eq!((decision.action, decision.reason), (Action::SecureThenSend, Reason::PolicyFault));
        let fault = decision.fault.expect("a fault is attached");
        assert!(check(&fault), "unexpected fault: {fault}");
        let next = decider.decide(&facts, &request(Role::Server, Event::SendData));
        assert_eq!(next.fault, None, "the decider recovers");
        assert_eq!(next.action, Action::SecureThenSend);
        assert_eq!(next.reason, Reason::PolicyRequiresApplicationSecurity);
    }
}

#[test]
fn endless_loop_hits_the_deadline() {
    let engine = engine();
    let mut decider = load(&engine, &misbehaving_for_devices(SPIN)).decider();
    fails_closed_then_recovers(&mut decider, |fault| match fault {
        PolicyFault::DeadlineExceeded { elapsed, limit } => *limit == DEADLINE && *elapsed >= DEADLINE,
        _ => false,
    });
}

#[test]
fn memory_growth_hits_the_cap() {
    let engine = engine();
    let mut decider = load(&engine, &misbehaving_for_devices(MEMORY_BOMB)).decider();
    fails_closed_then_recovers(&mut decider, |fault| match fault {
        PolicyFault::MemoryLimitExceeded { requested, limit } => *limit == MEMORY && *requested > MEMORY,
        _ => false,
    });
}

#[test]
fn deep_recursion_exhausts_the_stack_and_fails_closed() {
    let engine = engine();
    let mut decider = load(&engine, &misbehaving_for_devices(RECURSE)).decider();
    fails_closed_then_recovers(
        &mut decider,
        |fault| matches!(fault, PolicyFault::Trap { message } if message.contains("call stack exhausted")),
    );
}

#[test]
fn a_trap_halfway_through_a_batch_fails_the_whole_batch_closed() {
    let engine = engine();
    let policy = load(&engine, &fixtures::packed_policy(LOAD_OK, DECIDE_STRICT, BATCH_EMPTY, PACKED_TRAP_HALFWAY));
    let mut decider = policy.decider();
    let requests = [request(Role::Server, Event::SendData), request(Role::Device, Event::ReceiveProtected)];
    for _ in 0..3 {
        let batch = decider.decide_batch(&facts(), &requests);
        // The answer written before the trap is not used: every decision is the fail-closed one.
        assert_eq!(batch.iter().map(|d| d.action).collect::<Vec<_>>(), [Action::SecureThenSend, Action::Discard]);
        for decision in &batch {
            assert!(matches!(decision.fault.as_deref(), Some(PolicyFault::Trap { .. })), "{decision}");
        }
        // The same decider answers a single request from a fresh instance.
        let single = decider.decide(&facts(), &request(Role::Server, Event::SendData));
        assert_eq!((single.action, single.fault), (Action::SecureThenSend, None));
    }
}

#[test]
fn trap_fails_closed() {
    let engine = engine();
    let mut decider = load(&engine, &misbehaving_for_devices(TRAP)).decider();
    fails_closed_then_recovers(
        &mut decider,
        |fault| matches!(fault, PolicyFault::Trap { message } if message.contains("unreachable")),
    );
}

#[test]
fn every_event_fails_closed_to_its_safe_action() {
    let engine = engine();
    let mut decider = load(&engine, &fixtures::policy(LOAD_OK, TRAP, TRAP)).decider();
    let facts = facts();
    let trigger = Event::ReceiveTrigger(TriggerCheck {
        access_integrity: AccessIntegrity::Verified,
        end_to_end: EndToEnd::Valid,
    });
    for (role, event, safe) in [
        (Role::Server, Event::SendData, Action::SecureThenSend),
        (Role::Server, Event::ReceiveUnprotected, Action::DiscardAndSecure),
        (Role::Server, Event::ReceiveProtected, Action::Discard),
        (Role::Device, trigger, Action::Discard),
        (Role::Server, Event::SendTrigger, Action::ProtectTrigger),
    ] {
        let decision = decider.decide(&facts, &request(role, event));
        assert_eq!(decision.action, safe, "{event:?}");
        assert_eq!(decision.reason, Reason::PolicyFault);
        let batch = decider.decide_batch(&facts, &[request(role, event); 3]);
        assert!(batch.iter().all(|d| d.action == safe && d.fault.is_some()), "{event:?} in a batch");
    }
}

#[test]
fn action_that_does_not_fit_the_event_fails_closed() {
    let engine = engine();
    let mut decider = load(&engine, &fixtures::policy(LOAD_OK, DECIDE_SEND_PLAIN, BATCH_EMPTY)).decider();
    let facts = facts();
    let sent = decider.decide(&facts, &request(Role::Server, Event::SendData));
    assert_eq!((sent.action, sent.fault), (Action::SendPlain, None), "send-plain fits a send");
    let received = decider.decide(&facts, &request(Role::Server, Event::ReceiveUnprotected));
    assert_eq!(received.action, Action::DiscardAndSecure);
    let fault = received.fault.expect("fault");
    assert_eq!(
        fault.to_string(),
        "policy answered `send-plain` to a server's `receive-unprotected`, which that role and event do not allow"
    );
    // The role counts too: a device never sends a trigger plain, a server never accepts one.
    let sent = decider.decide(&facts, &request(Role::Device, Event::SendTrigger));
    assert_eq!(sent.action, Action::ProtectTrigger);
    assert!(sent.fault.expect("fault").to_string().contains("to a device's `send-trigger`"));
}

#[test]
fn out_of_range_answer_fails_closed() {
    let engine = engine();
    let mut decider = load(&engine, &fixtures::policy(LOAD_OK, DECIDE_BAD_ENUM, BATCH_EMPTY)).decider();
    let decision = decider.decide(&facts(), &request(Role::Server, Event::SendData));
    assert_eq!(decision.action, Action::SecureThenSend);
    assert!(matches!(decision.fault.as_deref(), Some(PolicyFault::Trap { .. })), "{decision}");
}

#[test]
fn short_batch_answer_fails_closed() {
    let engine = engine();
    let mut decider = load(&engine, &fixtures::policy(LOAD_OK, DECIDE_STRICT, BATCH_EMPTY)).decider();
    let batch = decider.decide_batch(&facts(), &[request(Role::Server, Event::SendData); 5]);
    assert_eq!(batch.len(), 5);
    for decision in &batch {
        assert_eq!(decision.action, Action::SecureThenSend);
        let fault = decision.fault.as_deref().expect("fault");
        assert_eq!(fault.to_string(), "policy answered a batch of 5 requests with 0 decisions");
    }
}

#[test]
fn packed_batch_is_used_and_its_answers_checked() {
    let engine = engine();
    let policy =
        load(&engine, &fixtures::packed_policy(LOAD_OK, DECIDE_STRICT, BATCH_EMPTY, &packed_every(PACKED_STRICT)));
    assert!(policy.has_packed_batch());
    let mut decider = policy.decider();
    let requests = [request(Role::Server, Event::SendData), request(Role::Server, Event::ReceiveUnprotected)];
    let batch = decider.decide_batch(&facts(), &requests);
    // Answered by decide-packed (decide-batch would answer nothing at all).
    assert_eq!(batch[0], Decision::new(Action::SecureThenSend, Reason::PolicyRequiresApplicationSecurity));
    // `secure-then-send` does not fit a receipt: that answer fails closed.
    assert_eq!(batch[1].action, Action::DiscardAndSecure);
    let fault = batch[1].fault.as_deref().expect("fault");
    assert!(matches!(fault, PolicyFault::ActionNotAllowed { .. }), "{fault}");
}

#[test]
fn packed_byte_naming_nothing_fails_closed() {
    let engine = engine();
    let policy = load(&engine, &fixtures::packed_policy(LOAD_OK, DECIDE_STRICT, BATCH_EMPTY, &packed_every(255)));
    let mut decider = policy.decider();
    let batch = decider.decide_batch(&facts(), &[request(Role::Server, Event::SendData); 3]);
    assert_eq!(batch.len(), 3);
    for decision in &batch {
        assert_eq!(decision.action, Action::SecureThenSend);
        assert_eq!(
            decision.fault.as_deref().expect("fault").to_string(),
            "policy's packed answer is byte 0xff, which names no action (bits 0-2, 0..=5) and reason (bits 3-7, 0..=16)"
        );
    }
}

#[test]
fn scalar_export_is_used_for_single_decisions_and_its_answers_checked() {
    let engine = engine();
    // `decide-one` answers by the role (bit 32 of the second word): a server's request gets
    // `secure-then-send` / `policy-requires-application-security`, as `decide` answers; a device's gets
    // byte 0xff, which names nothing.
    let one = format!(
        "(if (result i32) (i64.eqz (i64.and (local.get 1) (i64.const 0x100000000))) \
           (then (i32.const {PACKED_STRICT})) (else (i32.const 255)))"
    );
    let policy = load(&engine, &fixtures::scalar_policy(&one));
    assert!(policy.has_scalar_decision() && policy.has_packed_batch());
    let mut decider = policy.decider();
    let server = request(Role::Server, Event::SendData);
    assert_eq!(
        decider.decide(&facts(), &server),
        Decision::new(Action::SecureThenSend, Reason::PolicyRequiresApplicationSecurity)
    );
    let device = decider.decide(&facts(), &request(Role::Device, Event::SendData));
    assert_eq!(device.action, Action::SecureThenSend);
    assert_eq!(
        device.fault.as_deref().expect("fault").to_string(),
        "policy's packed answer is byte 0xff, which names no action (bits 0-2, 0..=5) and reason (bits 3-7, 0..=16)"
    );
    // `decide` itself is still there, and answers as it always did.
    assert_eq!(decider.decide_record(&facts(), &request(Role::Device, Event::SendData)).fault, None);
}

#[test]
fn a_trapping_scalar_export_fails_closed_and_the_next_decision_gets_a_fresh_instance() {
    let engine = engine();
    // Traps on a device's request.
    let one = format!(
        "(if (i64.ne (i64.and (local.get 1) (i64.const 0x100000000)) (i64.const 0)) (then (unreachable))) (i32.const {PACKED_STRICT})"
    );
    let mut decider = load(&engine, &fixtures::scalar_policy(&one)).decider();
    let trapped = decider.decide(&facts(), &request(Role::Device, Event::ReceiveUnprotected));
    assert_eq!(trapped.action, Action::DiscardAndSecure, "fails closed for the event");
    assert!(matches!(trapped.fault.as_deref(), Some(PolicyFault::Trap { .. })), "{trapped}");
    let next = decider.decide(&facts(), &request(Role::Server, Event::SendData));
    assert_eq!(next, Decision::new(Action::SecureThenSend, Reason::PolicyRequiresApplicationSecurity));
}

#[test]
fn a_scalar_export_deciding_otherwise_than_decide_fails_the_self_check() {
    // `decide` (and the packed batch) answer strict; `decide-one` says the path is secure.
    let lenient = fixtures::scalar_policy("(i32.const 0)");
    let runtime = Runtime::new(pathsec_suite::bundled("reference").expect("bundled")).expect("starts");
    let policy = load(&engine(), &lenient);
    let error = runtime.swap(policy).expect_err("refused");
    let message = error.to_string();
    assert!(
        message.contains(
            "policy's `decide-one` answers `send-plain / path-secure` where its `decide` answers \
                          `secure-then-send / policy-requires-application-security`"
        ),
        "{message}"
    );
    assert!(message.contains("must decide alike"), "{message}");
    assert_eq!(runtime.policy().name(), "reference", "the active policy stays");
}

#[test]
fn a_policy_built_before_decide_scalar_still_decides_through_decide() {
    let engine = engine();
    let policy =
        load(&engine, &fixtures::packed_policy(LOAD_OK, DECIDE_STRICT, BATCH_EMPTY, &packed_every(PACKED_STRICT)));
    assert!(policy.has_packed_batch() && !policy.has_scalar_decision());
    let decision = policy.decider().decide(&facts(), &request(Role::Server, Event::SendData));
    assert_eq!(decision, Decision::new(Action::SecureThenSend, Reason::PolicyRequiresApplicationSecurity));
}

#[test]
fn short_packed_answer_fails_closed() {
    let engine = engine();
    let policy = load(&engine, &fixtures::packed_policy(LOAD_OK, DECIDE_STRICT, BATCH_EMPTY, PACKED_ONE));
    let batch = policy.decider().decide_batch(&facts(), &[request(Role::Device, Event::ReceiveProtected); 4]);
    for decision in &batch {
        assert_eq!(decision.action, Action::Discard);
        let fault = decision.fault.as_deref().expect("fault");
        assert_eq!(fault.to_string(), "policy answered a batch of 4 requests with 1 decisions");
    }
}

#[test]
fn rejected_facts_fail_closed_until_new_facts_come() {
    let engine = engine();
    let mut decider = load(&engine, &fixtures::policy(LOAD_REJECTS, DECIDE_STRICT, BATCH_EMPTY)).decider();
    let facts = facts();
    for _ in 0..2 {
        let decision = decider.decide(&facts, &request(Role::Server, Event::SendData));
        let fault = decision.fault.expect("fault");
        assert_eq!(
            fault.to_string(),
            format!("policy rejected the facts of generation {}: lists rejected", facts.generation())
        );
    }
    assert!(decider.prepare(&facts).is_err());
}

#[test]
fn endless_load_hits_the_load_deadline() {
    let engine = engine();
    let mut decider = load(&engine, &fixtures::policy(SPIN, DECIDE_STRICT, BATCH_EMPTY)).decider();
    let decision = decider.decide(&facts(), &request(Role::Server, Event::ReceiveUnprotected));
    assert_eq!(decision.action, Action::DiscardAndSecure);
    assert!(
        matches!(decision.fault.as_deref(), Some(PolicyFault::DeadlineExceeded { limit, .. }) if *limit == LOAD_DEADLINE),
        "{decision}"
    );
}

#[test]
fn table_growth_hits_the_cap() {
    let engine = engine();
    let mut decider = load(&engine, &misbehaving_for_devices(TABLE_BOMB)).decider();
    fails_closed_then_recovers(&mut decider, |fault| {
        matches!(fault, PolicyFault::TableLimitExceeded { requested: 200_000, limit: 100_000 })
    });
    assert_eq!(engine.limit_hits().table_elements, 3, "every refused growth counts");
}

#[test]
fn a_policy_needing_more_instances_than_the_cap_fails_closed() {
    let limits = pathsec::Limits { instances: 1, ..pathsec::Limits::default() };
    let engine = Engine::builder().limits(limits).build().expect("engine starts");
    // The bundled reference policy is several core instances (the policy and its WASI adapter).
    let reference = engine.load_policy("reference", pathsec::bundled::REFERENCE).expect("compiles");
    let decision = reference.decider().decide(&facts(), &request(Role::Server, Event::SendData));
    assert_eq!((decision.action, decision.reason), (Action::SecureThenSend, Reason::PolicyFault));
    let fault = decision.fault.expect("a fault");
    assert!(
        matches!(&*fault, PolicyFault::InstanceLimitExceeded { count: 2, limit: 1, .. }),
        "unexpected fault: {fault}"
    );
    assert!(fault.to_string().contains("raise `Limits::instances`"), "{fault}");
    assert_eq!(engine.limit_hits().instances, 1);
}

#[test]
fn limit_hits_are_counted_per_engine() {
    let engine = engine();
    assert_eq!(engine.limit_hits(), pathsec::wasm::LimitHits::default());
    for body in [SPIN, MEMORY_BOMB] {
        let mut hostile = load(&engine, &misbehaving_for_devices(body)).decider();
        assert!(hostile.decide(&facts(), &request(Role::Device, Event::SendData)).fault.is_some());
    }
    let hits = engine.limit_hits();
    assert_eq!((hits.deadline, hits.memory, hits.module_size, hits.list_entries), (1, 1, 0, 0));
    assert_eq!((hits.table_elements, hits.instances), (0, 0));
    assert_eq!(engine.clone().limit_hits(), hits, "clones share the counts");
}

#[test]
fn a_policy_over_the_size_limit_is_refused_and_a_file_of_it_is_not_read() {
    let limits = pathsec::Limits { module_size: 1 << 20, ..pathsec::Limits::default() };
    let engine = Engine::builder().limits(limits).build().expect("engine");
    let big = vec![0u8; (1 << 20) + 1];
    let error = engine.load_policy("big.wasm", &big).expect_err("too large");
    assert!(matches!(error, LoadError::TooLarge { size, limit, .. } if size == (1 << 20) + 1 && limit == 1 << 20));
    assert!(error.to_string().starts_with("cannot load policy `big.wasm`: it is 1048577 bytes, more than the limit"));

    // A 100 MB file: refused from its size alone (a sparse file: nothing is written, nothing is read).
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("huge.wasm");
    std::fs::File::create(&path).expect("create").set_len(100 << 20).expect("sparse 100 MB");
    let error = pathsec_suite::engine().load_policy_file(&path).expect_err("too large for the default limit");
    assert!(matches!(error, LoadError::TooLarge { size, .. } if size == 100 << 20), "{error}");
    assert_eq!(engine.limit_hits().module_size, 1);
}

#[test]
fn lists_over_the_entry_limit_are_not_loaded_and_decisions_fail_closed() {
    let limits = pathsec::Limits { list_entries: 2, ..pathsec::Limits::default() };
    let engine = Engine::builder().limits(limits).build().expect("engine");
    let mut decider = load(&engine, pathsec::bundled::REFERENCE).decider();
    let mut builder = facts().to_builder();
    for network in ["20801", "20802"] {
        builder.trust_path_a(network.parse().expect("valid"));
    }
    let long = builder.build();
    let decision = decider.decide(&long, &request(Role::Server, Event::SendData));
    assert_eq!(decision.action, Action::SecureThenSend);
    let fault = decision.fault.expect("a fault");
    assert!(matches!(*fault, PolicyFault::ListTooLong { list: "List 1", entries: 3, limit: 2, .. }), "{fault}");
    assert!(fault.to_string().contains("raise `Limits::list_entries`"), "{fault}");
    assert_eq!(engine.limit_hits().list_entries, 1);
    // The same generation is not tried again; a shorter one loads.
    decider.decide(&long, &request(Role::Server, Event::SendData));
    assert_eq!(engine.limit_hits().list_entries, 1);
    let decision = decider.decide(&facts(), &request(Role::Server, Event::SendData));
    assert_eq!((decision.action, decision.fault), (Action::SendPlain, None));
}

/// Every fault drops the failed instance before a new one is made: hundreds of faults leave one
/// instance per decider, and none once the deciders are gone.
#[test]
fn faults_leak_no_instances() {
    let engine = engine();
    assert_eq!(engine.live_instances(), 0);
    let mut deciders: Vec<Decider> = [TRAP, MEMORY_BOMB, RECURSE, TABLE_BOMB]
        .into_iter()
        .map(|body| load(&engine, &misbehaving_for_devices(body)).decider())
        .collect();
    for _ in 0..50 {
        for decider in &mut deciders {
            assert!(decider.decide(&facts(), &request(Role::Device, Event::SendData)).fault.is_some());
            assert!(decider.decide(&facts(), &request(Role::Server, Event::SendData)).fault.is_none());
        }
    }
    assert_eq!(engine.live_instances(), deciders.len(), "one live instance per decider after 400 faults");
    drop(deciders);
    assert_eq!(engine.live_instances(), 0);
}

#[test]
fn engine_keeps_deciding_after_hostile_policies() {
    let engine = engine();
    for bytes in [misbehaving_for_devices(SPIN), misbehaving_for_devices(MEMORY_BOMB), misbehaving_for_devices(TRAP)] {
        let mut hostile = load(&engine, &bytes).decider();
        let decision = hostile.decide(&facts(), &request(Role::Device, Event::SendData));
        assert!(decision.fault.is_some());
    }
    let reference = engine.load_policy("reference", pathsec::bundled::REFERENCE).expect("loads");
    let decision = reference.decider().decide(&facts(), &request(Role::Server, Event::SendData));
    assert_eq!((decision.action, decision.reason, decision.fault), (Action::SendPlain, Reason::PathSecure, None));
}

/// The `snoop` guest (`guest-policies/snoop`) reads files, lists directories, writes files, reads its
/// environment and arguments, connects to a listener this test opened, sends UDP to it, listens and
/// resolves names — at load and on every decision — and answers "send without security" if anything
/// worked. It must get nothing, run to the end (no fault), and nothing may reach the listeners.
#[test]
fn a_policy_reaching_for_files_environment_and_network_gets_nothing() {
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").expect("a local TCP listener");
    tcp.set_nonblocking(true).expect("non-blocking");
    let port = tcp.local_addr().expect("bound").port();
    let udp = std::net::UdpSocket::bind(("127.0.0.1", port)).expect("a local UDP socket on the same port");
    udp.set_nonblocking(true).expect("non-blocking");

    let engine = Engine::new().expect("engine starts");
    let snoop = engine.load_policy("snoop", &pathsec_suite::guests::test_guest("snoop")).expect("snoop loads");
    let mut builder = FactSet::builder();
    let home: PlmnId = "310410".parse().expect("valid");
    let server = builder.server(format!("p{port}.snoop.test").parse().expect("valid"));
    builder.trust_path_a(home).trust_path_b(home, server);
    let facts = builder.build();
    let mut decider = snoop.decider();
    for event in [Event::SendData, Event::ReceiveUnprotected] {
        let request = Request { server, ..request(Role::Server, event) };
        let decision = decider.decide(&facts, &request);
        assert_eq!(decision.fault, None, "the snoop runs to its end");
        assert_eq!(decision.reason, Reason::PolicyRequiresApplicationSecurity, "a capability reached the policy");
    }
    let batch = decider.decide_batch(&facts, &[Request { server, ..request(Role::Server, Event::SendData) }; 4]);
    assert!(batch.iter().all(|d| d.reason == Reason::PolicyRequiresApplicationSecurity), "{batch:?}");
    assert!(tcp.accept().is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock), "no TCP connection arrived");
    assert!(udp.recv(&mut [0; 16]).is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock), "no datagram arrived");
    for path in ["/tmp/pathsec-snoop", "pathsec-snoop"] {
        assert!(!std::path::Path::new(path).exists(), "the snoop wrote `{path}`");
    }
}

fn load_error(bytes: &[u8]) -> LoadError {
    engine().load_policy("bad.wasm", bytes).expect_err("must not load")
}

#[test]
fn bytes_that_are_not_wasm_are_refused() {
    let error = load_error(b"#!/bin/sh\necho not a policy\n");
    assert!(matches!(error, LoadError::NotWasm { .. }));
    assert_eq!(
        error.to_string(),
        "cannot load policy `bad.wasm`: not a WebAssembly component (no `\\0asm` header): give the `.wasm` file the policy build produced"
    );
    assert!(matches!(load_error(b""), LoadError::NotWasm { .. }));
}

#[test]
fn core_module_is_refused() {
    let error = load_error(&core_module());
    assert!(matches!(error, LoadError::CoreModule { .. }));
    assert!(
        error.to_string().contains("it is a core WebAssembly module, not a component: build it for `wasm32-wasip2`")
    );
}

#[test]
fn truncated_component_is_refused() {
    let mut bytes = pathsec::bundled::REFERENCE.to_vec();
    bytes.truncate(bytes.len() / 2);
    let error = load_error(&bytes);
    assert!(matches!(error, LoadError::Compile { .. }), "{error}");
    assert!(error.to_string().starts_with("cannot load policy `bad.wasm`: invalid component: "));
}

#[test]
fn component_without_the_export_is_refused() {
    let error = load_error(&empty_component());
    assert_eq!(
        error.to_string(),
        "cannot load policy `bad.wasm`: component does not export `pathsec:policy/decide@0.2.0` (nor 0.1.0's, which this host still runs): it must implement the world `pathsec:policy/path-secure`"
    );
}

#[test]
fn an_optional_export_of_another_world_fails_every_decision_closed_and_its_swap() {
    // Its function's types are checked when an instance is made (not at load: the load looks exports
    // up by name), so the first decision fails closed, and so does the self-check of a swap.
    let policy = engine().load_policy("odd-guard.wasm", &fixtures::wrong_trigger_guard()).expect("loads");
    let facts = FactSet::builder().build();
    let decision = policy.decider().decide(&facts, &request(Role::Server, Event::SendData));
    assert_eq!(decision.reason, Reason::PolicyFault);
    let fault = decision.fault.expect("a fault").to_string();
    assert!(
        fault.starts_with(
            "policy cannot be instantiated: its `pathsec:policy/trigger-guard@0.2.0` does not match this host's WIT: "
        ),
        "{fault}"
    );
    let refused = Runtime::new(policy).expect_err("the self-check refuses it").to_string();
    assert!(refused.starts_with("policy `odd-guard.wasm` failed its self-check"), "{refused}");
}

#[test]
fn component_of_another_world_is_refused() {
    let error = load_error(&wrong_world());
    assert!(matches!(error, LoadError::WrongWorld { .. }), "{error}");
    let text = error.to_string();
    assert!(
        text.starts_with("cannot load policy `bad.wasm`: its `pathsec:policy/decide@0.1.0` does not match"),
        "{text}"
    );
    assert!(text.ends_with("rebuild it against this host's `wit/`"), "{text}");
}

#[test]
fn component_importing_what_the_host_does_not_offer_is_refused() {
    let error = load_error(&foreign_import());
    assert_eq!(
        error.to_string(),
        "cannot load policy `bad.wasm`: it imports `evil:net/socket@0.1.0`, which this host does not offer: policies may import only WASI 0.2 interfaces, and get no capability through them"
    );
}

#[test]
fn missing_file_names_the_path() {
    let error = engine().load_policy_file("/nonexistent/strict.wasm").expect_err("no such file");
    assert_eq!(error.to_string(), "cannot read policy `/nonexistent/strict.wasm`");
    assert!(std::error::Error::source(&error).is_some());
}

#[test]
fn reason_indices_match_the_wit() {
    // The WAT fixtures write enum indices by hand; keep them honest against the WIT's order.
    let wit = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/wit/path-secure.wit")).expect("wit");
    let cases = |name: &str| -> Vec<String> {
        let start = wit.find(&format!("enum {name} {{")).expect("enum in WIT");
        let body = &wit[start..start + wit[start..].find('}').expect("closing brace")];
        body.lines()
            .skip(1)
            .map(str::trim)
            .filter(|l| !l.starts_with("///") && !l.is_empty())
            .map(|l| l.trim_end_matches(',').to_owned())
            .collect()
    };
    assert_eq!(cases("action")[1], "secure-then-send");
    assert_eq!(cases("reason")[0], "path-secure");
    assert_eq!(cases("reason")[13], "policy-requires-application-security");
    let host: Vec<&str> = Reason::ALL.iter().filter(|r| !r.is_engine_reason()).map(|r| r.name()).collect();
    assert_eq!(host, cases("reason"), "host reasons follow the WIT order");
}
