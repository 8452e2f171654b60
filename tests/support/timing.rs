//! Timing helpers for the benches, where a shared, noisy machine makes absolute times drift.

use std::hint::black_box;
use std::time::{Duration, Instant};

/// `iterations` rounds of `k` subject calls and `k` floor calls; the ratio of their total times, as
/// microseconds per iteration, so criterion reports the ratio as a time (`1.2000 µs` is 1.2×). Measured
/// interleaved, a drift of the machine hits subject and floor alike; which goes first alternates from
/// round to round, so neither gains from going first (warm caches, a branch predictor trained by the
/// other — worth ~1.2× to a batch that always went first).
pub fn ratio<A, B>(
    iterations: u64,
    k: usize,
    mut subject: impl FnMut(usize) -> A,
    mut floor: impl FnMut(usize) -> B,
) -> Duration {
    let (mut subject_time, mut floor_time) = (Duration::ZERO, Duration::ZERO);
    let mut next = 0;
    for round in 0..iterations {
        let mut time_subject = |next: usize| {
            let started = Instant::now();
            for m in 0..k {
                black_box(subject(next + m));
            }
            subject_time += started.elapsed();
        };
        let mut time_floor = |next: usize| {
            let started = Instant::now();
            for m in 0..k {
                black_box(floor(next + m));
            }
            floor_time += started.elapsed();
        };
        if round % 2 == 0 {
            time_subject(next);
            time_floor(next);
        } else {
            time_floor(next);
            time_subject(next);
        }
        next += k;
    }
    let ratio = subject_time.as_secs_f64() / floor_time.as_secs_f64().max(f64::MIN_POSITIVE);
    Duration::from_secs_f64(ratio * 1e-6 * iterations as f64)
}

/// Wall time for `threads` threads to make `per_thread` calls of their own subject each, after every
/// thread has built its subject (`make(thread)`) and warmed it with one pass of `warm` calls.
pub fn threads<S: FnMut(usize)>(
    threads: usize,
    per_thread: usize,
    warm: usize,
    make: impl Fn(usize) -> S + Sync,
) -> Duration {
    let barrier = std::sync::Barrier::new(threads + 1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (barrier, make) = (&barrier, &make);
                scope.spawn(move || {
                    let mut subject = make(t);
                    (0..warm).for_each(&mut subject);
                    barrier.wait();
                    (0..per_thread).for_each(&mut subject);
                })
            })
            .collect();
        barrier.wait();
        let started = Instant::now();
        handles.into_iter().for_each(|handle| handle.join().expect("bench thread"));
        started.elapsed()
    })
}

/// This process's resident memory in bytes (Linux `/proc/self/statm`), or 0 where it cannot be read.
pub fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm.split_whitespace().nth(1).and_then(|field| field.parse().ok()).unwrap_or(0);
    pages * 4096
}
