//! Counters of a running engine, read with [`Runtime::metrics`](crate::Runtime::metrics): decisions
//! (by policy, action and reason), cache hits, decisions made on unknown facts, policy faults by kind,
//! swaps.
//!
//! Each worker counts into its own counters (one writer each, so counting is a plain load and store,
//! no locked instruction on the per-packet path); reading sums every worker, past and present. A
//! worker's decisions by action and reason are the active policy's: when it moves to a new policy it
//! hands what it counted to the registry under the old one's name. During a canary rollout a worker
//! counts the candidate's decisions apart, under the candidate's name; a shadow's comparisons are
//! counted under the shadow's name the same way.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::sync::Locked;
use crate::telemetry::log::LogStats;
use crate::vocab::{Action, Decision, FaultKind, MadeBy, PolicyFault, Reason};

/// Decisions by action and reason: `OUTCOMES` slots, `action * Reason::COUNT + reason`.
const OUTCOMES: usize = Action::COUNT * Reason::COUNT;

/// Shadow disagreements by (active outcome, shadow outcome): `active * OUTCOMES + shadow`.
const DISAGREEMENTS: usize = OUTCOMES * OUTCOMES;

/// What a cache entry keeps of the shadow's answer: none, agreement, or a disagreement's slot + 2.
pub(crate) type ShadowCode = u16;
/// No shadow answer is cached with the decision.
pub(crate) const SHADOW_NONE: ShadowCode = 0;
/// The shadow agreed.
pub(crate) const SHADOW_AGREED: ShadowCode = 1;
const _: () = assert!(DISAGREEMENTS + 2 <= ShadowCode::MAX as usize);

/// The slot of a decision's action and reason.
#[inline(always)]
fn outcome_slot(decision: &Decision) -> usize {
    decision.action.index() * Reason::COUNT + decision.reason.index()
}

/// The cache's code of the shadow's answer `shadow` to what `active` decided.
#[inline]
pub(crate) fn shadow_code(active: &Decision, shadow: &Decision) -> ShadowCode {
    if active.same_outcome(shadow) {
        SHADOW_AGREED
    } else {
        (outcome_slot(active) * OUTCOMES + outcome_slot(shadow) + 2) as ShadowCode
    }
}

/// The shadow's action and reason of a disagreement code.
pub(crate) fn shadow_outcome(code: ShadowCode) -> Option<(Action, Reason)> {
    let slot = (code as usize).checked_sub(2)? % OUTCOMES;
    Some((Action::ALL[slot / Reason::COUNT], Reason::ALL[slot % Reason::COUNT]))
}

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
    /// Workers' instance sets made ready by a change to the lists or the policies before it was
    /// published (one per live worker and change), so that no worker loads lists while deciding.
    pub instances_prepared: u64,
    /// Times a worker made its instances or loaded the lists itself, on its decision path: its first
    /// decision, or the first after a change it found nothing prepared for (it was made during the
    /// change). Growing with changes, not with workers, means decisions are waiting on list loads.
    pub loads_while_deciding: u64,
    /// The decision log's counts, when the runtime has one.
    pub log: Option<LogStats>,
    /// Decisions by the policy that made them (the active one, or a canary's candidate), the action
    /// and the reason; only the non-zero ones, sorted. Their counts add up to `decisions`.
    pub outcomes: Vec<OutcomeCount>,
    /// What each shadow policy that ran did beside the active one, by the shadow's name.
    pub shadows: Vec<ShadowMetrics>,
}

/// What a shadow policy did beside the active one (see
/// [`Runtime::start_shadow`](crate::Runtime::start_shadow)). Every returned decision stays the active
/// one's: these only count.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ShadowMetrics {
    /// The shadow's name.
    pub policy: Arc<str>,
    /// Decisions the shadow's answer was compared with (fresh at a cache miss, or cached with the
    /// decision at a hit): `agreed + disagreed`.
    pub compared: u64,
    /// Of them, the shadow answered the same action and reason.
    pub agreed: u64,
    /// Of them, it answered another action or reason.
    pub disagreed: u64,
    /// The disagreements by what the active policy and the shadow answered; only the non-zero ones,
    /// sorted. Their counts add up to `disagreed`.
    pub disagreements: Vec<Disagreement>,
    /// Misses the shadow was not asked about (sampled out by its `every`).
    pub skipped: u64,
    /// The shadow's faults (traps, deadlines, …) by kind: the active decision was returned unchanged,
    /// and nothing was compared.
    pub faults: FaultCounts,
}

