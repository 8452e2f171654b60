//! The per-packet path of a running server, every figure beside its floor in the same run:
//! - `native`: the reference rule in native Rust on the same requests (the floor of the rule);
//! - `component-constant`: one call into a component with the same exports that answers a constant
//!   (the floor of a component call of this interface, through `Decider`);
//! - `decider-reference`: one call into the reference policy through `Decider` (no live facts, no cache);
//! - `cache-hit`: `Worker::decide` on a flow whose decision is cached;
//! - `cache-miss`: `Worker::decide` with the cache off: snapshot the facts, one call into the
//!   reference policy;
//! - `batch-64`: `Worker::decide_batch` of 64 flows with the cache off: one call for all 64.
//!
//! `shadow`: the same misses, hits and batches with a shadow deciding beside the active policy at every
//! miss, each against its path without one.
//!
//! Also `swap` (a loaded policy through its self-check to active, with small and operator-sized lists,
//! and from the precompiled-artifact cache), and `registration`: the server taking a report (CBOR
//! decode, register through the reference policy, indication encode) and the device taking the
//! indication, on one thread — registrations per second on one core. The peer engines, list-size scaling, threads, memory and
//! drop-in time are in `benches/engines.rs`. `devices`: a million devices named and given their attach
//! and link facts, and the memory each adds; `updates_under_load` (printed): a decider's rate beside a
//! thread updating facts at full rate; `list_change_at_scale` (printed): a list change at a million
//! entries while two threads decide; `swap_under_load` (printed): a decider's latencies with and
//! without policy swaps.
//! Facts: List 1 with 1,000 networks, List 2 with 10,000 pairs over 1,000 servers, List 3 with 300.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pathsec::{AccessKind, Attach, Engine, FactSet, LinkState, PlmnId, Runtime, wasm::ArtifactCache};
use pathsec_suite::fixtures::{self, BATCH_EMPTY, DECIDE_STRICT, LOAD_OK};
use pathsec_suite::generate::{self, Rng};
use pathsec_suite::native::NativeRule;
use pathsec_suite::timing::{self, ratio};

const FLOWS: usize = 4096;
const BATCH: usize = 64;

