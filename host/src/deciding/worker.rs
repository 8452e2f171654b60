//! `Worker`: one thread's way to decide per packet — its own policy instance and its own flow cache, so
//! the hot path takes no lock.

use std::sync::Arc;

use crate::deciding::cache::{CacheStats, Entry, FlowCache};
use crate::deciding::instances::{Current, Mailbox, ShadowRun};
use crate::deciding::live::{Runtime, WeakRuntime};
use crate::deciding::session::{SessionError, SessionId};
use crate::facts::{FactSet, ListsDigest};
use crate::store::device::{DeviceId, DeviceSlot, DeviceView};
use crate::store::flow::{Flow, Stamp};
use crate::store::held::Lookup;
use crate::telemetry::log::{LogSender, LoggedRequest, Record};
use crate::telemetry::metrics::{self, Counters, SHADOW_AGREED, SHADOW_NONE, ShadowCode};
use crate::vocab::{Attach, Decision, Event, LinkState, MadeBy, Reason, Registration, Request, Role};
use crate::wasm::packed::{self, PackedRequest};
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

impl ShadowRun {
    /// Whether the shadow sees this miss.
    #[inline]
    fn sample(&mut self) -> bool {
        if self.every <= 1 {
            return true;
        }
        self.countdown = self.countdown.saturating_sub(1);
        if self.countdown == 0 {
            self.countdown = self.every;
            return true;
        }
        false
    }

    /// Compares the shadow's answer to `request` with `decision`: counts it, and gives the cache's code
    /// of it and what the log keeps (its answer when it differs or fails).
    fn compare(
        &mut self,
        counters: &Counters,
        lists: &FactSet,
        request: &Request,
        decision: &Decision,
    ) -> (ShadowCode, Option<Decision>) {
        if !self.sample() {
            counters.shadow_skipped(1);
            return (SHADOW_NONE, None);
        }
        let answer = self.decider.decide(lists, request);
        judge(counters, decision, answer)
    }
}

/// A flow of a batch asked of a policy: its index in the batch (a `u32`, so the entry stays as small as
/// a batch of one policy needs), what it was decided on, which policy decides it.
type AskedFlow = (u32, Made, MadeBy);

/// What a batch asked of its policies, and what they answered.
struct Asked<'a> {
    asked: &'a [AskedFlow],
    words: &'a [Vec<u64>; MadeBy::COUNT],
    requests: &'a [Vec<Request>; MadeBy::COUNT],
    answers: &'a [Vec<Decision>; MadeBy::COUNT],
    packed: bool,
}

/// The shadow's answers to a batch's asked flows, compared and counted: the cache's code and what the
/// log keeps, in `asked`'s order (`(SHADOW_NONE, None)` for a flow the shadow did not see). Asks the
/// shadow in one call, with the same requests (gathered into `gathered` when it does not see them all,
/// or they went to two policies).
#[cold]
#[inline(never)]
fn shadow_batch(
    run: &mut ShadowRun,
    counters: &Counters,
    lists: &FactSet,
    batch: &Asked<'_>,
    gathered: (&mut Vec<usize>, &mut Vec<u64>, &mut Vec<Request>),
) -> Vec<(ShadowCode, Option<Decision>)> {
    let (picked, words, requests) = gathered;
    picked.clear();
    // Each asked flow's place among its policy's requests, and whether the shadow sees it.
    let mut places = [0; MadeBy::COUNT];
    let place: Vec<usize> = batch
        .asked
        .iter()
        .map(|&(_, _, by)| {
            places[by.index()] += 1;
            places[by.index()] - 1
        })
        .collect();
    for position in 0..batch.asked.len() {
        if run.sample() {
            picked.push(position);
        }
    }
    counters.shadow_skipped((batch.asked.len() - picked.len()) as u64);
    let mut results = vec![(SHADOW_NONE, None); batch.asked.len()];
    if picked.is_empty() {
        return results;
    }
    // Every flow went to the active policy and the shadow sees them all: the same requests as they are.
    let whole = picked.len() == batch.asked.len() && batch.answers[MadeBy::Candidate.index()].is_empty();
    let answers = if whole && batch.packed {
        run.decider.decide_words(lists, &batch.words[0])
    } else if whole {
        run.decider.decide_batch(lists, &batch.requests[0])
    } else {
        words.clear();
        requests.clear();
        for &position in picked.iter() {
            let (by, place) = (batch.asked[position].2, place[position]);
            if batch.packed {
                words.extend_from_slice(&batch.words[by.index()][2 * place..2 * place + 2]);
            } else {
                requests.push(batch.requests[by.index()][place]);
            }
        }
        if batch.packed { run.decider.decide_words(lists, words) } else { run.decider.decide_batch(lists, requests) }
    };
    for (&position, answer) in picked.iter().zip(answers) {
        let (by, place) = (batch.asked[position].2, place[position]);
        results[position] = judge(counters, &batch.answers[by.index()][place], answer);
    }
    results
}

