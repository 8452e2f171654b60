//! pathsec beside the engines an operator could use instead, all on the same rule, facts and requests,
//! in one run (`benches/peers/` has the rule in Rego and in Cedar):
//! - `engines/…`: at operator list sizes — the native-Rust floor, pathsec (cache hit, cache miss, batch
//!   of 64 per decision), a constant-answer component call (the wasmtime floor), regorus (its
//!   interpreter, `eval_rule`, and its bytecode VM, the RVM), cedar-policy;
//! - `engine-ratio/…`: the targets, measured interleaved (see `pathsec_suite::timing::ratio`);
//! - `scaling/<engine>/<entries>`: every list with 10 … 100,000 entries;
//! - `threads/<engine>/<threads>`: decisions per second with 1 and 2 threads;
//! - `drop-in/…`: from a new `.wasm` in the policy directory to the first decision on it;
//! - memory per loaded policy and per worker instance, printed (criterion measures time only).

// `decide` (input built per call) is for the tests; the benches build inputs ahead.
#[allow(dead_code)]
#[path = "peers/mod.rs"]
mod peers;

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use pathsec::{Engine, FactSet, Flow, Request, runtime::PolicyDirectory, wasm::ArtifactCache};
use pathsec_suite::fixtures::{self, BATCH_EMPTY, DECIDE_STRICT, LOAD_OK, PACKED_STRICT};
use pathsec_suite::generate::{self, Rng};
use pathsec_suite::native::NativeRule;
use pathsec_suite::timing::{self, ratio};
use peers::{CedarRule, RegoRule, RegoVmRule};

const FLOWS: usize = 4096;
const BATCH: usize = 64;

/// Facts and requests with List 1, 2 and 3 of the given sizes, over `path_b / 10` servers.
fn workload(path_a: usize, path_b: usize, interconnect: usize) -> (FactSet, Vec<Request>) {
    generate::sized(&mut Rng::new(1), path_a, path_b, interconnect, (path_b / 10).max(1), FLOWS)
}

/// Every engine, ready on one workload.
struct Subjects {
    facts: FactSet,
    requests: Vec<Request>,
    native: NativeRule,
    hits: pathsec::Worker,
    misses: pathsec::Worker,
    flows: Vec<Flow>,
    constant: pathsec::Decider,
    rego: RegoRule,
    rvm: RegoVmRule,
    rego_inputs: Vec<regorus::Value>,
    cedar: CedarRule,
    cedar_inputs: Vec<cedar_policy::Request>,
}

impl Subjects {
    fn new(engine: &Engine, (facts, requests): (FactSet, Vec<Request>)) -> Subjects {
        let reference = engine.load_policy("reference", pathsec::bundled::REFERENCE).expect("loads");
        let (cached, flows) = generate::sized_runtime(reference.clone(), 1 << 16, &facts, &requests);
        let (uncached, _) = generate::sized_runtime(reference, 0, &facts, &requests);
        let mut hits = cached.worker();
        flows.iter().for_each(|flow| drop(hits.decide(flow)));
        let constant = engine
            .load_policy(
                "constant",
                &fixtures::packed_policy(LOAD_OK, DECIDE_STRICT, BATCH_EMPTY, &fixtures::packed_every(PACKED_STRICT)),
            )
            .expect("loads");
        let mut constant = constant.decider();
        constant.prepare(&facts).expect("loads the facts");
        let native = NativeRule::new(&facts);
        let (rego, rvm, cedar) = (RegoRule::new(&facts), RegoVmRule::new(&facts), CedarRule::new(&facts));
        let rego_inputs = requests.iter().map(|r| RegoRule::input(&facts, r)).collect();
        let cedar_inputs = requests.iter().map(|r| CedarRule::input(&facts, r)).collect();
        let mut subjects = Subjects {
            native,
            hits,
            misses: uncached.worker(),
            flows,
            constant,
            rego,
            rvm,
            rego_inputs,
            cedar,
            cedar_inputs,
            facts,
            requests,
        };
        subjects.check();
        subjects
    }

