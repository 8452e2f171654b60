//! `Worker`: one thread's way to decide per packet — its own policy instance and its own flow cache, so
//! the hot path takes no lock.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::access::{AccessRequest, AccessVerdict};
use crate::admission::{AdmissionRequest, AdmissionVerdict};
use crate::binding::{LocationUpdate, LocationVerdict, NameRequest, NameVerdict};
use crate::cache::{CacheStats, Entry, Flow, FlowCache, FlowKey};
use crate::decider::Decider;
use crate::decision::{Decision, PolicyFault, Reason};
use crate::device::DeviceView;
use crate::facts::FactSet;
use crate::log::{LogSender, Record};
use crate::media::{MediaRequest, MediaVerdict};
use crate::packed::PackedRequest;
use crate::request::{Registration, Request};
use crate::runtime::{Active, Runtime};
use crate::trigger::{Trigger, TriggerVerdict};

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
}

/// What a batch builds, kept between batches so a batch allocates only the decisions it returns.
#[derive(Default)]
struct Scratch {
    /// The flows the cache did not answer, by index.
    missed: Vec<usize>,
    /// The flows asked of the policy, by index, with what each was decided on.
    asked: Vec<(usize, Snapshot)>,
    /// Their requests, packed for a policy with the packed batch export…
    words: Vec<u64>,
    /// …or as records for one without.
    requests: Vec<Request>,
}

/// The policy this worker runs, with its instance, and the lists it last decided on.
struct Current {
    active: Arc<Active>,
    decider: Decider,
    lists: Arc<FactSet>,
}

/// Everything one miss decides on, read before the decision.
struct Snapshot {
    epoch: u64,
    device: DeviceView,
    registration: Registration,
    lists_generation: u64,
    policy_generation: u64,
}

impl Worker {
    pub(crate) fn new(runtime: Runtime) -> Worker {
        let capacity = runtime.inner.flow_cache_capacity;
        let cache = FlowCache::new(capacity, runtime.inner.metrics.register());
        let log = runtime.inner.log.clone();
        Worker { runtime, current: None, cache, scratch: Scratch::default(), log }
    }

    /// Decides one flow. Never fails: unknown facts and policy faults give the fail-closed decision.
    pub fn decide(&mut self, flow: &Flow) -> Decision {
        let epoch = self.runtime.inner.store.epoch();
        let Worker { runtime, current, cache, log, .. } = self;
        if let Some(decision) = hit(cache, runtime, flow, epoch) {
            if let Some(log) = log {
                log_hit(log, cache, flow, &decision);
            }
            return decision;
        }
        cache.counters.missed(1);
        let current = refresh(current, runtime);
        let lists = &current.lists;
        let policy_generation = current.active.generation;
        let snapshot = snapshot(runtime, flow, epoch, lists, policy_generation);
        let decision = match snapshot.as_ref().and_then(|snapshot| request(flow, snapshot)) {
            Some(request) => current.decider.decide(lists, &request),
            None => unknown(cache, flow, 1),
        };
        if let Some(log) = log {
            let device = snapshot.as_ref().map_or(0, |snapshot| snapshot.device.generation);
            let generations = Generations { lists: lists.generation(), device, policy: policy_generation };
            log.one(generations.record(flow, false, &decision));
        }
        match snapshot {
            Some(snapshot) => remember(cache, flow, &snapshot, decision),
            None => decision,
        }
    }

