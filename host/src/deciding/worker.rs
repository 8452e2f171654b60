//! `Worker`: one thread's way to decide per packet — its own policy instance and its own flow cache, so
//! the hot path takes no lock.

use std::sync::Arc;

use crate::deciding::cache::{CacheStats, Entry, FlowCache};
use crate::deciding::instances::{Current, Mailbox};
use crate::deciding::live::Runtime;
use crate::deciding::records::{BatchLog, hit_stamps, log_hit, record};
use crate::deciding::session::{SessionError, SessionId};
use crate::deciding::shadow::shadow_batch;
use crate::deciding::snapshot::{Asked, AskedFlow, Made, Snapshot, registered, request, snapshot};
use crate::facts::FactSet;
use crate::store::device::{DeviceId, DeviceSlot};
use crate::store::flow::{Flow, Stamp};
use crate::store::held::Lookup;
use crate::telemetry::log::{LogSender, Record};
use crate::telemetry::metrics::{SHADOW_NONE, ShadowCode};
use crate::vocab::{Decision, Event, MadeBy, Reason, Request, Role};
use crate::wasm::packed::PackedRequest;
use crate::wasm::plug::{RelatedDecision, Verdict};

/// Decides flows for one thread; get one from [`Runtime::worker`].
///
/// A flow's decision is cached and reused until a fact it used changes — the device's attach or link
/// facts or registration agreements, the lists, or the active policy. A cache hit does not enter
/// WebAssembly.
pub struct Worker {
    runtime: Runtime,
    current: Option<Current>,
    cache: FlowCache,
    scratch: Scratch,
    /// The runtime's decision log, when it has one.
    log: Option<LogSender>,
    /// Where this worker finds instances made for a change before it is published.
    mailbox: Arc<Mailbox>,
}

/// What a batch builds, kept between batches so a batch allocates only the decisions it returns.
#[derive(Default)]
struct Scratch {
    /// The flows the cache did not answer, by index.
    missed: Vec<usize>,
    /// The flows asked of a policy, by index, with what each was decided on and which policy decides
    /// it (each policy's requests in this order).
    asked: Vec<AskedFlow>,
    /// The requests of each policy ([`MadeBy`]'s order), packed for a policy with the packed batch
    /// export…
    words: [Vec<u64>; MadeBy::COUNT],
    /// …or as records for one without.
    requests: [Vec<Request>; MadeBy::COUNT],
    /// The requests shown to the shadow (when it does not see them all), and which asked flows they are.
    shadow_words: Vec<u64>,
    shadow_requests: Vec<Request>,
    shadow_picked: Vec<usize>,
}

impl Worker {
    pub(crate) fn new(runtime: Runtime) -> Worker {
        let cache = FlowCache::new(runtime.flow_cache_capacity(), runtime.register_counters());
        let log = runtime.log_sender();
        let mailbox = runtime.mailbox();
        Worker { runtime, current: None, cache, scratch: Scratch::default(), log, mailbox }
    }

    /// Decides one flow. Never fails: unknown facts and policy faults give the fail-closed decision.
    pub fn decide(&mut self, flow: &Flow) -> Decision {
        let epoch = self.runtime.epoch();
        let Worker { runtime, current, cache, log, mailbox, .. } = self;
        if let Some(decision) = hit(cache, runtime, flow, epoch) {
            cache.counters.outcome(&decision);
            if let Some(log) = log {
                log_hit(log, runtime, cache, flow, &decision);
            }
            return decision;
        }
        cache.counters.missed(1);
        let current = refresh(current, runtime, cache, mailbox);
        let policy_generation = current.active.generation;
        let snapshot = snapshot(runtime, flow, epoch, &current.lists, policy_generation);
        let request = snapshot.as_ref().and_then(|snapshot| request(flow, snapshot));
        let (mut shadow, mut shadow_answer) = (SHADOW_NONE, None);
        let decision = match (&request, &snapshot) {
            (Some(request), Some(snapshot)) => {
                let decision = current.decide(current.by(snapshot.place), request);
                if let Some(run) = &mut current.shadow {
                    (shadow, shadow_answer) = run.compare(&cache.counters, &current.lists, request, &decision);
                }
                decision
            }
            _ => unknown(cache, flow, snapshot.as_ref().map_or(Reason::AttachUnknown, Snapshot::unknown_reason), 1),
        };
        if let Some(log) = log {
            let device = snapshot.as_ref().map_or(0, |snapshot| snapshot.stamp.device);
            let stamp = Stamp { lists: current.lists.generation(), device, policy: policy_generation };
            let lists = Some(current.lists.lists_digest());
            let request = request.into();
            log.one(Record { request, lists, shadow: shadow_answer, ..record(runtime, flow, stamp, false, &decision) });
        }
        cache.counters.outcome(&decision);
        if let Some(snapshot) = snapshot {
            remember(cache, flow, &snapshot.made(), &decision, shadow);
        }
        decision
    }

