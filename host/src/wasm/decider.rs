//! `Decider`: one policy instance in its own store, deciding requests for one thread.
//!
//! Every call into the policy runs under an epoch deadline and the store's memory cap. Any failure
//! (trap, deadline, memory) makes that decision fail closed with a [`PolicyFault`], drops the
//! instance (a trap poisons the store) and the next decision starts from a fresh one.

use std::sync::Arc;
use std::time::Duration;

use wasmtime::{Store, Trap};

use crate::facts::FactSet;
use crate::vocab::{Action, Decision, EventKind, PolicyFault, Reason, Request, Role};
use crate::wasm::engine::Engine;
use crate::wasm::limits::{self, StoreLimiter};
use crate::wasm::packed;
use crate::wasm::plug::{OptionalExport, RelatedDecision, States, Verdict};
use crate::wasm::policy::{Exports, Policy};
use crate::wasm::sandbox::{self, StoreState};

/// Decides requests with one instance of a [`Policy`]. Not shared: make one per thread with
/// [`Policy::decider`].
pub struct Decider {
    policy: Policy,
    decide_ticks: u64,
    load_ticks: u64,
    live: Option<Live>,
    /// The packed batch's request words, kept between batches.
    words: Vec<u64>,
    /// The host-held state of the related decisions this decider makes on its own.
    states: States,
}

/// A running instance and what it has loaded.
struct Live {
    store: Store<StoreState>,
    exports: Exports,
    /// The fact generation the instance holds.
    loaded: Option<u64>,
    /// The generation the policy rejected, and why; decisions on it fail closed without asking again.
    rejected: Option<(u64, Arc<PolicyFault>)>,
    /// A call trapped: the store is unusable and the instance is replaced before the next call.
    poisoned: bool,
}

impl Decider {
    pub(crate) fn new(policy: Policy) -> Decider {
        let limits = policy.engine().limits();
        let decide_ticks = limits::ticks(limits.deadline);
        let load_ticks = limits::ticks(limits.load_deadline);
        Decider { policy, decide_ticks, load_ticks, live: None, words: Vec::new(), states: States::default() }
    }

    /// The policy this decider runs.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Makes the instance and loads `facts` now, instead of on the first decision. An error says why
    /// decisions on these facts would fail closed.
    pub fn prepare(&mut self, facts: &FactSet) -> Result<(), Arc<PolicyFault>> {
        ready(&self.policy, &mut self.live, self.load_ticks, facts).map(|_| ())
    }

    /// Makes a related decision `D` through its optional export, under the decision deadline, with the
    /// host-held `state` of such decisions: the state's check first (its verdict, if it has one, is the
    /// answer), then the policy's answer checked, and the state's record last. Never fails: a policy that
    /// fails, does not export the interface, or answers what makes no sense gets `D`'s fail-closed
    /// verdict, with the fault.
    pub(crate) fn related<D: RelatedDecision>(
        &mut self,
        facts: &FactSet,
        state: &D::State,
        request: &D::Request,
    ) -> D::Verdict {
        if let Some(verdict) = D::before(state, request) {
            return verdict;
        }
        let verdict = match self.call_related::<D>(facts, request) {
            Ok(answer) => D::check(request, answer),
            Err(fault) => D::Verdict::fail_closed(fault),
        };
        D::after(state, request, &verdict);
        verdict
    }

    /// As [`Decider::related`], with the state this decider keeps for `D` (a runtime's workers share
    /// theirs instead).
    pub(crate) fn related_here<D: RelatedDecision>(&mut self, facts: &FactSet, request: &D::Request) -> D::Verdict {
        let state = self.states.of::<D>();
        self.related::<D>(facts, &state, request)
    }