fn per_packet(c: &mut Criterion) {
    let engine = Engine::new().expect("engine");
    let reference = engine.load_policy("reference", pathsec::bundled::REFERENCE).expect("loads");
    let constant =
        engine.load_policy("constant", &fixtures::policy(LOAD_OK, DECIDE_STRICT, BATCH_EMPTY)).expect("loads");
    let (facts, requests) = generate::sized(&mut Rng::new(1), 1_000, 10_000, 300, 1_000, FLOWS);
    let native = NativeRule::new(&facts);
    let (cached, flows) = generate::sized_runtime(reference.clone(), 1 << 16, &facts, &requests);
    let (uncached, _) = generate::sized_runtime(reference.clone(), 0, &facts, &requests);

    let mut group = c.benchmark_group("per-packet");
    group.throughput(Throughput::Elements(1));
    let mut i = 0;
    group.bench_function("native", |b| {
        b.iter(|| {
            i = (i + 1) % FLOWS;
            black_box(native.decide(black_box(&requests[i])))
        })
    });
    let mut decider = constant.decider();
    decider.prepare(&facts).expect("loads the facts");
    group.bench_function("component-constant", |b| {
        b.iter(|| {
            i = (i + 1) % FLOWS;
            black_box(decider.decide(&facts, black_box(&requests[i])))
        })
    });
    let mut decider = reference.decider();
    decider.prepare(&facts).expect("loads the facts");
    group.bench_function("decider-reference", |b| {
        b.iter(|| {
            i = (i + 1) % FLOWS;
            black_box(decider.decide(&facts, black_box(&requests[i])))
        })
    });
    let mut worker = cached.worker();
    for flow in &flows {
        worker.decide(flow);
    }
    group.bench_function("cache-hit", |b| {
        b.iter(|| {
            i = (i + 1) % FLOWS;
            black_box(worker.decide(black_box(&flows[i])))
        })
    });
    let mut worker = uncached.worker();
    group.bench_function("cache-miss", |b| {
        b.iter(|| {
            i = (i + 1) % FLOWS;
            black_box(worker.decide(black_box(&flows[i])))
        })
    });
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function("batch-64", |b| {
        b.iter(|| {
            i = (i + BATCH) % (FLOWS - BATCH);
            black_box(worker.decide_batch(black_box(&flows[i..i + BATCH])))
        })
    });
    group.finish();

    // Ratios measured interleaved: each iteration times `k` calls of the subject, then `k` of its floor,
    // so a drift of the shared machine hits both alike. The reported "time" is the ratio in µs:
    // `1.2000 µs` means 1.2 times the floor.
    let mut group = c.benchmark_group("ratio");
    group.warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_millis(500)).sample_size(20);
    let mut hits = cached.worker();
    flows.iter().for_each(|flow| drop(hits.decide(flow)));
    let mut misses = uncached.worker();
    let mut constant_decider = constant.decider();
    constant_decider.prepare(&facts).expect("loads the facts");
    let mut reference_decider = reference.decider();
    reference_decider.prepare(&facts).expect("loads the facts");
    let strict = engine.load_policy("always-secure", pathsec::bundled::ALWAYS_SECURE).expect("loads");
    let mut strict_decider = strict.decider();
    strict_decider.prepare(&facts).expect("loads the facts");
    let mut j = 0;
    group.bench_function("cache-hit/native", |b| {
        b.iter_custom(|n| {
            ratio(
                n,
                256,
                |k| black_box(hits.decide(&flows[k % FLOWS])).action,
                |k| black_box(native.decide(&requests[k % FLOWS])).0,
            )
        })
    });
    group.bench_function("cache-miss/constant", |b| {
        b.iter_custom(|n| {
            ratio(
                n,
                16,
                |k| black_box(misses.decide(&flows[k % FLOWS])).action,
                |k| black_box(constant_decider.decide(&facts, &requests[k % FLOWS])).action,
            )
        })
    });
    group.bench_function("decider-reference/constant", |b| {
        b.iter_custom(|n| {
            ratio(
                n,
                16,
                |k| black_box(reference_decider.decide(&facts, &requests[k % FLOWS])).action,
                |k| black_box(constant_decider.decide(&facts, &requests[k % FLOWS])).action,
            )
        })
    });
    let (strict_runtime, _) = generate::sized_runtime(strict.clone(), 0, &facts, &requests);
    let mut strict_misses = strict_runtime.worker();
    group.bench_function("cache-miss-always-secure/decider-always-secure", |b| {
        b.iter_custom(|n| {
            ratio(
                n,
                16,
                |k| black_box(strict_misses.decide(&flows[k % FLOWS])).action,
                |k| black_box(strict_decider.decide(&facts, &requests[k % FLOWS])).action,
            )
        })
    });
    group.bench_function("decider-always-secure/constant", |b| {
        b.iter_custom(|n| {
            ratio(
                n,
                16,
                |k| black_box(strict_decider.decide(&facts, &requests[k % FLOWS])).action,
                |k| black_box(constant_decider.decide(&facts, &requests[k % FLOWS])).action,
            )
        })
    });
    group.bench_function("batch-64-per-decision/constant", |b| {
        b.iter_custom(|n| {
            ratio(
                n,
                1,
                |k| {
                    j = (j + BATCH + k) % (FLOWS - BATCH);
                    black_box(misses.decide_batch(&flows[j..j + BATCH])).len()
                },
                |k| {
                    black_box(
                        (0..BATCH).map(|m| constant_decider.decide(&facts, &requests[(k + m) % FLOWS]).action).count(),
                    )
                },
            )
        })
    });
    group.finish();
}

