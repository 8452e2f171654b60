//! Counters of a running engine, read with [`Runtime::metrics`](crate::Runtime::metrics): decisions,
//! cache hits, decisions made on unknown facts, policy faults by kind, swaps.
//!
//! Each worker counts into its own counters (one writer each, so counting is a plain load and store,
//! no locked instruction on the per-packet path); reading sums every worker, past and present.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::runtime::log::LogStats;
use crate::vocab::{FaultKind, PolicyFault};

/// What a runtime has done since it started, over every worker it has had.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Metrics {
    /// Decisions answered: `cache_hits + policy_calls + unknown_facts`.
    pub decisions: u64,
    /// Decisions answered from a worker's flow cache.
    pub cache_hits: u64,
    /// Decisions the policy was asked for (one per flow, also inside a batch).
    pub policy_calls: u64,
    /// Decisions that failed closed before the policy: the device's attach facts were unknown, or the
    /// device handle was not this runtime's.
    pub unknown_facts: u64,
    /// Decisions that failed closed on a policy fault, by kind: path decisions (included in
    /// `policy_calls`) and the related decisions a worker made.
    pub faults: FaultCounts,
    /// Policies swapped in.
    pub swaps: u64,
    /// Swaps refused (the policy failed its self-check; the active policy stayed).
    pub swaps_refused: u64,
    /// The decision log's counts, when the runtime has one.
    pub log: Option<LogStats>,
}

/// Policy faults by kind: `faults[kind]` counts the decisions that failed closed with a
/// [`PolicyFault`] of that [`FaultKind`]. A batch that faults counts once per flow in it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultCounts([u64; FaultKind::COUNT]);

impl FaultCounts {
    /// Every fault, of any kind.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// The faults of `kind`.
    pub fn get(&self, kind: FaultKind) -> u64 {
        self.0[kind.index()]
    }

    /// Each kind with its count, in [`FaultKind::ALL`]'s order.
    pub fn iter(&self) -> impl Iterator<Item = (FaultKind, u64)> + '_ {
        FaultKind::ALL.iter().map(|&kind| (kind, self.get(kind)))
    }
}

impl std::ops::Index<FaultKind> for FaultCounts {
    type Output = u64;

    fn index(&self, kind: FaultKind) -> &u64 {
        &self.0[kind.index()]
    }
}

/// One worker's counts. Only its worker writes them; anyone may read them.
#[derive(Default)]
pub(crate) struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    unknown: AtomicU64,
    faults: [AtomicU64; FaultKind::COUNT],
}

/// Adds `n` to a counter only one thread writes: a plain load and store, no locked instruction.
#[inline(always)]
fn bump(counter: &AtomicU64, n: u64) {
    counter.store(counter.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
}

impl Counters {
    #[inline(always)]
    pub(crate) fn hit(&self) {
        bump(&self.hits, 1);
    }

    #[inline(always)]
    pub(crate) fn missed(&self, n: u64) {
        bump(&self.misses, n);
    }

    /// `n` of the missed decisions failed closed on unknown facts.
    #[cold]
    pub(crate) fn unknown(&self, n: u64) {
        bump(&self.unknown, n);
    }

    /// A decision failed closed on `fault`.
    #[cold]
    #[inline(never)]
    pub(crate) fn fault(&self, fault: &PolicyFault) {
        bump(&self.faults[fault.kind().index()], 1);
    }

    pub(crate) fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    pub(crate) fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }

    /// Adds `other`'s counts (many threads may call this at once).
    fn absorb(&self, other: &Counters) {
        let add = |to: &AtomicU64, from: &AtomicU64| {
            to.fetch_add(from.load(Ordering::Relaxed), Ordering::Relaxed);
        };
        add(&self.hits, &other.hits);
        add(&self.misses, &other.misses);
        add(&self.unknown, &other.unknown);
        for (to, from) in self.faults.iter().zip(&other.faults) {
            add(to, from);
        }
    }
}

/// Every worker's counters, and those of workers gone.
#[derive(Default)]
pub(crate) struct Registry {
    live: Mutex<Vec<Arc<Counters>>>,
    retired: Counters,
    swaps_refused: AtomicU64,
}

impl Registry {
    /// Counters for a new worker.
    pub(crate) fn register(&self) -> Arc<Counters> {
        let counters = Arc::<Counters>::default();
        self.lock().push(Arc::clone(&counters));
        counters
    }

    /// Keeps a departing worker's counts and forgets its counters.
    pub(crate) fn retire(&self, counters: &Arc<Counters>) {
        let mut live = self.lock();
        self.retired.absorb(counters);
        live.retain(|other| !Arc::ptr_eq(other, counters));
    }

    pub(crate) fn swap_refused(&self) {
        self.swaps_refused.fetch_add(1, Ordering::Relaxed);
    }

    /// The sums (without `swaps` and `log`, which the runtime adds).
    pub(crate) fn metrics(&self) -> Metrics {
        let total = Counters::default();
        {
            let live = self.lock();
            total.absorb(&self.retired);
            for counters in live.iter() {
                total.absorb(counters);
            }
        }
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let (hits, misses, unknown_facts) = (get(&total.hits), get(&total.misses), get(&total.unknown));
        Metrics {
            decisions: hits + misses,
            cache_hits: hits,
            // Read while workers count: `unknown` may already include a miss `misses` does not yet.
            policy_calls: misses.saturating_sub(unknown_facts),
            unknown_facts,
            faults: FaultCounts(total.faults.each_ref().map(get)),
            swaps: 0,
            swaps_refused: get(&self.swaps_refused),
            log: None,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arc<Counters>>> {
        // The list is whole after every push and retain: a panic elsewhere cannot leave it half-made.
        self.live.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
