//! Counters of a running engine, read with [`Runtime::metrics`](crate::Runtime::metrics): decisions
//! (by policy, action and reason), cache hits, decisions made on unknown facts, policy faults by kind,
//! swaps.
//!
//! Each worker counts into its own counters (one writer each, so counting is a plain load and store,
//! no locked instruction on the per-packet path); reading sums every worker, past and present. A
//! worker's decisions by action and reason are the active policy's: when it moves to a new policy it
//! hands what it counted to the registry under the old one's name.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::runtime::log::LogStats;
use crate::vocab::{Action, Decision, FaultKind, PolicyFault, Reason};

/// Decisions by action and reason: `OUTCOMES` slots, `action * Reason::COUNT + reason`.
const OUTCOMES: usize = Action::COUNT * Reason::COUNT;

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
    /// Decisions by the policy that was active, the action and the reason; only the non-zero ones,
    /// sorted. Their counts add up to `decisions`.
    pub outcomes: Vec<OutcomeCount>,
}

/// How many decisions a policy answered with one action and reason (fail-closed decisions made
/// before the policy count under the policy that was active).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct OutcomeCount {
    /// The policy's name.
    pub policy: Arc<str>,
    /// The action.
    pub action: Action,
    /// The reason.
    pub reason: Reason,
    /// How many decisions.
    pub count: u64,
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
pub(crate) struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    unknown: AtomicU64,
    faults: [AtomicU64; FaultKind::COUNT],
    /// Decisions by action and reason, since the worker last moved to another policy.
    outcomes: [AtomicU64; OUTCOMES],
    /// The policy those decisions were made under; `None` before the worker's first policy.
    policy: Mutex<Option<Arc<str>>>,
}

impl Default for Counters {
    fn default() -> Counters {
        Counters {
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            unknown: AtomicU64::new(0),
            faults: Default::default(),
            outcomes: std::array::from_fn(|_| AtomicU64::new(0)),
            policy: Mutex::new(None),
        }
    }
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

    /// A decision was answered (from the cache, the policy or fail-closed).
    #[inline(always)]
    pub(crate) fn outcome(&self, decision: &Decision) {
        bump(&self.outcomes[decision.action.index() * Reason::COUNT + decision.reason.index()], 1);
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

    /// Adds `other`'s counts but its outcomes (many threads may call this at once).
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
    /// Outcomes handed over by workers that moved on from a policy (or retired), by policy name.
    /// Taken under `live`'s lock, so a reader never sees a count twice or not at all.
    outcomes: Mutex<BTreeMap<Arc<str>, Box<[u64; OUTCOMES]>>>,
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
        self.hand_over(counters, None);
        live.retain(|other| !Arc::ptr_eq(other, counters));
    }

    /// `counters`' worker now decides with `policy`: what it counted under its previous policy is kept
    /// under that one's name. Called by the worker itself (the counters' one writer).
    pub(crate) fn serve(&self, counters: &Counters, policy: &Arc<str>) {
        let _live = self.lock();
        self.hand_over(counters, Some(Arc::clone(policy)));
    }

    /// Moves `counters`' outcomes to the registry's table and names its next policy (`live` is held).
    fn hand_over(&self, counters: &Counters, next: Option<Arc<str>>) {
        let mut name = lock(&counters.policy);
        if let Some(policy) = name.as_ref() {
            let mut outcomes = lock(&self.outcomes);
            let table = outcomes.entry(Arc::clone(policy)).or_insert_with(|| Box::new([0; OUTCOMES]));
            for (total, count) in table.iter_mut().zip(&counters.outcomes) {
                *total += count.swap(0, Ordering::Relaxed);
            }
        }
        if next.is_some() {
            *name = next;
        }
    }

    pub(crate) fn swap_refused(&self) {
        self.swaps_refused.fetch_add(1, Ordering::Relaxed);
    }

    /// The sums (without `swaps` and `log`, which the runtime adds).
    pub(crate) fn metrics(&self) -> Metrics {
        let total = Counters::default();
        let mut outcomes;
        {
            let live = self.lock();
            total.absorb(&self.retired);
            outcomes = lock(&self.outcomes).clone();
            for counters in live.iter() {
                total.absorb(counters);
                // A worker that has not yet decided has no policy, and nothing counted.
                if let Some(policy) = lock(&counters.policy).as_ref() {
                    let table = outcomes.entry(Arc::clone(policy)).or_insert_with(|| Box::new([0; OUTCOMES]));
                    for (total, count) in table.iter_mut().zip(&counters.outcomes) {
                        *total += count.load(Ordering::Relaxed);
                    }
                }
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
            outcomes: outcome_counts(&outcomes),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arc<Counters>>> {
        lock(&self.live)
    }
}

/// The non-zero entries of per-policy outcome tables, sorted by policy, action and reason.
fn outcome_counts(tables: &BTreeMap<Arc<str>, Box<[u64; OUTCOMES]>>) -> Vec<OutcomeCount> {
    let mut counts = Vec::new();
    for (policy, table) in tables {
        for (slot, &count) in table.iter().enumerate() {
            if count > 0 {
                let (action, reason) = (Action::ALL[slot / Reason::COUNT], Reason::ALL[slot % Reason::COUNT]);
                counts.push(OutcomeCount { policy: Arc::clone(policy), action, reason, count });
            }
        }
    }
    counts
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Every value behind these locks is whole after each statement: a panic elsewhere cannot leave one
    // half-made.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