fn swap(c: &mut Criterion) {
    let engine = Engine::new().expect("engine");
    let (big, _) = generate::sized(&mut Rng::new(1), 1_000, 10_000, 300, 1_000, 0);
    let (small, _) = generate::sized(&mut Rng::new(1), 10, 10, 3, 5, 0);
    let artifacts = tempfile::tempdir().expect("temp dir");
    let cache = ArtifactCache::open(artifacts.path()).expect("opens");
    cache.load_policy(&engine, "reference", pathsec::bundled::REFERENCE).expect("compiles once");

    let mut group = c.benchmark_group("swap");
    group.sample_size(20);
    for (lists, facts) in [("small-lists", &small), ("operator-lists", &big)] {
        let runtime = runtime_with(&engine, facts);
        let policy = engine.load_policy("reference", pathsec::bundled::REFERENCE).expect("loads");
        group.bench_function(format!("loaded/{lists}"), |b| b.iter(|| runtime.swap(policy.clone()).expect("passes")));
        group.bench_function(format!("precompiled/{lists}"), |b| {
            b.iter(|| {
                let (policy, _) = cache.load_policy(&engine, "reference", pathsec::bundled::REFERENCE).expect("loads");
                runtime.swap(policy).expect("passes")
            })
        });
    }
    // What the self-check's load of the current lists costs, and how much of it is crossing the boundary
    // (always-secure ignores the lists it is given).
    for (name, bytes) in
        [("reference", pathsec::bundled::REFERENCE), ("always-secure", pathsec::bundled::ALWAYS_SECURE)]
    {
        let policy = engine.load_policy(name, bytes).expect("loads");
        group.bench_function(format!("load-operator-lists/{name}"), |b| {
            b.iter(|| {
                let mut decider = policy.decider();
                decider.prepare(&big).expect("loads");
                decider
            })
        });
    }
    group.bench_function("compile", |b| {
        b.iter(|| black_box(engine.load_policy("reference", pathsec::bundled::REFERENCE).expect("compiles")))
    });
    group.finish();
}

fn registration(c: &mut Criterion) {
    use pathsec::exchange::{Format, Indication, Report};
    use pathsec::runtime::Carried;
    let engine = Engine::new().expect("engine");
    let (facts, requests) = generate::sized(&mut Rng::new(1), 1_000, 10_000, 300, 1_000, FLOWS);
    let server = runtime_with(&engine, &facts);
    let mut worker = server.worker();
    // One report per request, from as many devices: the server holds their outcomes as a real one would.
    let reports: Vec<Vec<u8>> = requests
        .iter()
        .enumerate()
        .map(|(i, request)| {
            Report {
                device: format!("imsi-{i:015}"),
                server: facts.server(request.server).expect("named").clone(),
                home: request.attach.home,
                serving: request.attach.serving.expect("sized requests know it"),
                access: request.attach.access,
                link: request.link.expect("sized requests know it"),
                options: vec!["dtls-1.3".parse().expect("option")],
                lists: None,
                sequence: 1,
            }
            .encode(Format::Cbor)
        })
        .collect();
    let mut group = c.benchmark_group("registration");
    group.throughput(Throughput::Elements(1));
    let mut next = 0;
    group.bench_function("server-register-cbor", |b| {
        b.iter(|| {
            next = (next + 1) % reports.len();
            let report = Report::decode(Format::Cbor, &reports[next]).expect("parses");
            let indication = worker.register(&report, Carried::Protected).expect("protected");
            black_box(indication.encode(Format::Cbor))
        })
    });
    // The device side: a device runtime accepting ever newer indications.
    let device = runtime_with(&engine, &facts);
    let me = device.device_id("imsi-000000000000000").expect("room");
    let request = &requests[0];
    device.set_attach(me, request.attach).expect("known");
    device.set_link(me, request.link.expect("sized requests know it")).expect("known");
    let fqdn = facts.server(request.server).expect("named").clone();
    device.registration_report(me, &fqdn, Vec::new()).expect("facts known");
    let template = worker
        .register(&Report::decode(Format::Cbor, &reports[0]).expect("parses"), Carried::Protected)
        .expect("protected");
    let mut sequence = template.sequence;
    group.bench_function("device-accept-cbor", |b| {
        b.iter(|| {
            sequence += 1;
            let wire = Indication { sequence, ..template.clone() }.encode(Format::Cbor);
            let indication = Indication::decode(Format::Cbor, &wire).expect("parses");
            black_box(device.accept_indication(me, &indication, Carried::Protected).expect("valid"))
        })
    });
    group.finish();
}

fn runtime_with(engine: &Engine, facts: &FactSet) -> Runtime {
    let policy = engine.load_policy("reference", pathsec::bundled::REFERENCE).expect("loads");
    Runtime::builder(policy).lists(facts.to_builder().build()).build().expect("runtime")
}