    /// Decides `event` in a data session (see [`Runtime::open_session`]): as [`Worker::decide`] for the
    /// session's device and server, except that once the session has set up application-layer security
    /// a plain answer is kept secure (reason `session-secured`) until the session ends. An ended
    /// session (closed, or idle past its timeout) is an error: open a new one.
    pub fn decide_in(&mut self, session: SessionId, role: Role, event: Event) -> Result<Decision, SessionError> {
        let (device, server) = self.runtime.sessions().enter(session, self.runtime.unix_now())?;
        let decision = self.decide(&Flow { device, server, role, event });
        Ok(self.runtime.sessions().apply(session, event.kind(), decision))
    }

    /// Decides many flows: cached ones from the cache, the rest in one call into the policy, against one
    /// list generation.
    pub fn decide_batch(&mut self, flows: &[Flow]) -> Vec<Decision> {
        let mut decisions = Vec::with_capacity(flows.len());
        self.decide_batch_into(flows, &mut decisions);
        decisions
    }

    /// As [`Worker::decide_batch`], into `decisions` (cleared first): a caller that keeps the vector
    /// between batches allocates none for the answers (the C ABI does).
    pub fn decide_batch_into(&mut self, flows: &[Flow], decisions: &mut Vec<Decision>) {
        if flows.len() > u32::MAX as usize {
            // Flows are numbered in 32 bits within a batch: a larger one goes in parts.
            decisions.clear();
            let mut part = Vec::new();
            for chunk in flows.chunks(u32::MAX as usize) {
                self.decide_batch_into(chunk, &mut part);
                decisions.append(&mut part);
            }
            return;
        }
        let epoch = self.runtime.epoch();
        let Worker { runtime, current, cache, scratch, log, mailbox } = self;
        // Every flow starts as the cache's answer or as unknown, the answer while its facts are.
        decisions.clear();
        decisions.reserve(flows.len());
        scratch.missed.clear();
        for (index, flow) in flows.iter().enumerate() {
            decisions.push(hit(cache, runtime, flow, epoch).unwrap_or_else(|| {
                scratch.missed.push(index);
                Decision::unknown(flow.event.kind(), Reason::AttachUnknown)
            }));
        }
        // What the cache's answers were made on, read before this batch's decisions are cached.
        let hit_stamps = log.as_ref().map(|_| hit_stamps(cache, flows, &scratch.missed));
        if scratch.missed.is_empty() {
            // Hits only: made under this worker's policies (a rollout since would have voided them).
            let canary = current.as_ref().is_some_and(|current| current.candidate.is_some());
            count_outcomes(cache, decisions, canary);
            if let (Some(log), Some(hits)) = (log, hit_stamps) {
                let batch = BatchLog::hits(runtime, flows, decisions, hits);
                log.later(flows.len(), move || batch.records());
            }
            return;
        }
        cache.counters.missed(scratch.missed.len() as u64);
        let current = refresh(current, runtime, cache, mailbox);
        // A rollout (a canary or a shadow) takes the general way; one policy alone the plain one.
        let shadows = if current.candidate.is_some() || current.shadow.is_some() {
            ask::<true>(runtime, current, cache, scratch, flows, decisions, epoch)
        } else {
            ask::<false>(runtime, current, cache, scratch, flows, decisions, epoch)
        };
        let asked = &scratch.asked;
        count_outcomes(cache, decisions, current.candidate.is_some());
        if let (Some(log), Some(hits)) = (log, hit_stamps) {
            let missed = Stamp { lists: current.lists.generation(), device: 0, policy: current.active.generation };
            let batch = BatchLog {
                asked: asked.clone(),
                words: scratch.words.clone(),
                requests: scratch.requests.clone(),
                lists: Some(current.lists.lists_digest()),
                missed,
                shadows,
                ..BatchLog::hits(runtime, flows, decisions, hits)
            };
            log.later(flows.len(), move || batch.records());
        }
    }