    /// Calls `D`'s export. Faults as [`Decider::decide`]'s; a policy without the export is a fault too.
    fn call_related<D: RelatedDecision>(
        &mut self,
        facts: &FactSet,
        request: &D::Request,
    ) -> Result<D::Answer, Arc<PolicyFault>> {
        if !self.policy.provides::<D::Export>() {
            return Err(not_provided::<D::Export>());
        }
        let engine = self.policy.engine();
        let live = ready(&self.policy, &mut self.live, self.load_ticks, facts)?;
        arm(&mut live.store, self.decide_ticks);
        let started = engine.ticks();
        let Live { store, exports, .. } = &mut *live;
        let Some(guest) = exports.optional::<D::Export>() else {
            return Err(not_provided::<D::Export>());
        };
        let answer = D::call(guest, store, facts, request);
        answer.map_err(|error| fault(live, engine, &error, started, engine.limits().deadline))
    }

    /// Decides one request. Never fails: a failing policy yields the fail-closed decision with the
    /// fault attached. Asks the policy's scalar export (`decide-one`) when it has one, else `decide`.
    /// (Never inlined: `benches/profile.sh` counts from here.)
    #[inline(never)]
    pub fn decide(&mut self, facts: &FactSet, request: &Request) -> Decision {
        self.single(facts, request, true)
    }

    /// Decides one request through the policy's `decide` export itself (the request as a record), even
    /// when the policy has the scalar export: what the self-check compares `decide-one` and the packed
    /// batch against, and a way to check a policy's exports agree.
    pub fn decide_record(&mut self, facts: &FactSet, request: &Request) -> Decision {
        self.single(facts, request, false)
    }

    #[inline(always)]
    fn single(&mut self, facts: &FactSet, request: &Request, scalar: bool) -> Decision {
        let event = request.event.kind();
        let engine = self.policy.engine();
        let live = match ready(&self.policy, &mut self.live, self.load_ticks, facts) {
            Ok(live) => live,
            Err(fault) => return Decision::fail_closed(event, fault),
        };
        arm(&mut live.store, self.decide_ticks);
        let started = engine.ticks();
        let Live { store, exports, .. } = &mut *live;
        let one = if scalar { exports.decide.call_decide_one(store, packed::words(request)) } else { None };
        let answer = match one {
            Some(answer) => answer.map(|byte| unpacked(request.role, event, byte)),
            None => exports.decide.call_decide(store, request).map(|answer| fitting(request.role, event, answer)),
        };
        answer.unwrap_or_else(|error| {
            Decision::fail_closed(event, fault(live, engine, &error, started, engine.limits().deadline))
        })
    }

    /// Decides many requests in one call into the policy; one decision per request, in order.
    pub fn decide_batch(&mut self, facts: &FactSet, requests: &[Request]) -> Vec<Decision> {
        if self.policy.has_packed_batch() {
            let mut words = std::mem::take(&mut self.words);
            words.clear();
            requests.iter().for_each(|request| packed::push(&mut words, request));
            let decisions = self.decide_words(facts, &words);
            self.words = words;
            return decisions;
        }
        let asked = |i: usize| (requests[i].role, requests[i].event.kind());
        self.batch(facts, requests.len(), asked, |store, exports| {
            let answers = exports.decide.call_decide_batch(store, requests)?;
            let count = answers.len();
            let decisions = requests
                .iter()
                .zip(answers)
                .map(|(request, answer)| fitting(request.role, request.event.kind(), answer));
            Ok((count, decisions.collect()))
        })
    }

    /// Decides a packed batch — two words per request, as [`packed::push`] writes them — in one call
    /// into the policy's packed export. Only for a policy that has one ([`Policy::has_packed_batch`]).
    pub(crate) fn decide_words(&mut self, facts: &FactSet, words: &[u64]) -> Vec<Decision> {
        let asked = |i: usize| packed::asked(words[2 * i + 1]);
        self.batch(facts, words.len() / 2, asked, |store, exports| {
            let bytes = exports.decide.call_decide_packed(store, words)?;
            let table: &[[u8; 256]; 16] = &packed::ANSWERS;
            let decisions = bytes.iter().zip(words.chunks_exact(2)).map(|(&byte, pair)| {
                match packed::checked(table, pair[1], byte) {
                    Some((action, reason)) => Decision::new(action, reason),
                    None => {
                        let (role, event) = packed::asked(pair[1]);
                        unpacked(role, event, byte)
                    }
                }
            });
            Ok((bytes.len(), decisions.collect()))
        })
    }

