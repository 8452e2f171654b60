//! One hot path, run in a loop for a profiler: `bash benches/profile.sh <subject>` runs it under
//! callgrind and prints instructions per decision.
//!
//! `cargo run --release --example profile -- <batch|miss|hit|constant|constant-batch> [iterations]`
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
    let cache = if subject == "hit" { 1 << 16 } else { 0 };
    let (runtime, flows) = generate::sized_runtime(reference, cache, &facts, &requests);
    let mut worker = runtime.worker();
    match subject.as_str() {
        "batch" => (0..iterations).for_each(|i| {
            let at = (i * BATCH) % (FLOWS - BATCH);
            black_box(worker.decide_batch(&flows[at..at + BATCH]));
        }),
        "miss" | "hit" => (0..iterations).for_each(|i| drop(black_box(worker.decide(&flows[i % FLOWS])))),
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
        other => usage(&format!("`{other}` is not a subject")),
    }
}

fn usage(problem: &str) -> ! {
    eprintln!("profile: {problem}\nusage: profile <batch|miss|hit|constant|constant-batch> [iterations]");
    std::process::exit(2)
}