    /// Makes a related decision `D` with the active policy's instance, the current lists and the
    /// runtime's host-held state of such decisions (not cached: they are rare), and counts its fault in
    /// the runtime's metrics. The named methods (`decide_trigger`, `admit`, …) come from the related
    /// decisions' own modules.
    pub(crate) fn related<D: RelatedDecision>(&mut self, request: &D::Request) -> D::Verdict {
        let state = self.runtime.related_state::<D>();
        let current = refresh(&mut self.current, &self.runtime, &self.cache, &self.mailbox);
        let verdict = current.decider.related::<D>(&current.lists, &state, request);
        if let Some(fault) = verdict.fault() {
            self.cache.counters.fault(fault);
        }
        verdict
    }

    /// Decides one request about `device` with `lists` (not cached, not logged): the server's decision
    /// at registration, by the policy that decides for the device (a canary's candidate when it selects
    /// it). A fault is counted.
    pub(crate) fn decide_request(&mut self, request: &Request, lists: &FactSet, device: DeviceId) -> Decision {
        let current = refresh(&mut self.current, &self.runtime, &self.cache, &self.mailbox);
        let by = self.runtime.slot(device).map_or(MadeBy::Active, |slot| current.by(slot.place()));
        let mut decision = current.decider(by).decide(lists, request);
        decision.made_by = by;
        if let Some(fault) = &decision.fault {
            self.cache.counters.fault(fault);
        }
        decision
    }

    /// Decides a request whose facts are written out rather than held by the runtime (a service's
    /// caller that keeps devices itself), with the active policy and the current lists. Not cached and
    /// not logged (it names no device); counted in the metrics as a policy call.
    pub fn decide_written(&mut self, request: &Request) -> Decision {
        self.cache.counters.missed(1);
        let current = refresh(&mut self.current, &self.runtime, &self.cache, &self.mailbox);
        let decision = current.decider.decide(&current.lists, request);
        if let Some(fault) = &decision.fault {
            self.cache.counters.fault(fault);
        }
        self.cache.counters.outcome(&decision);
        decision
    }

    /// How the cache has done (this worker's share of [`Runtime::metrics`]).
    pub fn stats(&self) -> CacheStats {
        self.cache.stats()
    }

    /// The runtime this worker decides for.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }
}

impl Drop for Worker {
    /// The runtime keeps this worker's counts.
    fn drop(&mut self) {
        self.runtime.retire_counters(&self.cache.counters);
    }
}