    /// One batch call under the batch deadline. `call` answers with how many answers the policy gave and
    /// the checked decisions; a wrong count or a failed call fails every request of the batch closed.
    fn batch(
        &mut self,
        facts: &FactSet,
        count: usize,
        asked: impl Fn(usize) -> (Role, EventKind),
        call: impl FnOnce(&mut Store<StoreState>, &mut Exports) -> wasmtime::Result<(usize, Vec<Decision>)>,
    ) -> Vec<Decision> {
        let fail_all = |fault: Arc<PolicyFault>| -> Vec<Decision> {
            (0..count).map(|i| Decision::fail_closed(asked(i).1, Arc::clone(&fault))).collect()
        };
        if count == 0 {
            return Vec::new();
        }
        let engine = self.policy.engine();
        let limit = engine.limits().batch_deadline(count);
        let live = match ready(&self.policy, &mut self.live, self.load_ticks, facts) {
            Ok(live) => live,
            Err(fault) => return fail_all(fault),
        };
        arm(&mut live.store, limits::ticks(limit));
        let started = engine.ticks();
        // The count is kept apart from the decisions, so an answer too long is refused rather than cut
        // to size.
        match call(&mut live.store, &mut live.exports) {
            Ok((got, decisions)) if got == count => decisions,
            Ok((got, _)) => fail_all(Arc::new(PolicyFault::BatchLength { expected: count, got })),
            Err(error) => fail_all(fault(live, engine, &error, started, limit)),
        }
    }
}

/// The instance in `slot` — made if there is none, or if the last one was poisoned — with `facts`
/// loaded.
fn ready<'a>(
    policy: &Policy,
    slot: &'a mut Option<Live>,
    load_ticks: u64,
    facts: &FactSet,
) -> Result<&'a mut Live, Arc<PolicyFault>> {
    if slot.as_ref().is_some_and(|live| live.poisoned) {
        *slot = None;
    }
    let live = match slot {
        Some(live) => live,
        empty => empty.insert(instantiate(policy, load_ticks)?),
    };
    let generation = facts.generation();
    if live.loaded == Some(generation) {
        return Ok(live);
    }
    if let Some((rejected, fault)) = &live.rejected
        && *rejected == generation
    {
        return Err(Arc::clone(fault));
    }
    let engine = policy.engine();
    if let Some(fault) = too_long(engine, facts) {
        engine.limit_counters().record(&fault);
        let fault = Arc::new(fault);
        live.loaded = None;
        live.rejected = Some((generation, Arc::clone(&fault)));
        return Err(fault);
    }
    arm(&mut live.store, load_ticks);
    let started = engine.ticks();
    match live.exports.decide.call_load(&mut live.store, facts) {
        Ok(Ok(())) => {
            live.loaded = Some(generation);
            live.rejected = None;
            Ok(live)
        }
        Ok(Err(message)) => {
            let fault = Arc::new(PolicyFault::FactsRejected { generation, message });
            live.loaded = None;
            live.rejected = Some((generation, Arc::clone(&fault)));
            Err(fault)
        }
        Err(error) => Err(fault(live, engine, &error, started, engine.limits().load_deadline)),
    }
}

/// The first of `facts`' lists longer than the engine's [`Limits::list_entries`](crate::Limits).
fn too_long(engine: &Engine, facts: &FactSet) -> Option<PolicyFault> {
    let limit = engine.limits().list_entries;
    let lists = [
        ("List 1", facts.path_a().len()),
        ("List 2", facts.path_b().len()),
        ("List 3", facts.interconnect().len()),
        ("List 3 per home", facts.interconnect_per_home().len()),
    ];
    lists.into_iter().find(|&(_, entries)| entries > limit).map(|(list, entries)| PolicyFault::ListTooLong {
        generation: facts.generation(),
        list,
        entries,
        limit,
    })
}