    /// Every engine gives the native rule's answers: the benches compare the same rule.
    fn check(&mut self) {
        for (i, request) in self.requests.iter().enumerate().step_by(7) {
            let want = self.native.decide(request);
            let miss = self.misses.decide(&self.flows[i]);
            assert_eq!((miss.action, miss.reason), want, "pathsec");
            assert_eq!(self.rego.decide_input(self.rego_inputs[i].clone()), want, "regorus");
            assert_eq!(self.rvm.decide_input(self.rego_inputs[i].clone()), want, "regorus RVM");
            assert_eq!(self.cedar.decide_input(request, &self.cedar_inputs[i]), want, "cedar-policy");
        }
        let batch = self.misses.decide_batch(&self.flows[..BATCH]);
        for (request, decision) in self.requests.iter().zip(batch) {
            assert_eq!((decision.action, decision.reason), self.native.decide(request), "pathsec batch");
        }
    }

    fn native(&self, i: usize) -> pathsec::Action {
        self.native.decide(&self.requests[i % FLOWS]).0
    }

    fn hit(&mut self, i: usize) -> pathsec::Action {
        self.hits.decide(&self.flows[i % FLOWS]).action
    }

    fn miss(&mut self, i: usize) -> pathsec::Action {
        self.misses.decide(&self.flows[i % FLOWS]).action
    }

    /// One batch of 64 flows starting near `i`.
    fn batch(&mut self, i: usize) -> usize {
        let at = (i * BATCH) % (FLOWS - BATCH);
        self.misses.decide_batch(&self.flows[at..at + BATCH]).len()
    }

    fn constant(&mut self, i: usize) -> pathsec::Action {
        self.constant.decide(&self.facts, &self.requests[i % FLOWS]).action
    }

    fn rego(&mut self, i: usize) -> pathsec::Action {
        self.rego.decide_input(self.rego_inputs[i % FLOWS].clone()).0
    }

    fn rvm(&mut self, i: usize) -> pathsec::Action {
        self.rvm.decide_input(self.rego_inputs[i % FLOWS].clone()).0
    }

    fn cedar(&self, i: usize) -> pathsec::Action {
        self.cedar.decide_input(&self.requests[i % FLOWS], &self.cedar_inputs[i % FLOWS]).0
    }
}

/// Every engine on one workload, as `group/<engine>` benches with parameter `size`.
fn bench_all(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    size: &str,
    s: &mut Subjects,
) {
    let mut i = 0;
    let mut next = || {
        i += 1;
        i
    };
    group.throughput(Throughput::Elements(1));
    group.bench_function(BenchmarkId::new("native", size), |b| b.iter(|| black_box(s.native(next()))));
    group.bench_function(BenchmarkId::new("pathsec-cache-hit", size), |b| b.iter(|| black_box(s.hit(next()))));
    group.bench_function(BenchmarkId::new("pathsec-cache-miss", size), |b| b.iter(|| black_box(s.miss(next()))));
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function(BenchmarkId::new("pathsec-batch-64", size), |b| b.iter(|| black_box(s.batch(next()))));
    group.throughput(Throughput::Elements(1));
    group.bench_function(BenchmarkId::new("component-constant", size), |b| b.iter(|| black_box(s.constant(next()))));
    group.bench_function(BenchmarkId::new("regorus", size), |b| b.iter(|| black_box(s.rego(next()))));
    group.bench_function(BenchmarkId::new("regorus-rvm", size), |b| b.iter(|| black_box(s.rvm(next()))));
    group.bench_function(BenchmarkId::new("cedar", size), |b| b.iter(|| black_box(s.cedar(next()))));
}

fn engines(c: &mut Criterion) {
    let engine = Engine::new().expect("engine");
    let mut s = Subjects::new(&engine, workload(1_000, 10_000, 300));
    let mut group = c.benchmark_group("engines");
    group.warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    bench_all(&mut group, "operator", &mut s);
    group.finish();

    let mut group = c.benchmark_group("engine-ratio");
    group.warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(1)).sample_size(20);
    let s = std::cell::RefCell::new(s);
    group.bench_function("regorus/pathsec-cache-miss", |b| {
        b.iter_custom(|n| ratio(n, 16, |k| s.borrow_mut().rego(k), |k| s.borrow_mut().miss(k)))
    });
    group.bench_function("regorus-rvm/pathsec-cache-miss", |b| {
        b.iter_custom(|n| ratio(n, 16, |k| s.borrow_mut().rvm(k), |k| s.borrow_mut().miss(k)))
    });
    group.bench_function("cedar/pathsec-cache-miss", |b| {
        b.iter_custom(|n| ratio(n, 16, |k| s.borrow().cedar(k), |k| s.borrow_mut().miss(k)))
    });
    group.bench_function("pathsec-cache-miss/component-constant", |b| {
        b.iter_custom(|n| ratio(n, 16, |k| s.borrow_mut().miss(k), |k| s.borrow_mut().constant(k)))
    });
    group.bench_function("pathsec-cache-hit/native", |b| {
        b.iter_custom(|n| ratio(n, 256, |k| s.borrow_mut().hit(k), |k| s.borrow().native(k)))
    });
    // A batch of 64 against 64 native decisions: the per-decision cost of a batch in units of the floor.
    group.bench_function("pathsec-batch-64/native-64", |b| {
        b.iter_custom(|n| {
            ratio(
                n,
                1,
                |k| s.borrow_mut().batch(k),
                |k| (0..BATCH).map(|m| s.borrow().native(k * BATCH + m) as usize).sum::<usize>(),
            )
        })
    });
    group.finish();
}