    /// Decides many flows: cached ones from the cache, the rest in one call into the policy, against one
    /// list generation.
    pub fn decide_batch(&mut self, flows: &[Flow]) -> Vec<Decision> {
        let epoch = self.runtime.inner.store.epoch();
        let Worker { runtime, current, cache, scratch, log } = self;
        // Every flow starts as the cache's answer or as unknown, the answer while its facts are.
        let mut decisions = Vec::with_capacity(flows.len());
        scratch.missed.clear();
        for (index, flow) in flows.iter().enumerate() {
            decisions.push(hit(cache, runtime, flow, epoch).unwrap_or_else(|| {
                scratch.missed.push(index);
                Decision::unknown(flow.event.kind(), Reason::AttachUnknown)
            }));
        }
        // What the cache's answers were made on, read before this batch's decisions are cached.
        let hit_generations = log.as_ref().map(|_| hit_generations(cache, flows, &scratch.missed));
        if scratch.missed.is_empty() {
            if let (Some(log), Some(hits)) = (log, hit_generations) {
                log.many(batch_records(flows, &decisions, hits, &[], Generations::default()));
            }
            return decisions;
        }
        cache.counters.missed(scratch.missed.len() as u64);
        let current = refresh(current, runtime);
        let lists = &current.lists;
        let packed_batch = current.decider.policy().has_packed_batch();
        let Scratch { missed, asked, words, requests } = scratch;
        asked.clear();
        words.clear();
        requests.clear();
        if packed_batch {
            words.reserve(2 * missed.len());
        }
        for &index in missed.iter() {
            let flow = &flows[index];
            let Some(snapshot) = snapshot(runtime, flow, epoch, lists, current.active.generation) else {
                continue;
            };
            // A flow whose device's attach facts are unknown stays unknown.
            if packed_batch {
                let Some((serving, home, access)) = snapshot.device.attach_keys() else { continue };
                let link = snapshot.device.link_or_off();
                let Flow { server, role, event, .. } = *flow;
                let registration = snapshot.registration;
                PackedRequest { serving, home, access, link, server, role, event, registration }.push(words);
            } else {
                let Some(request) = request(flow, &snapshot) else { continue };
                requests.push(request);
            }
            asked.push((index, snapshot));
        }
        let answers = if packed_batch {
            current.decider.decide_words(lists, words)
        } else {
            current.decider.decide_batch(lists, requests)
        };
        if asked.len() < missed.len() {
            cache.counters.unknown((missed.len() - asked.len()) as u64);
        }
        for (&(index, ref snapshot), decision) in asked.iter().zip(answers) {
            decisions[index] = remember(cache, &flows[index], snapshot, decision);
        }
        if let (Some(log), Some(hits)) = (log, hit_generations) {
            let missed = Generations { lists: lists.generation(), device: 0, policy: current.active.generation };
            log.many(batch_records(flows, &decisions, hits, asked, missed));
        }
        decisions
    }

    /// The trigger guard's verdict on `trigger`, from the active policy on the current lists (not
    /// cached: triggers are rare). See [`Decider::decide_trigger`].
    pub fn decide_trigger(&mut self, trigger: &Trigger) -> TriggerVerdict {
        let verdict = self.related(|decider, facts| decider.decide_trigger(facts, trigger));
        self.count_fault(verdict.fault.as_deref());
        verdict
    }

    /// Attach admission's answer to `request`; see [`Decider::admit`].
    pub fn admit(&mut self, request: &AdmissionRequest) -> AdmissionVerdict {
        let verdict = self.related(|decider, facts| decider.admit(facts, request));
        self.count_fault(verdict.fault.as_deref());
        verdict
    }

    /// Access trust's verdict on `request`, with the current lists' trusted access networks; see
    /// [`Decider::decide_access`].
    pub fn decide_access(&mut self, request: &AccessRequest) -> AccessVerdict {
        let verdict = self.related(|decider, facts| decider.decide_access(facts, request));
        self.count_fault(verdict.fault.as_deref());
        verdict
    }

    /// Media security's verdict on a call, with the voucher released only to its own call; see
    /// [`Decider::decide_media`].
    pub fn decide_media(&mut self, request: &MediaRequest) -> MediaVerdict {
        let verdict = self.related(|decider, facts| decider.decide_media(facts, request));
        self.count_fault(verdict.fault.as_deref());
        verdict
    }