/// Other embedders' paths, each as a ratio to the Rust path in the same run: the C ABI (`pathsec-ffi`,
/// called as C calls it: handles, C structs, status codes) for a cache miss and a batch of 64; and a
/// Pulley artifact (wasmtime's interpreter, for devices with no code generator) against native code,
/// for the policy call alone and for a cache miss.
fn embedders(c: &mut Criterion) {
    use pathsec::wasm::PULLEY64;
    use pathsec_ffi::{PathsecDecision, PathsecFlow};

    let engine = Engine::new().expect("engine");
    let reference = engine.load_policy("reference", pathsec::bundled::REFERENCE).expect("loads");
    let (facts, requests) = generate::sized(&mut Rng::new(1), 1_000, 10_000, 300, 1_000, FLOWS);
    let (uncached, flows) = generate::sized_runtime(reference.clone(), 0, &facts, &requests);
    let c_flows: Vec<PathsecFlow> = flows.iter().map(Into::into).collect();
    let runtime = pathsec_ffi::runtime_handle(uncached.clone()).expect("a handle");
    let mut c_worker = 0;
    // SAFETY: a valid output pointer.
    assert_eq!(unsafe { pathsec_ffi::pathsec_worker_new(runtime, &mut c_worker) }, pathsec_ffi::PATHSEC_OK);
    let mut rust = uncached.worker();
    let mut decision = PathsecDecision::default();
    let mut answers = vec![PathsecDecision::default(); BATCH];

    let pulley = Engine::builder().target(PULLEY64).build().expect("a Pulley engine");
    let artifact = pulley.precompile("reference.wasm", pathsec::bundled::REFERENCE, None).expect("compiles");
    let interpreted = pulley.load_artifact("reference.cwasm", &artifact, None).expect("loads");
    let (pulley_runtime, _) = generate::sized_runtime(interpreted.clone(), 0, &facts, &requests);
    let mut pulley_worker = pulley_runtime.worker();
    let mut native_decider = reference.decider();
    native_decider.prepare(&facts).expect("loads the facts");
    let mut pulley_decider = interpreted.decider();
    pulley_decider.prepare(&facts).expect("loads the facts");

    let mut group = c.benchmark_group("embedders");
    group.throughput(Throughput::Elements(1));
    let mut i = 0;
    group.bench_function("c-abi-cache-miss", |b| {
        b.iter(|| {
            i = (i + 1) % FLOWS;
            // SAFETY: valid pointers.
            unsafe { pathsec_ffi::pathsec_worker_decide(c_worker, &c_flows[i], &mut decision) };
            black_box(decision)
        })
    });
    group.bench_function("pulley-cache-miss", |b| {
        b.iter(|| {
            i = (i + 1) % FLOWS;
            black_box(pulley_worker.decide(black_box(&flows[i])))
        })
    });
    group.bench_function("pulley-decider-reference", |b| {
        b.iter(|| {
            i = (i + 1) % FLOWS;
            black_box(pulley_decider.decide(&facts, black_box(&requests[i])))
        })
    });
    group.finish();

    // Ratios, interleaved as in `per_packet` (`1.0500 µs` is 1.05 times the Rust path).
    let mut group = c.benchmark_group("ratio");
    group.warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_millis(500)).sample_size(20);
    group.bench_function("c-abi-cache-miss/cache-miss", |b| {
        b.iter_custom(|n| {
            ratio(
                n,
                16,
                // SAFETY: valid pointers.
                |k| unsafe { pathsec_ffi::pathsec_worker_decide(c_worker, &c_flows[k % FLOWS], &mut decision) },
                |k| black_box(rust.decide(&flows[k % FLOWS])).action,
            )
        })
    });
    group.bench_function("c-abi-batch-64/batch-64", |b| {
        b.iter_custom(|n| {
            let batch = |k: usize| (k * BATCH) % (FLOWS - BATCH);
            ratio(
                n,
                2,
                // SAFETY: valid pointers; `answers` has room for the batch.
                |k| unsafe {
                    let start = batch(k);
                    pathsec_ffi::pathsec_worker_decide_batch(
                        c_worker,
                        c_flows[start..].as_ptr(),
                        BATCH,
                        answers.as_mut_ptr(),
                    )
                },
                |k| black_box(rust.decide_batch(&flows[batch(k)..batch(k) + BATCH])).len(),
            )
        })
    });
    // The method's own bias: the Rust batch against itself on a second worker (1.0 when unbiased).
    let mut rust_again = uncached.worker();
    group.bench_function("batch-64/batch-64-second-worker", |b| {
        b.iter_custom(|n| {
            let batch = |k: usize| (k * BATCH) % (FLOWS - BATCH);
            ratio(
                n,
                2,
                |k| black_box(rust_again.decide_batch(&flows[batch(k)..batch(k) + BATCH])).len(),
                |k| black_box(rust.decide_batch(&flows[batch(k)..batch(k) + BATCH])).len(),
            )
        })
    });
    group.bench_function("pulley-cache-miss/cache-miss", |b| {
        b.iter_custom(|n| {
            ratio(
                n,
                4,
                |k| black_box(pulley_worker.decide(&flows[k % FLOWS])).action,
                |k| black_box(rust.decide(&flows[k % FLOWS])).action,
            )
        })
    });
    group.bench_function("pulley-decider-reference/decider-reference", |b| {
        b.iter_custom(|n| {
            ratio(
                n,
                4,
                |k| black_box(pulley_decider.decide(&facts, &requests[k % FLOWS])).action,
                |k| black_box(native_decider.decide(&facts, &requests[k % FLOWS])).action,
            )
        })
    });
    group.finish();
    assert_eq!(pathsec_ffi::pathsec_worker_free(c_worker), pathsec_ffi::PATHSEC_OK);
    assert_eq!(pathsec_ffi::pathsec_runtime_free(runtime), pathsec_ffi::PATHSEC_OK);
}