/// Asks the policies about a batch's flows the cache did not answer (`scratch.missed`), against one
/// list generation, and puts their answers in `decisions`; the shadow's answers, in `scratch.asked`'s
/// order. `ROLLOUT` is whether a canary or a shadow runs: without, the plain way, as fast as one policy
/// alone allows.
#[inline(always)]
fn ask<const ROLLOUT: bool>(
    runtime: &Runtime,
    current: &mut Current,
    cache: &mut FlowCache,
    scratch: &mut Scratch,
    flows: &[Flow],
    decisions: &mut [Decision],
    epoch: u64,
) -> Vec<(ShadowCode, Option<Decision>)> {
    // Packed only when every policy asked (a candidate's and a shadow's too) takes packed batches.
    let packed_batch = current.decider.policy().has_packed_batch()
        && current.candidate.as_ref().is_none_or(|candidate| candidate.policy().has_packed_batch())
        && current.shadow.as_ref().is_none_or(|shadow| shadow.decider.policy().has_packed_batch());
    let Scratch { missed, asked, words, requests, shadow_words, shadow_requests, shadow_picked } = scratch;
    asked.clear();
    words.iter_mut().for_each(Vec::clear);
    requests.iter_mut().for_each(Vec::clear);
    if packed_batch {
        words[0].reserve(2 * missed.len());
    }
    let (lists_generation, policy) = (current.lists.generation(), current.active.generation);
    let canary = ROLLOUT && current.active.canary.is_some();
    for &index in missed.iter() {
        let flow = &flows[index];
        if !packed_batch {
            let Some(snapshot) = snapshot(runtime, flow, epoch, &current.lists, policy) else { continue };
            let by = if canary { current.by(snapshot.place) } else { MadeBy::Active };
            match request(flow, &snapshot) {
                Some(request) => requests[by.index()].push(request),
                None if snapshot.device.stale() || matches!(snapshot.registration, Lookup::Pending) => {
                    decisions[index] = Decision::unknown(flow.event.kind(), snapshot.unknown_reason());
                    continue;
                }
                None => continue,
            }
            asked.push((index as u32, snapshot.made(), by));
            continue;
        }
        // The packed words straight from the device's live word; a device holding registration
        // outcomes takes the slower way (`registered`).
        let Some(slot) = runtime.slot(flow.device) else { continue };
        let device = slot.view();
        let stamp = Stamp { lists: lists_generation, device: device.generation, policy };
        let Flow { server, role, event, .. } = *flow;
        let (packed, expires) = if device.has_agreements() {
            match registered(runtime, slot, flow) {
                Some(Ok(registered)) => registered,
                // A re-registration is due: fail closed.
                Some(Err(reason)) => {
                    decisions[index] = Decision::unknown(event.kind(), reason);
                    continue;
                }
                None => continue,
            }
        } else {
            // A flow whose device's attach facts are unknown stays unknown; stale ones say so.
            let Some((serving, home, access)) = device.attach_keys() else {
                if device.stale() {
                    decisions[index] = Decision::unknown(event.kind(), Reason::FactsStale);
                }
                continue;
            };
            let link = device.link_bits();
            (PackedRequest { serving, home, access, link, server, role, event, registration: 0 }, u64::MAX)
        };
        let by = if canary { current.by(slot.place()) } else { MadeBy::Active };
        let [active_words, candidate_words] = &mut *words;
        packed.push(if by == MadeBy::Active { active_words } else { candidate_words });
        asked.push((index as u32, Made { epoch, stamp, expires }, by));
    }
    let mut answers: [Vec<Decision>; MadeBy::COUNT] = Default::default();
    for by in MadeBy::ALL.iter().copied() {
        let (group_words, group_requests) = (&words[by.index()], &requests[by.index()]);
        if group_words.is_empty() && group_requests.is_empty() {
            continue;
        }
        let lists = Arc::clone(&current.lists);
        let decider = current.decider(by);
        let mut decided = if packed_batch {
            decider.decide_words(&lists, group_words)
        } else {
            decider.decide_batch(&lists, group_requests)
        };
        if by != MadeBy::Active {
            decided.iter_mut().for_each(|decision| decision.made_by = by);
        }
        answers[by.index()] = decided;
    }
    let shadows = match &mut current.shadow {
        Some(run) if ROLLOUT => {
            let asked_for = Asked { asked, words, requests, answers: &answers, packed: packed_batch };
            let gathered = (shadow_picked, shadow_words, shadow_requests);
            shadow_batch(run, &cache.counters, &current.lists, &asked_for, gathered)
        }
        _ => Vec::new(),
    };
    if asked.len() < missed.len() {
        cache.counters.unknown((missed.len() - asked.len()) as u64);
    }
    if !ROLLOUT || (!canary && shadows.is_empty()) {
        // One policy, no shadow: its answers in the order asked.
        let [answers, _] = answers;
        for (&(index, ref made, _), decision) in asked.iter().zip(answers) {
            let index = index as usize;
            remember(cache, &flows[index], made, &decision, SHADOW_NONE);
            decisions[index] = decision;
        }
    } else {
        // Each policy's answers come in the order its flows were asked: taken in turn, not copied.
        let mut answers = answers.map(Vec::into_iter);
        for (position, &(index, ref made, by)) in asked.iter().enumerate() {
            let index = index as usize;
            let Some(decision) = answers[by.index()].next() else { break };
            let shadow = shadows.get(position).map_or(SHADOW_NONE, |(code, _)| *code);
            remember(cache, &flows[index], made, &decision, shadow);
            decisions[index] = decision;
        }
    }
    shadows
}

/// The instances of the policies that run and the current lists: as they were, or, after a change,
/// those made for it (see [`Mailbox`]), or else made here.
#[inline]
fn refresh<'a>(
    current: &'a mut Option<Current>,
    runtime: &Runtime,
    cache: &FlowCache,
    mailbox: &Mailbox,
) -> &'a mut Current {
    let (policy, lists) = (runtime.policy_generation(), runtime.lists_generation());
    if !current.as_ref().is_some_and(|current| current.is_for(policy, lists)) {
        change(current, runtime, cache, mailbox, policy, lists);
    }
    current.as_mut().expect("set above")
}