/// Counts the shadow's `answer` against `decision`; the cache's code of it and what the log keeps.
#[inline]
fn judge(counters: &Counters, decision: &Decision, answer: Decision) -> (ShadowCode, Option<Decision>) {
    if let Some(fault) = &answer.fault {
        // A fault is not cached: the next miss asks a fresh instance.
        counters.shadow_fault(fault);
        return (SHADOW_NONE, Some(answer));
    }
    let code = metrics::shadow_code(decision, &answer);
    counters.shadow(code);
    (code, (code != SHADOW_AGREED).then_some(answer))
}

/// Everything one miss decides on, read before the decision.
struct Snapshot {
    epoch: u64,
    device: DeviceView,
    /// The device's place among all devices (a canary's choice).
    place: u64,
    /// The stored registration outcome with the device and the flow's server, if any.
    registration: Lookup,
    /// What it is decided on (`stamp.device` is `device`'s generation).
    stamp: Stamp,
}

/// What a decision was made on, as the cache and the log keep it.
#[derive(Clone, Copy)]
struct Made {
    epoch: u64,
    stamp: Stamp,
    /// When the registration agreement it followed ends; `u64::MAX` when it followed none.
    expires: u64,
}

impl Snapshot {
    /// What a decision on it is made on.
    #[inline]
    fn made(&self) -> Made {
        Made { epoch: self.epoch, stamp: self.stamp, expires: self.expires() }
    }

    /// The facts a request carries: a standing registration's (equal to the live facts where those are
    /// known), else the device's live facts; `None` while they are unknown.
    #[inline]
    fn facts(&self) -> Option<(Attach, Option<LinkState>, Registration)> {
        match self.registration {
            Lookup::Standing { registration, attach, link, .. } => Some((attach, Some(link), registration)),
            Lookup::None => Some((self.device.attach()?, self.device.link(), Registration::None)),
            Lookup::Pending => None,
        }
    }

    /// When the agreement a decision on it follows ends; `u64::MAX` when it follows none.
    fn expires(&self) -> u64 {
        match self.registration {
            Lookup::Standing { expires, .. } => expires,
            _ => u64::MAX,
        }
    }

