//! The ABI from Rust, where C cannot check it: deciding allocates nothing, and a worker used by two
//! threads at once is refused (`PATHSEC_ERR_BUSY`) rather than raced.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::ffi::CString;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use pathsec_ffi::*;

/// Counts allocations made on a thread while its `COUNTING` is on (other tests run beside it).
struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

fn counting() -> bool {
    COUNTING.try_with(Cell::get).unwrap_or(false)
}

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if counting() {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        // SAFETY: as the caller's.
        unsafe { System.dealloc(pointer, layout) }
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, size: usize) -> *mut u8 {
        if counting() {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: as the caller's.
        unsafe { System.realloc(pointer, layout, size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn ok(status: PathsecStatus) {
    // SAFETY: `pathsec_last_error` returns a NUL-terminated string that lives until the next call.
    let error = unsafe { std::ffi::CStr::from_ptr(pathsec_last_error()) };
    assert_eq!(status, PATHSEC_OK, "{error:?}");
}

/// A runtime on the reference policy with one device at home on a secure path, a worker, and its flow.
fn setup() -> (PathsecHandle, PathsecHandle, PathsecFlow) {
    let (mut runtime, mut worker) = (0, 0);
    let policy = load(pathsec::bundled::REFERENCE, "reference.wasm");
    // SAFETY: valid pointers for each call.
    unsafe {
        ok(pathsec_runtime_new(policy, &mut runtime));
        let lists =
            CString::new("path-a = [\"310410\"]\npath-b = [{ home = \"310410\", server = \"mtc.example.com\" }]\n")
                .expect("no NUL");
        let file = CString::new("lists.toml").expect("no NUL");
        ok(pathsec_runtime_set_lists(runtime, file.as_ptr(), lists.as_ptr()));
        let (mut device, mut server) = (0, 0);
        let fqdn = CString::new("mtc.example.com").expect("no NUL");
        ok(pathsec_runtime_server(runtime, fqdn.as_ptr(), &mut server));
        let meter = CString::new("meter").expect("no NUL");
        ok(pathsec_runtime_device(runtime, meter.as_ptr(), &mut device));
        let plmn = CString::new("310410").expect("no NUL");
        let attach = PathsecAttach {
            size: size_of::<PathsecAttach>() as u32,
            serving: plmn.as_ptr(),
            home: plmn.as_ptr(),
            access: PATHSEC_ACCESS_3GPP,
        };
        ok(pathsec_runtime_set_attach(runtime, device, &attach));
        ok(pathsec_runtime_set_link(runtime, device, true, true));
        ok(pathsec_worker_new(runtime, &mut worker));
        ok(pathsec_policy_free(policy));
        let flow = PathsecFlow {
            device,
            server,
            role: PATHSEC_ROLE_SERVER,
            event: PATHSEC_EVENT_SEND_DATA,
            ..PathsecFlow::default()
        };
        (runtime, worker, flow)
    }
}

#[test]
fn deciding_allocates_nothing() {
    let (runtime, worker, flow) = setup();
    let batch = [flow; 64];
    let mut answers = [PathsecDecision::default(); 64];
    let mut decision = PathsecDecision::default();
    // Warm: the instance made, the lists loaded into it, the batch buffers grown.
    for link in [false, true] {
        ok(pathsec_runtime_set_link(runtime, flow.device, link, link));
        // SAFETY: valid pointers.
        unsafe {
            ok(pathsec_worker_decide(worker, &flow, &mut decision));
            ok(pathsec_worker_decide_batch(worker, batch.as_ptr(), 64, answers.as_mut_ptr()));
        }
    }
    let mut counted = 0;
    for round in 0..1_000 {
        // A miss every other round (outside the count: a fact update may allocate), hits between.
        if round % 2 == 0 {
            ok(pathsec_runtime_set_link(runtime, flow.device, round % 4 == 0, round % 4 == 0));
        }
        COUNTING.set(true);
        // SAFETY: valid pointers.
        unsafe {
            ok(pathsec_worker_decide(worker, &flow, &mut decision));
            ok(pathsec_worker_decide(worker, &flow, &mut decision));
        }
        COUNTING.set(false);
        counted += 2;
        if round % 4 == 1 {
            ok(pathsec_runtime_set_link(runtime, flow.device, true, true));
        }
        COUNTING.set(true);
        // SAFETY: valid pointers.
        unsafe { ok(pathsec_worker_decide_batch(worker, batch.as_ptr(), 64, answers.as_mut_ptr())) };
        COUNTING.set(false);
        counted += 64;
    }
    assert_eq!(ALLOCATIONS.load(Ordering::SeqCst), 0, "allocations over {counted} decisions");
    assert_eq!(decision.action, PATHSEC_ACTION_SECURE_THEN_SEND); // the last round: access security off
    ok(pathsec_worker_free(worker));
    ok(pathsec_runtime_free(runtime));
}

#[test]
fn a_worker_used_by_two_threads_at_once_is_refused_not_raced() {
    let (runtime, worker, flow) = setup();
    let busy = AtomicU64::new(0);
    let deadline = Instant::now() + Duration::from_secs(20);
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                let mut decision = PathsecDecision::default();
                while busy.load(Ordering::Relaxed) == 0 && Instant::now() < deadline {
                    ok(pathsec_runtime_set_link(runtime, flow.device, true, true)); // a miss: longer inside
                    // SAFETY: valid pointers.
                    match unsafe { pathsec_worker_decide(worker, &flow, &mut decision) } {
                        PATHSEC_OK => assert_eq!(decision.action, PATHSEC_ACTION_SEND_PLAIN),
                        PATHSEC_ERR_BUSY => {
                            // SAFETY: the thread's own message.
                            let message = unsafe { std::ffi::CStr::from_ptr(pathsec_last_error()) }
                                .to_string_lossy()
                                .into_owned();
                            assert!(message.contains("is in use on another thread now"), "{message}");
                            busy.fetch_add(1, Ordering::Relaxed);
                        }
                        other => panic!("status {other}"),
                    }
                }
            });
        }
    });
    assert!(busy.load(Ordering::Relaxed) > 0, "two threads deciding with one worker for 20 s never met");
    ok(pathsec_worker_free(worker));
    ok(pathsec_runtime_free(runtime));
}