/// A shadow deciding beside the active policy at every miss (a second instance of the reference, so
/// it agrees: the full cost of asking it), against the same paths without one, interleaved.
fn shadow(c: &mut Criterion) {
    let engine = Engine::new().expect("engine");
    let reference = engine.load_policy("reference", pathsec::bundled::REFERENCE).expect("loads");
    let (facts, requests) = generate::sized(&mut Rng::new(1), 1_000, 10_000, 300, 1_000, FLOWS);
    let shadowed = |cache| {
        let (runtime, flows) = generate::sized_runtime(reference.clone(), cache, &facts, &requests);
        let shadow = engine.load_policy("shadow", pathsec::bundled::REFERENCE).expect("loads");
        runtime.start_shadow(shadow, 1).expect("passes its self-check");
        (runtime, flows)
    };
    let (cached, flows) = generate::sized_runtime(reference.clone(), 1 << 16, &facts, &requests);
    let (uncached, _) = generate::sized_runtime(reference.clone(), 0, &facts, &requests);
    let (shadow_cached, _) = shadowed(1 << 16);
    let (shadow_uncached, _) = shadowed(0);
    let warm = |runtime: &Runtime| {
        let mut worker = runtime.worker();
        flows.chunks(BATCH).for_each(|chunk| drop(worker.decide_batch(chunk)));
        worker
    };
    let (mut hits, mut shadow_hits) = (warm(&cached), warm(&shadow_cached));
    let (mut misses, mut shadow_misses) = (uncached.worker(), shadow_uncached.worker());

    let mut group = c.benchmark_group("shadow");
    group.throughput(Throughput::Elements(1));
    let mut i = 0;
    group.bench_function("shadow-cache-miss", |b| {
        b.iter(|| {
            i = (i + 1) % FLOWS;
            black_box(shadow_misses.decide(black_box(&flows[i])))
        })
    });
    group.bench_function("shadow-cache-hit", |b| {
        b.iter(|| {
            i = (i + 1) % FLOWS;
            black_box(shadow_hits.decide(black_box(&flows[i])))
        })
    });
    group.finish();

    let mut group = c.benchmark_group("ratio");
    group.warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_millis(500)).sample_size(20);
    group.bench_function("shadow-cache-miss/cache-miss", |b| {
        b.iter_custom(|n| {
            ratio(
                n,
                16,
                |k| black_box(shadow_misses.decide(&flows[k % FLOWS])).action,
                |k| black_box(misses.decide(&flows[k % FLOWS])).action,
            )
        })
    });
    group.bench_function("shadow-cache-hit/cache-hit", |b| {
        b.iter_custom(|n| {
            ratio(
                n,
                256,
                |k| black_box(shadow_hits.decide(&flows[k % FLOWS])).action,
                |k| black_box(hits.decide(&flows[k % FLOWS])).action,
            )
        })
    });
    group.bench_function("shadow-batch-64/batch-64", |b| {
        b.iter_custom(|n| {
            ratio(
                n,
                2,
                |k| black_box(shadow_misses.decide_batch(&flows[(k * BATCH) % (FLOWS - BATCH)..][..BATCH])).len(),
                |k| black_box(misses.decide_batch(&flows[(k * BATCH) % (FLOWS - BATCH)..][..BATCH])).len(),
            )
        })
    });
    group.finish();
    // (No shadow counts when a filter skipped the shadow's benches.)
    let metrics = shadow_uncached.metrics();
    assert!(metrics.shadows.iter().all(|shadow| shadow.disagreed == 0), "a second instance of the reference agrees");
}