/// A fresh instance of `policy`, made under the load deadline.
fn instantiate(policy: &Policy, load_ticks: u64) -> Result<Live, Arc<PolicyFault>> {
    let engine = policy.engine();
    let mut store = sandbox::store(engine);
    store.set_epoch_deadline(load_ticks);
    let started = engine.ticks();
    match policy.instantiate(&mut store) {
        Ok(exports) => Ok(Live { store, exports, loaded: None, rejected: None, poisoned: false }),
        Err(error) => {
            let elapsed = elapsed_since(engine, started);
            let limiter = &mut store.data_mut().limiter;
            let fault = match classify(&error, limiter, elapsed, engine.limits().load_deadline) {
                PolicyFault::Trap { message } => {
                    instance_limit(&message, limiter.instances_limit()).unwrap_or(PolicyFault::Instantiate { message })
                }
                fault => fault,
            };
            engine.limit_counters().record(&fault);
            Err(Arc::new(fault))
        }
    }
}

/// The fault behind a failed call. The instance is marked poisoned: a trap leaves its store unusable.
fn fault(live: &mut Live, engine: &Engine, error: &wasmtime::Error, started: u64, limit: Duration) -> Arc<PolicyFault> {
    live.poisoned = true;
    let elapsed = elapsed_since(engine, started);
    let fault = classify(error, &mut live.store.data_mut().limiter, elapsed, limit);
    engine.limit_counters().record(&fault);
    Arc::new(fault)
}

/// Time since `started` (a tick count), at the deadline clock's resolution.
fn elapsed_since(engine: &Engine, started: u64) -> Duration {
    let ticks = engine.ticks().saturating_sub(started);
    limits::TICK.saturating_mul(u32::try_from(ticks).unwrap_or(u32::MAX))
}

/// Sets the deadline for the next call and forgets earlier refusals, so a fault is blamed on the
/// call that caused it.
fn arm(store: &mut Store<StoreState>, ticks: u64) {
    store.set_epoch_deadline(ticks);
    store.data_mut().limiter.refused = None;
}

/// Names what went wrong from wasmtime's error and what the limiter refused (forgotten once blamed).
fn classify(error: &wasmtime::Error, limiter: &mut StoreLimiter, elapsed: Duration, limit: Duration) -> PolicyFault {
    if let Some(fault) = limiter.refused_fault() {
        limiter.refused = None;
        return fault;
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => PolicyFault::DeadlineExceeded { elapsed, limit },
        // The trap itself, without the multi-line wasm backtrace wasmtime wraps it in.
        Some(trap) => PolicyFault::Trap { message: trap.to_string() },
        None => PolicyFault::Trap { message: format!("{error:#}") },
    }
}

/// The fault of a related decision on a policy without its export.
#[cold]
fn not_provided<E: OptionalExport>() -> Arc<PolicyFault> {
    Arc::new(PolicyFault::NotProvided { interface: E::EXPORT, sdk_macro: E::SDK_MACRO })
}

/// The instance cap's fault, if wasmtime refused an instantiation with it: its message is
/// `resource limit exceeded: <resource> count too high at <count>`.
fn instance_limit(message: &str, limit: usize) -> Option<PolicyFault> {
    let (_, rest) = message.split_once("resource limit exceeded: ")?;
    let (resource, count) = rest.split_once(" count too high at ")?;
    let count = count.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()?;
    Some(PolicyFault::InstanceLimitExceeded { resource: resource.to_owned(), count, limit })
}

/// A packed batch's answer byte, unless it names nothing or its action does not fit the role and event.
#[inline]
fn unpacked(role: Role, event: EventKind, byte: u8) -> Decision {
    match packed::decision(byte) {
        Some(answer) => fitting(role, event, answer),
        None => refused(event, PolicyFault::PackedDecisionInvalid { byte }),
    }
}

/// The policy's answer, unless its action does not fit the role and event.
#[inline]
fn fitting(role: Role, event: EventKind, (action, reason): (Action, Reason)) -> Decision {
    if action.fits(role, event) {
        Decision::new(action, reason)
    } else {
        refused(event, PolicyFault::ActionNotAllowed { role, event, action })
    }
}

/// A policy's answer refused: fail closed with `fault`. Out of line: a working policy never gets here.
#[cold]
#[inline(never)]
fn refused(event: EventKind, fault: PolicyFault) -> Decision {
    Decision::fail_closed(event, Arc::new(fault))
}