/// How many decisions the shadow answered otherwise than the active policy, one way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Disagreement {
    /// What the active policy answered (and was returned).
    pub active: (Action, Reason),
    /// What the shadow answered.
    pub shadow: (Action, Reason),
    /// How many decisions.
    pub count: u64,
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
    /// Decisions by action and reason, since the worker last moved to another policy: the active
    /// policy's, then a canary candidate's ([`MadeBy`]'s order).
    outcomes: [[AtomicU64; OUTCOMES]; MadeBy::COUNT],
    /// The policies those decisions were made by; `None` before the worker's first policy (and for a
    /// candidate while no canary runs).
    policy: Mutex<[Option<Arc<str>>; MadeBy::COUNT]>,
    /// The shadow's counts since the worker last moved to another shadow.
    shadow: ShadowCounters,
}

/// One worker's shadow counts (its one writer is the worker).
#[derive(Default)]
struct ShadowCounters {
    agreed: AtomicU64,
    skipped: AtomicU64,
    faults: [AtomicU64; FaultKind::COUNT],
    /// By disagreement slot; made at the first disagreement (it is large).
    disagreed: std::sync::OnceLock<Box<[AtomicU64]>>,
    /// The shadow they count; `None` while none runs.
    policy: Mutex<Option<Arc<str>>>,
}