/// A million devices, as an embedder starting up gives them: a handle for each name, then its attach
/// and link facts (`devices/register-attach-link-1m`, one iteration = the million, each on a fresh
/// runtime); and, printed, the resident memory each device adds beyond its name's bytes.
fn devices(c: &mut Criterion) {
    const DEVICES: usize = 1_000_000;
    let engine = Engine::new().expect("engine");
    // IMSI-like names, 20 bytes each.
    let names: Vec<String> = (0..DEVICES).map(|i| format!("imsi-{:015}", 310_410_000_000_000 + i)).collect();
    let name_bytes = names[0].len();
    let home: PlmnId = "310410".parse().expect("valid");
    let attach = Attach { serving: Some(home), home, access: AccessKind::ThreeGpp };
    let link = LinkState { ciphering: true, integrity: true };
    let fill = |runtime: &Runtime| {
        for name in &names {
            let device = runtime.device_id(name).expect("room");
            runtime.set_attach(device, attach).expect("known");
            runtime.set_link(device, link).expect("known");
        }
    };
    // Memory first, before any other runtime has held a million devices (freed memory is reused).
    let runtime = runtime_with(&engine, &FactSet::builder().build());
    let before = timing::resident_bytes();
    fill(&runtime);
    let grown = timing::resident_bytes().saturating_sub(before);
    println!(
        "devices: {:.1} bytes resident per device beyond its name's {name_bytes} bytes ({} devices, {:.1} MiB in all)",
        grown as f64 / DEVICES as f64 - name_bytes as f64,
        DEVICES,
        grown as f64 / f64::from(1 << 20)
    );
    drop(runtime);
    let mut group = c.benchmark_group("devices");
    group.sample_size(10).throughput(Throughput::Elements(DEVICES as u64));
    group.bench_function("register-attach-link-1m", |b| {
        b.iter_custom(|iterations| {
            (0..iterations)
                .map(|_| {
                    let runtime = runtime_with(&engine, &FactSet::builder().build());
                    let started = std::time::Instant::now();
                    fill(&runtime);
                    let took = started.elapsed();
                    drop(black_box(runtime));
                    took
                })
                .sum()
        })
    });
    group.finish();
}