/// [`refresh`] after a change to the lists (generation `lists`) or the policies (`policy`).
#[cold]
#[inline(never)]
fn change(
    current: &mut Option<Current>,
    runtime: &Runtime,
    cache: &FlowCache,
    mailbox: &Mailbox,
    policy: u64,
    lists: u64,
) {
    let served = current.as_ref().map(|current| current.active.generation);
    let prepared = mailbox.take(policy, lists);
    if prepared.is_none() {
        runtime.loaded_while_deciding();
    }
    let next = match prepared {
        Some(ready) => ready,
        // Nothing prepared (the worker's first decision, or it was made during the change): made or
        // loaded here, on the decision path.
        None => match current.take() {
            Some(mut same) if same.active.generation == policy => {
                same.lists = runtime.lists();
                same
            }
            old => {
                if let Some(old) = old {
                    mailbox.give_back(old);
                }
                Current::new(runtime.active(), runtime.lists())
            }
        },
    };
    if served != Some(next.active.generation) {
        // What this worker counts from now on is these policies'.
        runtime.serve_policies(&cache.counters, &next.active);
    }
    if let Some(old) = current.replace(next) {
        mailbox.give_back(old);
    }
}

/// The runtime's workers, and what a worker would ask its policy: here, so the runtime (`live`) does
/// not import its workers back.
impl Runtime {
    /// A worker: one per thread that decides.
    pub fn worker(&self) -> Worker {
        Worker::new(self.clone())
    }

    /// The request a decision on `flow` would put to the policy now: the device's facts, or those of
    /// the registration outcome that stands. `None` when the decision would fail closed before asking
    /// (a device handle not this runtime's, unknown attach facts, a re-registration due).
    pub fn request(&self, flow: &Flow) -> Option<Request> {
        let lists = self.lists();
        request(flow, &snapshot(self, flow, self.epoch(), &lists, self.policy_generation())?)
    }
}

/// The cached decision of `flow`, if the cache is on and the decision still stands.
#[inline(always)]
fn hit(cache: &mut FlowCache, runtime: &Runtime, flow: &Flow, epoch: u64) -> Option<Decision> {
    if cache.enabled() { cached(cache, runtime, flow, epoch) } else { None }
}

/// The cached decision of `flow`, if it still stands (the cache's rule, with the runtime's generations
/// now).
#[inline(never)]
fn cached(cache: &mut FlowCache, runtime: &Runtime, flow: &Flow, epoch: u64) -> Option<Decision> {
    let entry = cache.get(
        flow,
        epoch,
        |device| runtime.slot(device).map(DeviceSlot::generation),
        |device| runtime.stamp_now(device),
        || runtime.unix_now(),
    )?;
    let (decision, shadow) = (entry.decision.clone(), entry.shadow);
    cache.counters.hit();
    // The shadow's answer cached with the decision (an entry holds one only while that shadow runs).
    if shadow != SHADOW_NONE {
        cache.counters.shadow(shadow);
    }
    Some(decision)
}

/// Caches a decision with the generations it was made on. A decision with a fault is not cached, so the
/// next packet asks a fresh instance (the fault is counted).
#[inline(always)]
fn remember(cache: &mut FlowCache, flow: &Flow, made: &Made, decision: &Decision, shadow: ShadowCode) {
    match &decision.fault {
        None if cache.enabled() => store(cache, flow, made, decision, shadow),
        None => {}
        Some(fault) => cache.counters.fault(fault),
    }
}

/// A decision that fails closed before the policy: the device's attach facts are unknown, or a
/// re-registration is due.
#[cold]
fn unknown(cache: &FlowCache, flow: &Flow, reason: Reason, n: u64) -> Decision {
    cache.counters.unknown(n);
    Decision::unknown(flow.event.kind(), reason)
}

/// Counts a batch's decisions by policy, action and reason; `canary` says whether a candidate may have
/// made some.
#[inline]
fn count_outcomes(cache: &FlowCache, decisions: &[Decision], canary: bool) {
    if canary {
        decisions.iter().for_each(|decision| cache.counters.outcome(decision));
    } else {
        // Without a canary every decision is the active policy's.
        decisions.iter().for_each(|decision| cache.counters.active_outcome(decision));
    }
}

/// Caches `decision` for `flow`.
#[inline(never)]
fn store(cache: &mut FlowCache, flow: &Flow, made: &Made, decision: &Decision, shadow: ShadowCode) {
    let entry = Entry::new(decision.clone(), made.epoch, made.stamp, made.expires, shadow);
    cache.insert(flow, entry);
}