impl Default for Counters {
    fn default() -> Counters {
        Counters {
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            unknown: AtomicU64::new(0),
            faults: Default::default(),
            outcomes: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
            policy: Mutex::new([None, None]),
            shadow: ShadowCounters::default(),
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
        bump(&self.outcomes[decision.made_by.index()][outcome_slot(decision)], 1);
    }

    /// A decision the active policy made (or the engine, under it) was answered: as
    /// [`Counters::outcome`], without looking at who made it.
    #[inline(always)]
    pub(crate) fn active_outcome(&self, decision: &Decision) {
        bump(&self.outcomes[MadeBy::Active.index()][outcome_slot(decision)], 1);
    }

    /// The shadow's answer, as a cache entry keeps it, was compared with a decision.
    #[inline]
    pub(crate) fn shadow(&self, code: ShadowCode) {
        match code {
            SHADOW_NONE => {}
            SHADOW_AGREED => bump(&self.shadow.agreed, 1),
            _ => self.disagreed(code),
        }
    }

    #[cold]
    #[inline(never)]
    fn disagreed(&self, code: ShadowCode) {
        let table = self.shadow.disagreed.get_or_init(|| (0..DISAGREEMENTS).map(|_| AtomicU64::new(0)).collect());
        bump(&table[code as usize - 2], 1);
    }

    /// `n` misses were not shown to the shadow (sampled out).
    #[inline]
    pub(crate) fn shadow_skipped(&self, n: u64) {
        bump(&self.shadow.skipped, n);
    }

    /// The shadow failed on a decision (the active decision stands).
    #[cold]
    #[inline(never)]
    pub(crate) fn shadow_fault(&self, fault: &PolicyFault) {
        bump(&self.shadow.faults[fault.kind().index()], 1);
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
    instances_prepared: AtomicU64,
    loads_while_deciding: AtomicU64,
    /// Outcomes handed over by workers that moved on from a policy (or retired), by policy name.
    /// Taken under `live`'s lock, so a reader never sees a count twice or not at all.
    outcomes: Mutex<BTreeMap<Arc<str>, Box<[u64; OUTCOMES]>>>,
    /// Shadow counts handed over the same way, by shadow name.
    shadows: Mutex<BTreeMap<Arc<str>, ShadowTable>>,
}

/// A shadow's counts, summed.
#[derive(Clone, Default)]
struct ShadowTable {
    agreed: u64,
    skipped: u64,
    faults: [u64; FaultKind::COUNT],
    disagreed: BTreeMap<usize, u64>,
}

impl ShadowTable {
    /// Adds `counters`' counts; `take` zeroes them (a hand-over) rather than reading them.
    fn add(&mut self, counters: &ShadowCounters, take: bool) {
        let read = |counter: &AtomicU64| {
            if take { counter.swap(0, Ordering::Relaxed) } else { counter.load(Ordering::Relaxed) }
        };
        self.agreed += read(&counters.agreed);
        self.skipped += read(&counters.skipped);
        for (total, count) in self.faults.iter_mut().zip(&counters.faults) {
            *total += read(count);
        }
        if let Some(table) = counters.disagreed.get() {
            for (slot, count) in table.iter().enumerate() {
                let count = read(count);
                if count > 0 {
                    *self.disagreed.entry(slot).or_default() += count;
                }
            }
        }
    }

    fn metrics(&self, policy: &Arc<str>) -> ShadowMetrics {
        let disagreements: Vec<_> = self
            .disagreed
            .iter()
            .map(|(&slot, &count)| {
                let (active, shadow) = (slot / OUTCOMES, slot % OUTCOMES);
                let outcome = |slot: usize| (Action::ALL[slot / Reason::COUNT], Reason::ALL[slot % Reason::COUNT]);
                Disagreement { active: outcome(active), shadow: outcome(shadow), count }
            })
            .collect();
        let disagreed = disagreements.iter().map(|d| d.count).sum();
        ShadowMetrics {
            policy: Arc::clone(policy),
            compared: self.agreed + disagreed,
            agreed: self.agreed,
            disagreed,
            disagreements,
            skipped: self.skipped,
            faults: FaultCounts(self.faults),
        }
    }
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

    /// `counters`' worker now decides with `policies` (the active one, and a canary's candidate) beside
    /// `shadow`: what it counted under the previous ones is kept under their names. Called by the worker
    /// itself (the counters' one writer).
    pub(crate) fn serve(
        &self,
        counters: &Counters,
        policies: [Option<Arc<str>>; MadeBy::COUNT],
        shadow: Option<Arc<str>>,
    ) {
        let _live = self.lock();
        self.hand_over(counters, Some((policies, shadow)));
    }

    /// Moves `counters`' outcomes and shadow counts to the registry's tables and names its next
    /// policies (`live` is held).
    #[allow(clippy::type_complexity)]
    fn hand_over(&self, counters: &Counters, next: Option<([Option<Arc<str>>; MadeBy::COUNT], Option<Arc<str>>)>) {
        let mut names = lock(&counters.policy);
        for (name, counts) in names.iter().zip(&counters.outcomes) {
            if let Some(policy) = name.as_ref() {
                let mut outcomes = lock(&self.outcomes);
                let table = outcomes.entry(Arc::clone(policy)).or_insert_with(|| Box::new([0; OUTCOMES]));
                for (total, count) in table.iter_mut().zip(counts) {
                    *total += count.swap(0, Ordering::Relaxed);
                }
            }
        }
        let mut shadow = lock(&counters.shadow.policy);
        if let Some(policy) = shadow.as_ref() {
            lock(&self.shadows).entry(Arc::clone(policy)).or_default().add(&counters.shadow, true);
        }
        if let Some((policies, next_shadow)) = next {
            *names = policies;
            *shadow = next_shadow;
        }
    }

    pub(crate) fn swap_refused(&self) {
        self.swaps_refused.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn instances_prepared(&self, n: usize) {
        self.instances_prepared.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn loaded_while_deciding(&self) {
        self.loads_while_deciding.fetch_add(1, Ordering::Relaxed);
    }

    /// The sums (without `swaps` and `log`, which the runtime adds).
    pub(crate) fn metrics(&self) -> Metrics {
        let total = Counters::default();
        let mut outcomes;
        let mut shadows;
        {
            let live = self.lock();
            total.absorb(&self.retired);
            outcomes = lock(&self.outcomes).clone();
            shadows = lock(&self.shadows).clone();
            for counters in live.iter() {
                total.absorb(counters);
                // A worker that has not yet decided has no policy, and nothing counted.
                for (name, counts) in lock(&counters.policy).iter().zip(&counters.outcomes) {
                    let Some(policy) = name.as_ref() else { continue };
                    let table = outcomes.entry(Arc::clone(policy)).or_insert_with(|| Box::new([0; OUTCOMES]));
                    for (total, count) in table.iter_mut().zip(counts) {
                        *total += count.load(Ordering::Relaxed);
                    }
                }
                if let Some(policy) = lock(&counters.shadow.policy).as_ref() {
                    shadows.entry(Arc::clone(policy)).or_default().add(&counters.shadow, false);
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
            instances_prepared: get(&self.instances_prepared),
            loads_while_deciding: get(&self.loads_while_deciding),
            log: None,
            outcomes: outcome_counts(&outcomes),
            shadows: shadows.iter().map(|(policy, table)| table.metrics(policy)).collect(),
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
    mutex.locked()
}