/// Real-world list sizes: a small MVNO, a mid-size operator, a large IoT operator.
const OPERATORS: [(&str, usize, usize, usize); 3] =
    [("mvno", 50, 500, 20), ("operator", 1_000, 10_000, 300), ("iot-hub", 2_000, 100_000, 800)];

fn scaling(c: &mut Criterion) {
    let engine = Engine::new().expect("engine");
    let mut group = c.benchmark_group("scaling");
    group.warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(1)).sample_size(20);
    for entries in [10, 100, 1_000, 10_000, 100_000] {
        let mut s = Subjects::new(&engine, workload(entries, entries, entries));
        bench_all(&mut group, &entries.to_string(), &mut s);
    }
    group.finish();
    let mut group = c.benchmark_group("real-world");
    group.warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(1)).sample_size(20);
    for (name, path_a, path_b, interconnect) in OPERATORS {
        let mut s = Subjects::new(&engine, workload(path_a, path_b, interconnect));
        bench_all(&mut group, name, &mut s);
    }
    group.finish();
}

fn threads(c: &mut Criterion) {
    let engine = Engine::new().expect("engine");
    let s = Subjects::new(&engine, workload(1_000, 10_000, 300));
    // Each thread gets workers of the subjects' own runtimes (cache on, cache off).
    let (cached, uncached, flows, requests) = (s.hits.runtime(), s.misses.runtime(), &s.flows, &s.requests);
    let share = |t: usize, threads: usize, k: usize| {
        let (from, to) = (t * FLOWS / threads, (t + 1) * FLOWS / threads);
        from + k % (to - from)
    };
    let mut group = c.benchmark_group("threads");
    group.sample_size(10);
    for threads in [1usize, 2] {
        let mut run = |name: &str, per_thread: usize, run: &dyn Fn(usize) -> Duration| {
            group.throughput(Throughput::Elements((per_thread * threads) as u64));
            group.bench_function(BenchmarkId::new(name, threads), |b| {
                b.iter_custom(|iterations| (0..iterations).map(|_| run(per_thread)).sum())
            });
        };
        run("native", 2_000_000, &|n| {
            timing::threads(threads, n, FLOWS, |t| {
                let native = &s.native;
                move |k| {
                    black_box(native.decide(&requests[share(t, threads, k)]));
                }
            })
        });
        run("pathsec-cache-hit", 2_000_000, &|n| {
            timing::threads(threads, n, FLOWS, |t| {
                let mut worker = cached.worker();
                move |k| {
                    black_box(worker.decide(&flows[share(t, threads, k)]));
                }
            })
        });
        run("pathsec-cache-miss", 20_000, &|n| {
            timing::threads(threads, n, FLOWS / threads, |t| {
                let mut worker = uncached.worker();
                move |k| {
                    black_box(worker.decide(&flows[share(t, threads, k)]));
                }
            })
        });
        run("pathsec-batch-64", 20_000, &|n| {
            timing::threads(threads, n / BATCH, 4, |t| {
                let mut worker = uncached.worker();
                move |k| {
                    let at = share(t, threads, k * BATCH).min(FLOWS - BATCH);
                    black_box(worker.decide_batch(&flows[at..at + BATCH]));
                }
            })
        });
        run("regorus", 2_000, &|n| {
            timing::threads(threads, n, 16, |t| {
                let mut rego = s.rego.clone();
                let inputs = &s.rego_inputs;
                move |k| {
                    black_box(rego.decide_input(inputs[share(t, threads, k)].clone()));
                }
            })
        });
        run("regorus-rvm", 2_000, &|n| {
            timing::threads(threads, n, 16, |t| {
                let mut rvm = RegoVmRule::new(&s.facts);
                let inputs = &s.rego_inputs;
                move |k| {
                    black_box(rvm.decide_input(inputs[share(t, threads, k)].clone()));
                }
            })
        });
        run("cedar", 2_000, &|n| {
            timing::threads(threads, n, 16, |t| {
                let (cedar, inputs) = (&s.cedar, &s.cedar_inputs);
                move |k| {
                    let at = share(t, threads, k);
                    black_box(cedar.decide_input(&requests[at], &inputs[at]));
                }
            })
        });
    }
    group.finish();
}

