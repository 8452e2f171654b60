//! One hot path, run in a loop for a profiler: `bash benches/profile.sh <subject>` runs it under
//! callgrind and prints instructions per decision.
//!
//! `cargo run --release -p pathsec-benches --bin profile -- <batch|miss|hit|constant|scalar-constant|constant-batch|
//! native|devices|c-batch|c-miss|shadow-…|log-…> [iterations]` (`constant`: a constant answer through
//! `decide`, the request as a record; `scalar-constant`: through `decide-one`, the request as two
//! words; `native`: the rule in native Rust; `devices`: devices named and given attach and link facts;
//! `c-…`: the same paths through the C ABI, `pathsec-ffi`; `shadow-…`: with a shadow — a second
//! instance of the reference — deciding beside the active policy at every miss; `log-batch`,
//! `log-miss`, `log-hit`: with a decision log to a file).
//!
//! Same facts and flows as the `engines` bench at operator list sizes.

use std::hint::black_box;

use pathsec::{Engine, bundled};
use pathsec_suite::fixtures::{self, BATCH_EMPTY, DECIDE_STRICT, LOAD_OK, PACKED_STRICT};
use pathsec_suite::generate::{self, Rng};

const FLOWS: usize = 4096;
const BATCH: usize = 64;

fn main() {
    let mut args = std::env::args().skip(1);
    let subject = args.next().unwrap_or_else(|| usage("name a subject"));
    let iterations: usize = match args.next() {
        Some(n) => n.parse().unwrap_or_else(|_| usage(&format!("`{n}` is not a number of iterations"))),
        None => 10_000,
    };
    let engine = Engine::new().expect("engine");
    let (facts, requests) = generate::sized(&mut Rng::new(1), 1_000, 10_000, 300, 1_000, FLOWS);
    let reference = engine.load_policy("reference", bundled::REFERENCE).expect("loads");
    let cache = if subject.ends_with("hit") { 1 << 16 } else { 0 };
    let (runtime, flows, subject) = match subject.strip_prefix("log-") {
        // With a decision log to a file: what the decision path pays for logging (the writer thread's
        // work is not counted: callgrind counts the entry's own thread).
        Some(plain) => {
            let path = std::env::temp_dir().join(format!("pathsec-profile-{}.log", std::process::id()));
            let log = pathsec::runtime::DecisionLog::to_file(&path).expect("the log opens");
            let runtime = pathsec::Runtime::builder(reference)
                .lists(facts.to_builder().build())
                .flow_cache_capacity(cache)
                .decision_log(log)
                .build()
                .expect("runtime");
            let flows = generate::devices_for(&runtime, &requests);
            (runtime, flows, plain.to_owned())
        }
        None => {
            let (runtime, flows) = generate::sized_runtime(reference, cache, &facts, &requests);
            (runtime, flows, subject)
        }
    };
    let subject = match subject.strip_prefix("shadow-") {
        Some(plain) => {
            let shadow = engine.load_policy("shadow", bundled::REFERENCE).expect("loads");
            runtime.start_shadow(shadow, 1).expect("the shadow passes its self-check");
            plain.to_owned()
        }
        None => subject,
    };
    let mut worker = runtime.worker();
    if subject == "hit" {
        // Every flow cached first, through the batch (not the profiled entry): the loop only hits.
        flows.chunks(BATCH).for_each(|chunk| drop(worker.decide_batch(chunk)));
    }
    match subject.as_str() {
        "batch" => (0..iterations).for_each(|i| {
            let at = (i * BATCH) % (FLOWS - BATCH);
            black_box(worker.decide_batch(&flows[at..at + BATCH]));
        }),
        "miss" | "hit" => (0..iterations).for_each(|i| drop(black_box(worker.decide(&flows[i % FLOWS])))),
        "native" => {
            let native = pathsec_suite::native::NativeRule::new(&facts);
            (0..iterations).for_each(|i| {
                black_box(native.decide(&requests[i % FLOWS]));
            });
        }
        "devices" => register_devices(&engine, iterations),
        "scalar-constant" => {
            let policy = fixtures::scalar_policy(&format!("(i32.const {PACKED_STRICT})"));
            let mut constant = engine.load_policy("scalar-constant", &policy).expect("loads").decider();
            (0..iterations).for_each(|i| drop(black_box(constant.decide(&facts, &requests[i % FLOWS]))));
        }
        "constant" | "constant-batch" => {
            let every = fixtures::packed_every(PACKED_STRICT);
            let policy = fixtures::packed_policy(LOAD_OK, DECIDE_STRICT, BATCH_EMPTY, &every);
            let mut constant = engine.load_policy("constant", &policy).expect("loads").decider();
            if subject == "constant" {
                (0..iterations).for_each(|i| drop(black_box(constant.decide(&facts, &requests[i % FLOWS]))));
            } else {
                (0..iterations).for_each(|i| {
                    let at = (i * BATCH) % (FLOWS - BATCH);
                    black_box(constant.decide_batch(&facts, &requests[at..at + BATCH]));
                });
            }
        }
        "c-batch" | "c-miss" => {
            let handle = pathsec_ffi::runtime_handle(runtime.clone()).expect("a handle");
            let mut c_worker = 0;
            // SAFETY: valid pointers.
            assert_eq!(unsafe { pathsec_ffi::pathsec_worker_new(handle, &mut c_worker) }, pathsec_ffi::PATHSEC_OK);
            let c_flows: Vec<pathsec_ffi::PathsecFlow> = flows.iter().map(Into::into).collect();
            let mut answers = vec![pathsec_ffi::PathsecDecision::default(); BATCH];
            (0..iterations).for_each(|i| {
                // SAFETY: valid pointers; `answers` has room for a batch.
                let status = unsafe {
                    match subject.as_str() {
                        "c-batch" => {
                            let at = (i * BATCH) % (FLOWS - BATCH);
                            let flows = c_flows[at..].as_ptr();
                            pathsec_ffi::pathsec_worker_decide_batch(c_worker, flows, BATCH, answers.as_mut_ptr())
                        }
                        _ => pathsec_ffi::pathsec_worker_decide(c_worker, &c_flows[i % FLOWS], answers.as_mut_ptr()),
                    }
                };
                assert_eq!(black_box(status), pathsec_ffi::PATHSEC_OK);
            });
        }
        other => usage(&format!("`{other}` is not a subject")),
    }
}