    /// The reason a decision fails closed before the policy: a re-registration is due, or the attach
    /// facts are unknown.
    fn unknown_reason(&self) -> Reason {
        match self.registration {
            _ if self.device.stale() => Reason::FactsStale,
            Lookup::Pending => Reason::RegistrationPending,
            _ => Reason::AttachUnknown,
        }
    }
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

/// The facts a miss decides on; `None` for a device handle this runtime did not issue.
fn snapshot(runtime: &Runtime, flow: &Flow, epoch: u64, lists: &FactSet, policy_generation: u64) -> Option<Snapshot> {
    let slot = runtime.slot(flow.device)?;
    let device = slot.view();
    let stamp = Stamp { lists: lists.generation(), device: device.generation, policy: policy_generation };
    let registration = if device.has_agreements() && !device.stale() {
        slot.lookup(flow.server, runtime.unix_now())
    } else {
        Lookup::None
    };
    Some(Snapshot { epoch, device, place: slot.place(), registration, stamp })
}

/// The packed request of `flow` for a device holding registration outcomes, with when the outcome it
/// follows ends; `Some(Err(reason))` when a re-registration is due, `None` when the facts are unknown.
#[cold]
#[inline(never)]
fn registered(runtime: &Runtime, slot: &DeviceSlot, flow: &Flow) -> Option<Result<(PackedRequest, u64), Reason>> {
    let Flow { server, role, event, .. } = *flow;
    if slot.view().stale() {
        return Some(Err(Reason::FactsStale));
    }
    let (attach, link, registration, expires) = match slot.lookup(server, runtime.unix_now()) {
        Lookup::Pending => return Some(Err(Reason::RegistrationPending)),
        Lookup::Standing { registration, attach, link, expires } => (attach, Some(link), registration, expires),
        Lookup::None => {
            let device = slot.view();
            (device.attach()?, device.link(), Registration::None, u64::MAX)
        }
    };
    let serving = attach.serving.map_or(0, |serving| serving.key());
    let registration = packed::registration_bits(registration);
    let packed = PackedRequest {
        serving,
        home: attach.home.key(),
        access: attach.access,
        link: packed::link_bits(link),
        server,
        role,
        event,
        registration,
    };
    Some(Ok((packed, expires)))
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

/// The request for `flow`; `None` while the device's attach facts are unknown or a re-registration is
/// due.
fn request(flow: &Flow, snapshot: &Snapshot) -> Option<Request> {
    let (attach, link, registration) = snapshot.facts()?;
    Some(Request { role: flow.role, event: flow.event, server: flow.server, attach, link, registration })
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

/// A log record of `decision` for `flow`, made on `stamp` (and on the feed revision its device's facts
/// are at now, if fed), without its request, lists digest or shadow answer.
fn record(runtime: &Runtime, flow: &Flow, stamp: Stamp, cached: bool, decision: &Decision) -> Record {
    let revision = runtime.slot(flow.device).map_or(0, DeviceSlot::revision);
    Record {
        flow: *flow,
        stamp,
        revision,
        cached,
        decision: decision.clone(),
        request: LoggedRequest::None,
        lists: None,
        shadow: None,
    }
}

/// A log record of a decision made on `stamp` whose request is read back from the live facts: they
/// are the ones it was made on while the device's and the lists' generations are still the stamp's
/// (a decision the cache answered, or a batch's flow the engine decided before any policy; the flows a
/// batch asked log the words they were asked instead). When they moved on in between, the record has
/// no request (replay counts it as not replayable) rather than a wrong one.
fn record_read_back(runtime: &Runtime, flow: &Flow, stamp: Stamp, cached: bool, decision: &Decision) -> Record {
    read_back(runtime, &runtime.lists(), flow, stamp, cached, decision)
}

/// [`record_read_back`] with the runtime's lists as they are now, `lists` (read once for a batch).
fn read_back(
    runtime: &Runtime,
    lists: &FactSet,
    flow: &Flow,
    stamp: Stamp,
    cached: bool,
    decision: &Decision,
) -> Record {
    let mut record = record(runtime, flow, stamp, cached, decision);
    if lists.generation() == stamp.lists {
        record.lists = Some(lists.lists_digest());
        let snapshot = snapshot(runtime, flow, runtime.epoch(), lists, stamp.policy);
        record.request = snapshot
            .filter(|snapshot| snapshot.stamp.device == stamp.device && !before_policy(decision.reason))
            .and_then(|snapshot| request(flow, &snapshot))
            .into();
    }
    record
}

/// The engine decided without asking a policy, on facts it lacked or no longer trusted.
fn before_policy(reason: Reason) -> bool {
    matches!(reason, Reason::AttachUnknown | Reason::FactsStale | Reason::RegistrationPending)
}

/// The shadow's answer a cache entry keeps, as the log writes it: a disagreement's action and reason.
fn shadow_of(code: ShadowCode) -> Option<Decision> {
    metrics::shadow_outcome(code).map(|(action, reason)| Decision::new(action, reason))
}

/// Logs a decision the cache answered, with what it was made on (a default stamp if the entry is gone:
/// it cannot be, nothing is cached in between) and the shadow's answer cached with it.
#[cold]
#[inline(never)]
fn log_hit(log: &LogSender, runtime: &Runtime, cache: &FlowCache, flow: &Flow, decision: &Decision) {
    let (stamp, shadow) = cache.made(flow).unwrap_or_default();
    log.one(Record { shadow: shadow_of(shadow), ..record_read_back(runtime, flow, stamp, true, decision) });
}

/// The hits of a batch, by index, with what each cached decision was made on and the shadow's answer
/// cached with it (only the hits: a batch the cache missed whole costs nothing here).
#[inline(never)]
fn hit_stamps(cache: &FlowCache, flows: &[Flow], missed: &[usize]) -> Vec<(u32, Stamp, ShadowCode)> {
    if missed.len() == flows.len() {
        return Vec::new();
    }
    // `missed` is in flow order: only the flows between its entries were hits.
    let mut missed = missed.iter().copied().peekable();
    let mut stamps = Vec::with_capacity(flows.len() - missed.len());
    for (index, flow) in flows.iter().enumerate() {
        if missed.next_if_eq(&index).is_none() {
            let (stamp, shadow) = cache.made(flow).unwrap_or_default();
            stamps.push((index as u32, stamp, shadow));
        }
    }
    stamps
}

/// What a batch's log records are made from, copied from the worker's scratch (the decision path only
/// copies): the log's thread makes the records ([`BatchLog::records`]).
struct BatchLog {
    runtime: WeakRuntime,
    flows: Vec<Flow>,
    decisions: Vec<Decision>,
    /// The hits, by index, with what each was made on and its shadow code.
    hits: Vec<(u32, Stamp, ShadowCode)>,
    /// The flows asked of a policy, and the requests put to each policy (in `asked`'s order within
    /// each): packed words, or records for a policy without the packed batch.
    asked: Vec<AskedFlow>,
    words: [Vec<u64>; MadeBy::COUNT],
    requests: [Vec<Request>; MadeBy::COUNT],
    /// The digest of the lists the asked flows were decided on.
    lists: Option<ListsDigest>,
    /// The lists and policy the flows with unknown facts were decided under.
    missed: Stamp,
    /// The shadow's answers, in `asked`'s order.
    shadows: Vec<(ShadowCode, Option<Decision>)>,
}

impl BatchLog {
    /// A batch the cache answered whole.
    fn hits(
        runtime: &Runtime,
        flows: &[Flow],
        decisions: &[Decision],
        hits: Vec<(u32, Stamp, ShadowCode)>,
    ) -> BatchLog {
        BatchLog {
            runtime: runtime.downgrade(),
            flows: flows.to_vec(),
            decisions: decisions.to_vec(),
            hits,
            asked: Vec::new(),
            words: Default::default(),
            requests: Default::default(),
            lists: None,
            missed: Stamp::default(),
            shadows: Vec::new(),
        }
    }

    /// The request put to policy `by` in its `place` (packed words are decoded when the line is
    /// written).
    fn request(&self, by: MadeBy, place: usize) -> LoggedRequest {
        match self.words[by.index()].get(2 * place..2 * place + 2) {
            Some(&[first, second]) => LoggedRequest::Packed([first, second]),
            _ => self.requests[by.index()].get(place).copied().into(),
        }
    }

    /// The records, on the log's thread: hits with what they were cached on (their requests read back
    /// from the live facts while these are still what they were made on), the policies' answers with
    /// the very requests they were asked and the lists' digest (and the shadow's answers), and flows
    /// with unknown facts with the batch's lists and policy. The fact-feed revision is read when the
    /// record is made. Once the runtime is gone, the records keep only what the batch copied.
    #[cold]
    #[inline(never)]
    fn records(mut self) -> Vec<Record> {
        let runtime = self.runtime.upgrade();
        let lists_now = runtime.as_ref().map(Runtime::lists);
        let made = |flow: &Flow, stamp: Stamp, cached: bool, decision: &Decision| match &runtime {
            Some(runtime) => record(runtime, flow, stamp, cached, decision),
            None => Record {
                flow: *flow,
                stamp,
                revision: 0,
                cached,
                decision: decision.clone(),
                request: LoggedRequest::None,
                lists: None,
                shadow: None,
            },
        };
        let read = |flow: &Flow, stamp: Stamp, cached: bool, decision: &Decision| match (&runtime, &lists_now) {
            (Some(runtime), Some(lists)) => read_back(runtime, lists, flow, stamp, cached, decision),
            _ => made(flow, stamp, cached, decision),
        };
        let mut places = [0; MadeBy::COUNT];
        let mut next = self.asked.iter().enumerate().peekable();
        let mut hits = self.hits.iter().peekable();
        let mut records = Vec::with_capacity(self.flows.len());
        for (index, (flow, decision)) in self.flows.iter().zip(&self.decisions).enumerate() {
            let hit = hits.next_if(|&&(hit, ..)| hit as usize == index);
            let record = match (hit, next.peek()) {
                (Some(&(_, stamp, shadow)), _) => {
                    Record { shadow: shadow_of(shadow), ..read(flow, stamp, true, decision) }
                }
                (None, Some(&(position, &(asked_index, ref made_on, by)))) if asked_index as usize == index => {
                    let shadow = self.shadows.get_mut(position).and_then(|(_, answer)| answer.take());
                    let place = places[by.index()];
                    places[by.index()] += 1;
                    next.next();
                    Record {
                        shadow,
                        request: self.request(by, place),
                        lists: self.lists,
                        ..made(flow, made_on.stamp, false, decision)
                    }
                }
                (None, _) => read(flow, self.missed, false, decision),
            };
            records.push(record);
        }
        records
    }
}

/// Caches `decision` for `flow`.
#[inline(never)]
fn store(cache: &mut FlowCache, flow: &Flow, made: &Made, decision: &Decision, shadow: ShadowCode) {
    let entry = Entry::new(decision.clone(), made.epoch, made.stamp, made.expires, shadow);
    cache.insert(flow, entry);
}