    /// What the anchor does with a location update; see [`Decider::decide_location`].
    pub fn decide_location(&mut self, update: &LocationUpdate) -> LocationVerdict {
        let verdict = self.related(|decider, facts| decider.decide_location(facts, update));
        self.count_fault(verdict.fault.as_deref());
        verdict
    }

    /// Whether a requested name is granted; see [`Decider::decide_name`].
    pub fn decide_name(&mut self, request: &NameRequest) -> NameVerdict {
        let verdict = self.related(|decider, facts| decider.decide_name(facts, request));
        self.count_fault(verdict.fault.as_deref());
        verdict
    }

    /// Runs a related decision on the active policy's instance and the current lists.
    fn related<R>(&mut self, decide: impl FnOnce(&mut Decider, &FactSet) -> R) -> R {
        let current = refresh(&mut self.current, &self.runtime);
        decide(&mut current.decider, &current.lists)
    }

    /// Counts a related decision's fault in the runtime's metrics.
    fn count_fault(&self, fault: Option<&PolicyFault>) {
        if let Some(fault) = fault {
            self.cache.counters.fault(fault);
        }
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
        self.runtime.inner.metrics.retire(&self.cache.counters);
    }
}

/// The instance of the active policy (made anew after a swap) and the current lists (reloaded when their
/// generation moved).
fn refresh<'a>(current: &'a mut Option<Current>, runtime: &Runtime) -> &'a mut Current {
    let inner = &runtime.inner;
    let generation = inner.policy_generation.load(Ordering::Acquire);
    if current.as_ref().is_some_and(|current| current.active.generation != generation) {
        *current = None;
    }
    let current = current.get_or_insert_with(|| {
        let active = inner.active.load_full();
        Current { decider: active.policy.decider(), active, lists: inner.store.lists() }
    });
    if current.lists.generation() != inner.store.lists_generation() {
        current.lists = inner.store.lists();
    }
    current
}

/// The facts a miss decides on; `None` for a device handle this runtime did not issue.
fn snapshot(runtime: &Runtime, flow: &Flow, epoch: u64, lists: &FactSet, policy_generation: u64) -> Option<Snapshot> {
    let slot = runtime.inner.store.slot(flow.device)?;
    let device = slot.view();
    let lists_generation = lists.generation();
    let registration = slot.registration(device, flow.server, lists_generation, policy_generation);
    Some(Snapshot { epoch, device, registration, lists_generation, policy_generation })
}

/// The request for `flow`; `None` while the device's attach facts are unknown.
fn request(flow: &Flow, snapshot: &Snapshot) -> Option<Request> {
    Some(Request {
        role: flow.role,
        event: flow.event,
        server: flow.server,
        attach: snapshot.device.attach()?,
        link: snapshot.device.link_or_off(),
        registration: snapshot.registration,
    })
}

/// The cached decision of `flow`, if the cache is on and the decision still stands.
#[inline(always)]
fn hit(cache: &mut FlowCache, runtime: &Runtime, flow: &Flow, epoch: u64) -> Option<Decision> {
    if cache.enabled() { cached(cache, runtime, flow, epoch) } else { None }
}

/// The cached decision of `flow`, if it still stands.
#[inline(never)]
fn cached(cache: &mut FlowCache, runtime: &Runtime, flow: &Flow, epoch: u64) -> Option<Decision> {
    let entry = cache.entries.get_mut(&FlowKey::new(flow))?;
    if entry.epoch != epoch {
        // Something changed somewhere; this flow's decision stands if none of its facts did.
        let inner = &runtime.inner;
        let unchanged = inner.store.slot(entry.device).map(|slot| slot.generation()) == Some(entry.device_generation)
            && inner.store.lists_generation() == entry.lists_generation
            && inner.policy_generation.load(Ordering::Acquire) == entry.policy_generation;
        if !unchanged {
            return None;
        }
        entry.epoch = epoch;
    }
    cache.counters.hit();
    Some(entry.decision.clone())
}