fn usage(problem: &str) -> ! {
    eprintln!(
        "profile: {problem}\nusage: profile <batch|miss|hit|constant|scalar-constant|constant-batch|native|devices|c-batch|c-miss|shadow-batch|shadow-miss|shadow-hit|log-batch|log-miss|log-hit> [iterations]"
    );
    std::process::exit(2)
}

/// `iterations` devices named and given their attach and link facts, on a fresh runtime (the
/// `devices` bench's loop).
#[inline(never)]
fn register_devices(engine: &Engine, devices: usize) {
    use pathsec::{AccessKind, Attach, LinkState, PlmnId};
    let policy = engine.load_policy("reference", bundled::REFERENCE).expect("loads");
    let runtime = pathsec::Runtime::new(policy).expect("runtime");
    let names: Vec<String> = (0..devices).map(|i| format!("imsi-{:015}", 310_410_000_000_000 + i)).collect();
    let home: PlmnId = "310410".parse().expect("valid");
    let attach = Attach { serving: Some(home), home, access: AccessKind::ThreeGpp };
    let link = LinkState { ciphering: true, integrity: true };
    fill(&runtime, &names, attach, link);
}

#[inline(never)]
fn fill(runtime: &pathsec::Runtime, names: &[String], attach: pathsec::Attach, link: pathsec::LinkState) {
    for name in names {
        let device = runtime.device_id(name).expect("room");
        runtime.set_attach(device, attach).expect("known");
        runtime.set_link(device, link).expect("known");
    }
}