/// Loads a bundled policy as a C caller would.
fn load(bytes: &[u8], name: &str) -> PathsecHandle {
    let (mut engine, mut policy) = (0, 0);
    let name = CString::new(name).expect("no NUL");
    // SAFETY: valid pointers.
    unsafe {
        ok(pathsec_engine_new(std::ptr::null(), &mut engine));
        ok(pathsec_policy_load_bytes(
            engine,
            name.as_ptr(),
            bytes.as_ptr(),
            bytes.len(),
            std::ptr::null(),
            &mut policy,
        ));
    }
    ok(pathsec_engine_free(engine));
    policy
}

/// The policy deciding for `device`, by name.
fn enforcing(runtime: PathsecHandle, device: u32) -> String {
    let mut buffer = [0u8; 64];
    let mut written = 0;
    // SAFETY: valid pointers; the buffer's length is given.
    ok(unsafe { pathsec_runtime_enforcing(runtime, device, buffer.as_mut_ptr(), buffer.len(), &mut written) });
    String::from_utf8(buffer[..written].to_vec()).expect("UTF-8")
}

#[test]
fn a_c_caller_runs_a_canary_and_a_shadow() {
    let (runtime, worker, flow) = setup();
    let strict = load(pathsec::bundled::ALWAYS_SECURE, "always-secure.wasm");
    let mut decision = PathsecDecision::default();
    let decide = |decision: &mut PathsecDecision| {
        // SAFETY: valid pointers.
        ok(unsafe { pathsec_worker_decide(worker, &flow, decision) });
        decision.action
    };
    assert_eq!(enforcing(runtime, flow.device), "reference.wasm");
    assert_eq!(decide(&mut decision), PATHSEC_ACTION_SEND_PLAIN);

    // Refused: a percentage outside 0-100, a shadow sampled every 0th miss, promoting no canary.
    assert_eq!(pathsec_runtime_start_canary(runtime, strict, 100.5), PATHSEC_ERR_INVALID);
    assert_eq!(pathsec_runtime_start_shadow(runtime, strict, 0), PATHSEC_ERR_INVALID);
    assert_eq!(pathsec_runtime_promote(runtime), PATHSEC_ERR_POLICY);
    assert_eq!(decide(&mut decision), PATHSEC_ACTION_SEND_PLAIN, "what runs stayed");

    // The strict baseline as a canary for every device, then rolled back.
    ok(pathsec_runtime_start_canary(runtime, strict, 100.0));
    assert_eq!(enforcing(runtime, flow.device), "always-secure.wasm");
    assert_eq!(decide(&mut decision), PATHSEC_ACTION_SECURE_THEN_SEND);
    ok(pathsec_runtime_roll_back(runtime));
    assert_eq!(decide(&mut decision), PATHSEC_ACTION_SEND_PLAIN);

    // As a shadow: the decision stays the reference's; the metrics count the disagreement.
    ok(pathsec_runtime_start_shadow(runtime, strict, 1));
    assert_eq!(decide(&mut decision), PATHSEC_ACTION_SEND_PLAIN);
    let mut text = vec![0u8; 1 << 16];
    let mut written = 0;
    // SAFETY: valid pointers.
    ok(unsafe { pathsec_runtime_metrics_text(runtime, text.as_mut_ptr(), text.len(), &mut written) });
    let text = String::from_utf8(text[..written].to_vec()).expect("UTF-8");
    assert!(
        text.contains(r#"pathsec_shadow_decisions_total{shadow="always-secure.wasm",outcome="disagreed"} 1"#),
        "{text}"
    );
    ok(pathsec_runtime_end_shadow(runtime));

    // Promoted: the strict baseline for everyone.
    ok(pathsec_runtime_start_canary(runtime, strict, 0.0));
    assert_eq!(enforcing(runtime, flow.device), "reference.wasm");
    ok(pathsec_runtime_promote(runtime));
    assert_eq!(enforcing(runtime, flow.device), "always-secure.wasm");
    assert_eq!(decide(&mut decision), PATHSEC_ACTION_SECURE_THEN_SEND);
    let mut written = 0;
    // SAFETY: a null buffer of capacity 0; `written` valid.
    let status = unsafe { pathsec_runtime_enforcing(runtime, 99, std::ptr::null_mut(), 0, &mut written) };
    assert_eq!(status, PATHSEC_ERR_DEVICE);
    ok(pathsec_policy_free(strict));
    ok(pathsec_worker_free(worker));
    ok(pathsec_runtime_free(runtime));
}