/// From a new `.wasm` in the policy directory to the first decision on it: scan, read, compile (or load
/// the precompiled artifact), self-check, swap, and one worker's first decision (a fresh instance that
/// loads the operator-sized lists).
fn drop_in(c: &mut Criterion) {
    let engine = Engine::new().expect("engine");
    let (facts, requests) = workload(1_000, 10_000, 300);
    let strict = engine.load_policy("always-secure", pathsec::bundled::ALWAYS_SECURE).expect("loads");
    let (runtime, flows) = generate::sized_runtime(strict, 1 << 16, &facts, &requests);
    let artifacts = tempfile::tempdir().expect("temp dir");
    let cache = ArtifactCache::open(artifacts.path()).expect("opens");
    cache.load_policy(&engine, "reference.wasm", pathsec::bundled::REFERENCE).expect("compiles once");
    let mut group = c.benchmark_group("drop-in");
    group.sample_size(10);
    for precompiled in [false, true] {
        let name = if precompiled { "precompiled" } else { "compile" };
        group.bench_function(name, |b| {
            b.iter_custom(|iterations| {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    let dir = tempfile::tempdir().expect("policy dir");
                    let mut directory = PolicyDirectory::open(dir.path(), &engine).expect("opens");
                    if precompiled {
                        directory = directory.with_artifacts(ArtifactCache::open(artifacts.path()).expect("opens"));
                    }
                    let mut worker = runtime.worker();
                    drop(worker.decide(&flows[0]));
                    let started = std::time::Instant::now();
                    std::fs::write(dir.path().join("reference.wasm"), pathsec::bundled::REFERENCE).expect("writes");
                    let events = directory.scan(&runtime).expect("scans");
                    let decision = worker.decide(&flows[0]);
                    total += started.elapsed();
                    assert!(matches!(events[..], [pathsec::runtime::DirectoryEvent::Swapped { .. }]), "{events:?}");
                    black_box(decision);
                    // Back to always-secure for the next round.
                    runtime
                        .swap(engine.load_policy("always-secure", pathsec::bundled::ALWAYS_SECURE).expect("loads"))
                        .expect("swaps");
                }
                total
            })
        });
    }
    group.finish();
}

/// Resident memory per loaded policy and per worker instance (with the operator-sized lists loaded),
/// averaged over many, printed.
fn memory(_: &mut Criterion) {
    let engine = Engine::new().expect("engine");
    let (facts, requests) = workload(1_000, 10_000, 300);
    let before = timing::resident_bytes();
    let policies: Vec<_> = (0..16)
        .map(|i| engine.load_policy(&format!("reference-{i}"), pathsec::bundled::REFERENCE).expect("loads"))
        .collect();
    let per_policy = (timing::resident_bytes() - before) / policies.len();
    let (runtime, flows) = generate::sized_runtime(policies[0].clone(), 0, &facts, &requests);
    let before = timing::resident_bytes();
    let workers: Vec<_> = (0..64)
        .map(|_| {
            let mut worker = runtime.worker();
            drop(worker.decide(&flows[0]));
            worker
        })
        .collect();
    let per_worker = (timing::resident_bytes().saturating_sub(before)) / workers.len();
    println!(
        "memory: {} KiB resident per loaded (compiled) reference policy; {} KiB per worker instance with \
         operator-sized lists loaded (List 1 1,000, List 2 10,000, List 3 300)",
        per_policy / 1024,
        per_worker / 1024
    );
}

criterion_group!(benches, engines, scaling, threads, drop_in, memory);
fn main() {
    // The peers must decide as the method before their times mean anything.
    peers::agree::check();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
