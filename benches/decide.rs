//! Per-decision cost of the reference policy beside its floors, all measured in one run:
//! - `native`: the same rule in native Rust (handles and hash sets) — the floor of the rule;
//! - `component-constant`: a component with the same exports answering a constant — the floor of a
//!   component-model call;
//! - `reference`: one uncached decision through the reference policy, and in batches of 64.
//!
//! Facts: List 1 with 1,000 networks, List 2 with 10,000 pairs, List 3 with 300.
//! Also: `load` (compile + check + pre-instantiate) and `instantiate` (new instance + load the facts).

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use pathsec::Engine;
use pathsec_suite::fixtures::{self, BATCH_EMPTY, DECIDE_STRICT, LOAD_OK};
use pathsec_suite::generate::{self, Rng};
use pathsec_suite::native::NativeRule;

const REQUESTS: usize = 4096;
const BATCH: usize = 64;

fn decide(c: &mut Criterion) {
    let engine = Engine::new().expect("engine");
    let reference = engine.load_policy("reference", pathsec::bundled::REFERENCE).expect("loads");
    let constant =
        engine.load_policy("constant", &fixtures::policy(LOAD_OK, DECIDE_STRICT, BATCH_EMPTY)).expect("loads");
    let (facts, requests) = generate::sized(&mut Rng::new(1), 1_000, 10_000, 300, 1_000, REQUESTS);
    let native = NativeRule::new(&facts);

    let mut group = c.benchmark_group("decide");
    group.throughput(Throughput::Elements(1));
    let mut i = 0;
    group.bench_function("native", |b| {
        b.iter(|| {
            i = (i + 1) % REQUESTS;
            black_box(native.decide(black_box(&requests[i])))
        })
    });
    let mut decider = constant.decider();
    decider.prepare(&facts).expect("constant policy loads the facts");
    group.bench_function("component-constant", |b| {
        b.iter(|| {
            i = (i + 1) % REQUESTS;
            black_box(decider.decide(&facts, black_box(&requests[i])))
        })
    });
    let mut decider = reference.decider();
    decider.prepare(&facts).expect("reference loads the facts");
    group.bench_function("reference", |b| {
        b.iter(|| {
            i = (i + 1) % REQUESTS;
            black_box(decider.decide(&facts, black_box(&requests[i])))
        })
    });
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("reference-batch-64", |b| {
        b.iter(|| {
            i = (i + BATCH) % (REQUESTS - BATCH);
            black_box(decider.decide_batch(&facts, black_box(&requests[i..i + BATCH])))
        })
    });
    group.finish();
}

fn lifecycle(c: &mut Criterion) {
    let engine = Engine::new().expect("engine");
    let (facts, _) = generate::sized(&mut Rng::new(1), 1_000, 10_000, 300, 1_000, 0);
    let mut group = c.benchmark_group("lifecycle");
    group.sample_size(10);
    group.bench_function("load", |b| {
        b.iter(|| black_box(engine.load_policy("reference", pathsec::bundled::REFERENCE).expect("loads")))
    });
    let policy = engine.load_policy("reference", pathsec::bundled::REFERENCE).expect("loads");
    group.bench_function("instantiate-and-load-facts", |b| {
        b.iter_batched(
            || policy.decider(),
            |mut decider| decider.prepare(&facts).map(|()| decider),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, decide, lifecycle);
criterion_main!(benches);