/// Caches a decision with the generations it was made on. A decision with a fault is not cached, so the
/// next packet asks a fresh instance.
#[inline(always)]
fn remember(cache: &mut FlowCache, flow: &Flow, snapshot: &Snapshot, decision: Decision) -> Decision {
    match &decision.fault {
        None if cache.enabled() => store(cache, flow, snapshot, &decision),
        None => {}
        Some(fault) => cache.counters.fault(fault),
    }
    decision
}

/// A decision that fails closed before the policy: the device's attach facts are unknown.
#[cold]
fn unknown(cache: &FlowCache, flow: &Flow, n: u64) -> Decision {
    cache.counters.unknown(n);
    Decision::unknown(flow.event.kind(), Reason::AttachUnknown)
}

/// The generations a logged decision was made on.
#[derive(Clone, Copy, Default)]
struct Generations {
    lists: u64,
    device: u64,
    policy: u64,
}

impl Generations {
    fn record(self, flow: &Flow, cached: bool, decision: &Decision) -> Record {
        Record {
            flow: *flow,
            lists_generation: self.lists,
            device_generation: self.device,
            policy_generation: self.policy,
            cached,
            decision: decision.clone(),
        }
    }
}

/// What a cached entry was made on; zeros if it is gone (it cannot be: nothing is cached in between).
fn cached_generations(cache: &FlowCache, flow: &Flow) -> Generations {
    cache.entries.get(&FlowKey::new(flow)).map_or_else(Generations::default, |entry| Generations {
        lists: entry.lists_generation,
        device: entry.device_generation,
        policy: entry.policy_generation,
    })
}

/// Logs a decision the cache answered.
#[cold]
#[inline(never)]
fn log_hit(log: &LogSender, cache: &FlowCache, flow: &Flow, decision: &Decision) {
    log.one(cached_generations(cache, flow).record(flow, true, decision));
}

/// For each flow of a batch, what its cached decision was made on; `None` for the flows `missed`.
#[cold]
#[inline(never)]
fn hit_generations(cache: &FlowCache, flows: &[Flow], missed: &[usize]) -> Vec<Option<Generations>> {
    let mut generations: Vec<_> = flows.iter().map(|flow| Some(cached_generations(cache, flow))).collect();
    for &index in missed {
        generations[index] = None;
    }
    generations
}

/// The log records of a batch: hits with what they were cached on, the policy's answers with their
/// snapshots, and flows with unknown facts with the batch's lists and policy.
#[cold]
#[inline(never)]
fn batch_records(
    flows: &[Flow],
    decisions: &[Decision],
    hits: Vec<Option<Generations>>,
    asked: &[(usize, Snapshot)],
    missed: Generations,
) -> Vec<Record> {
    let mut asked = asked.iter().peekable();
    let mut records = Vec::with_capacity(flows.len());
    for (index, ((flow, decision), hit)) in flows.iter().zip(decisions).zip(hits).enumerate() {
        let record = match (hit, asked.peek()) {
            (Some(generations), _) => generations.record(flow, true, decision),
            (None, Some((asked_index, snapshot))) if *asked_index == index => {
                asked.next();
                let generations = Generations {
                    lists: snapshot.lists_generation,
                    device: snapshot.device.generation,
                    policy: snapshot.policy_generation,
                };
                generations.record(flow, false, decision)
            }
            (None, _) => missed.record(flow, false, decision),
        };
        records.push(record);
    }
    records
}

/// Caches `decision` for `flow`.
#[inline(never)]
fn store(cache: &mut FlowCache, flow: &Flow, snapshot: &Snapshot, decision: &Decision) {
    let key = FlowKey::new(flow);
    let entry = Entry {
        decision: decision.clone(),
        epoch: snapshot.epoch,
        device: key.device(),
        device_generation: snapshot.device.generation,
        lists_generation: snapshot.lists_generation,
        policy_generation: snapshot.policy_generation,
    };
    cache.insert(key, entry);
}