/// Fact updates at full rate on one thread while another decides at full rate (cache on, its own
/// 4,096 flows): the decider's rate with and without the updater beside it, alternated five times, and
/// the updater's rate; printed. The updater sets the link state (ciphering off and on) of 100,000 other
/// devices, so every update advances the epoch and the decider's hits are revalidated by generation.
fn updates_under_load(_: &mut Criterion) {
    const WINDOW: Duration = Duration::from_millis(400);
    let engine = Engine::new().expect("engine");
    let (facts, requests) = generate::sized(&mut Rng::new(1), 1_000, 10_000, 300, 1_000, FLOWS);
    let policy = engine.load_policy("reference", pathsec::bundled::REFERENCE).expect("loads");
    let (runtime, flows) = generate::sized_runtime(policy, 1 << 16, &facts, &requests);
    let home: PlmnId = "310410".parse().expect("valid");
    let others: Vec<_> = (0..100_000)
        .map(|i| {
            let device = runtime.device_id(&format!("other-{i}")).expect("room");
            runtime
                .set_attach(device, Attach { serving: Some(home), home, access: AccessKind::ThreeGpp })
                .expect("known");
            device
        })
        .collect();
    let decide_for = |window: Duration, stop: &std::sync::atomic::AtomicBool| {
        let mut worker = runtime.worker();
        flows.iter().for_each(|flow| drop(worker.decide(flow)));
        let (started, mut decided) = (std::time::Instant::now(), 0u64);
        while started.elapsed() < window {
            for flow in &flows[..256] {
                black_box(worker.decide(&flows[(decided as usize + flow.device.get() as usize) % FLOWS]));
                decided += 1;
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        decided as f64 / started.elapsed().as_secs_f64()
    };
    let (mut alone, mut beside, mut updates) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..5 {
        let stop = std::sync::atomic::AtomicBool::new(false);
        alone.push(decide_for(WINDOW, &stop));
        let stop = std::sync::atomic::AtomicBool::new(false);
        let (rate, updated) = std::thread::scope(|scope| {
            let updater = scope.spawn(|| {
                let (started, mut n) = (std::time::Instant::now(), 0usize);
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let link = LinkState { ciphering: n / others.len() % 2 == 0, integrity: true };
                    runtime.set_link(others[n % others.len()], link).expect("known");
                    n += 1;
                }
                n as f64 / started.elapsed().as_secs_f64()
            });
            let rate = decide_for(WINDOW, &stop);
            (rate, updater.join().expect("updater"))
        });
        beside.push(rate);
        updates.push(updated);
    }
    let median = |values: &mut Vec<f64>| {
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let (alone, beside, updates) = (median(&mut alone), median(&mut beside), median(&mut updates));
    println!(
        "updates under load: decider {:.2} M/s alone, {:.2} M/s beside {:.2} M link updates/s on another thread \
         (slowed by {:.1} %)",
        alone / 1e6,
        beside / 1e6,
        updates / 1e6,
        (1.0 - beside / alone) * 100.0
    );
}

/// A list change at a million entries while two threads decide at full rate (cache off, each its own
/// half of the flows), printed: from `update_lists` returning to each worker's first decision on the new
/// lists (the first that started after it returned; it loads them into the worker's instance), and the
/// longest any decision took in the second around the change. Three changes.
fn list_change_at_scale(_: &mut Criterion) {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::time::Instant;
    let engine = Engine::new().expect("engine");
    let (facts, requests) = generate::sized(&mut Rng::new(1), 1_000, 1_000_000, 300, 10_000, FLOWS);
    let policy = engine.load_policy("reference", pathsec::bundled::REFERENCE).expect("loads");
    // Cache off: every decision asks the policy, so the first after the change needs the new lists.
    let (runtime, flows) = generate::sized_runtime(policy, 0, &facts, &requests);
    let started = Instant::now();
    let nanos = || started.elapsed().as_nanos() as u64;
    // Two threads decide while `change` runs on this one: when the first decision that began after it
    // returned ended, the longest decision in the window, how many took over 1 ms, and how long
    // `change` took.
    let window = |change: &dyn Fn()| {
        let (stop, changed_at) = (AtomicBool::new(false), AtomicU64::new(u64::MAX));
        std::thread::scope(|scope| {
            let deciders: Vec<_> = (0..2)
                .map(|half| {
                    let (runtime, flows, stop, changed_at) = (&runtime, &flows, &stop, &changed_at);
                    scope.spawn(move || {
                        let mut worker = runtime.worker();
                        let mine = &flows[half * FLOWS / 2..(half + 1) * FLOWS / 2];
                        // The instance made and the lists loaded before the window.
                        black_box(worker.decide(&mine[0]));
                        let (mut first_new, mut longest, mut over, mut k) = (None, 0u64, 0usize, 0usize);
                        while !stop.load(Ordering::Relaxed) {
                            let begun = nanos();
                            black_box(worker.decide(&mine[k % mine.len()]));
                            let ended = nanos();
                            longest = longest.max(ended - begun);
                            over += usize::from(ended - begun > 1_000_000);
                            let changed = changed_at.load(Ordering::Acquire);
                            if first_new.is_none() && begun > changed {
                                first_new = Some(ended - changed);
                            }
                            k += 1;
                        }
                        (first_new, longest, over)
                    })
                })
                .collect();
            std::thread::sleep(Duration::from_millis(300));
            let called = Instant::now();
            change();
            changed_at.store(nanos(), Ordering::Release);
            let call = called.elapsed();
            std::thread::sleep(Duration::from_millis(700));
            stop.store(true, Ordering::Relaxed);
            let results: Vec<_> = deciders.into_iter().map(|decider| decider.join().expect("decider")).collect();
            let first_new = results.iter().filter_map(|(first, ..)| *first).max().unwrap_or(u64::MAX);
            let longest = results.iter().map(|(_, longest, _)| *longest).max().unwrap_or(0);
            (first_new, longest, results.iter().map(|(.., over)| over).sum::<usize>(), call)
        })
    };
    let mut calls = Duration::ZERO;
    for change in 0..3 {
        let (first_new, longest, over, call) = window(&|| {
            let home = "310410".parse::<PlmnId>().expect("valid");
            // Two changes (the server named, then its pair listed), each preparing both workers.
            let server = runtime.server_id(&format!("change-{change}.example.net").parse().expect("valid"));
            runtime.update_lists(|lists| {
                lists.trust_path_b(home, server);
            });
        });
        calls = call;
        println!(
            "list change at 1,000,000 List 2 entries ({}): the two calls took {:.1} ms; every worker on the new \
             lists {:.1} ms after they returned; longest decision {:.2} ms, {over} over 1 ms",
            change + 1,
            call.as_secs_f64() * 1e3,
            first_new as f64 / 1e6,
            longest as f64 / 1e6
        );
    }
    // The control: this thread busy as long as the last change's calls, changing nothing. Three busy
    // threads on two cores: a decider's longest here is the scheduler's, not a wait on the engine.
    let (_, longest, over, _) = window(&|| {
        let until = Instant::now() + calls;
        while Instant::now() < until {
            std::hint::spin_loop();
        }
    });
    println!(
        "list change control (no change, this thread busy {:.1} ms): longest decision {:.2} ms, {over} over 1 ms",
        calls.as_secs_f64() * 1e3,
        longest as f64 / 1e6
    );
}

/// Policy swaps under load, printed: one thread deciding at full rate (cache on, its 4,096 flows), its
/// decisions' latencies over 1.5 s without a swap and over 1.5 s with a swap every 100 ms (the reference
/// and a second load of it, in turn), each decision timed alone; p50, p99, p99.9 and the longest.
fn swap_under_load(_: &mut Criterion) {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Instant;
    let engine = Engine::new().expect("engine");
    let (facts, requests) = generate::sized(&mut Rng::new(1), 1_000, 10_000, 300, 1_000, FLOWS);
    let policies = [
        engine.load_policy("reference", pathsec::bundled::REFERENCE).expect("loads"),
        engine.load_policy("reference-again", pathsec::bundled::REFERENCE).expect("loads"),
    ];
    let (runtime, flows) = generate::sized_runtime(policies[0].clone(), 1 << 16, &facts, &requests);
    let window = Duration::from_millis(1_500);
    let measure = |swapping: bool| -> Vec<u64> {
        let stop = AtomicBool::new(false);
        std::thread::scope(|scope| {
            let decider = scope.spawn(|| {
                let mut worker = runtime.worker();
                flows.iter().for_each(|flow| drop(worker.decide(flow)));
                let mut latencies = Vec::with_capacity(50_000_000);
                let mut k = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let begun = Instant::now();
                    black_box(worker.decide(&flows[k % FLOWS]));
                    latencies.push(begun.elapsed().as_nanos() as u64);
                    k += 1;
                }
                latencies
            });
            let started = Instant::now();
            let mut swaps = 0;
            while started.elapsed() < window {
                std::thread::sleep(Duration::from_millis(100));
                if swapping {
                    swaps += 1;
                    runtime.swap(policies[swaps % 2].clone()).expect("passes its self-check");
                }
            }
            stop.store(true, Ordering::Relaxed);
            decider.join().expect("decider")
        })
    };
    let quantiles = |mut latencies: Vec<u64>| {
        latencies.sort_unstable();
        let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize] as f64;
        (at(0.5), at(0.99), at(0.999), *latencies.last().unwrap_or(&0) as f64, latencies.len())
    };
    let steady = quantiles(measure(false));
    let swapping = quantiles(measure(true));
    for (name, (p50, p99, p999, max, n)) in [("steady", steady), ("swapping every 100 ms", swapping)] {
        println!(
            "swap under load, {name}: {n} decisions, p50 {p50:.0} ns, p99 {p99:.0} ns, p99.9 {p999:.0} ns, longest {:.2} ms",
            max / 1e6
        );
    }
    println!("swap under load: p99 swapping ÷ steady {:.2}×", swapping.1 / steady.1);
}

criterion_group!(
    benches,
    per_packet,
    swap,
    registration,
    embedders,
    shadow,
    devices,
    updates_under_load,
    list_change_at_scale,
    swap_under_load
);
criterion_main!(benches);
