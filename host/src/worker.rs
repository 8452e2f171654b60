//! `Worker`: one thread's way to decide per packet — its own policy instance and its own flow cache, so
//! the hot path takes no lock.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::cache::{CacheStats, Entry, Flow, FlowCache, FlowKey};
use crate::decider::Decider;
use crate::decision::{Decision, Reason};
use crate::device::DeviceView;
use crate::facts::FactSet;
use crate::request::{Registration, Request};
use crate::runtime::{Active, Runtime};

/// Decides flows for one thread; get one from [`Runtime::worker`].
///
/// A flow's decision is cached and reused until a fact it used changes — the device's attach or link
/// facts or registration agreements, the lists, or the active policy. A cache hit does not enter
/// WebAssembly.
pub struct Worker {
    runtime: Runtime,
    current: Option<Current>,
    cache: FlowCache,
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
        Worker { runtime, current: None, cache: FlowCache::new(capacity) }
    }

    /// Decides one flow. Never fails: unknown facts and policy faults give the fail-closed decision.
    pub fn decide(&mut self, flow: &Flow) -> Decision {
        let key = FlowKey::new(flow);
        let epoch = self.runtime.inner.store.epoch();
        if let Some(decision) = self.hit(key, epoch) {
            return decision;
        }
        self.cache.misses += 1;
        let Worker { runtime, current, cache } = self;
        let current = refresh(current, runtime);
        let lists = &current.lists;
        let Some(snapshot) = snapshot(runtime, flow, epoch, lists, current.active.generation) else {
            return Decision::unknown(flow.event.kind(), Reason::AttachUnknown);
        };
        let decision = match request(flow, &snapshot) {
            Some(request) => current.decider.decide(lists, &request),
            None => Decision::unknown(flow.event.kind(), Reason::AttachUnknown),
        };
        remember(cache, key, &snapshot, decision)
    }

    /// Decides many flows: cached ones from the cache, the rest in one call into the policy, against one
    /// list generation.
    pub fn decide_batch(&mut self, flows: &[Flow]) -> Vec<Decision> {
        let epoch = self.runtime.inner.store.epoch();
        let mut decisions: Vec<Option<Decision>> = Vec::with_capacity(flows.len());
        let mut missed = Vec::new();
        for (index, flow) in flows.iter().enumerate() {
            let hit = self.hit(FlowKey::new(flow), epoch);
            if hit.is_none() {
                missed.push(index);
            }
            decisions.push(hit);
        }
        if !missed.is_empty() {
            self.cache.misses += missed.len() as u64;
            let Worker { runtime, current, cache } = self;
            let current = refresh(current, runtime);
            let lists = &current.lists;
            let mut asked = Vec::with_capacity(missed.len());
            let mut requests = Vec::with_capacity(missed.len());
            for index in missed {
                let flow = &flows[index];
                if let Some(snapshot) = snapshot(runtime, flow, epoch, lists, current.active.generation)
                    && let Some(request) = request(flow, &snapshot)
                {
                    requests.push(request);
                    asked.push((index, snapshot));
                } else {
                    decisions[index] = Some(Decision::unknown(flow.event.kind(), Reason::AttachUnknown));
                }
            }
            let answers = current.decider.decide_batch(lists, &requests);
            for ((index, snapshot), decision) in asked.into_iter().zip(answers) {
                decisions[index] = Some(remember(cache, FlowKey::new(&flows[index]), &snapshot, decision));
            }
        }
        decisions
            .into_iter()
            .zip(flows)
            .map(|(decision, flow)| {
                decision.unwrap_or_else(|| Decision::unknown(flow.event.kind(), Reason::AttachUnknown))
            })
            .collect()
    }

    /// How the cache has done.
    pub fn stats(&self) -> CacheStats {
        self.cache.stats()
    }

    /// The runtime this worker decides for.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// The cached decision of `key`, if it still stands.
    fn hit(&mut self, key: FlowKey, epoch: u64) -> Option<Decision> {
        if !self.cache.enabled() {
            return None;
        }
        let entry = self.cache.entries.get_mut(&key)?;
        if entry.epoch != epoch {
            // Something changed somewhere; this flow's decision stands if none of its facts did.
            let inner = &self.runtime.inner;
            let unchanged = inner.store.slot(entry.device).map(|slot| slot.generation())
                == Some(entry.device_generation)
                && inner.store.lists_generation() == entry.lists_generation
                && inner.policy_generation.load(Ordering::Acquire) == entry.policy_generation;
            if !unchanged {
                return None;
            }
            entry.epoch = epoch;
        }
        self.cache.hits += 1;
        Some(entry.decision.clone())
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

/// Caches a decision with the generations it was made on. A decision with a fault is not cached, so the
/// next packet asks a fresh instance.
fn remember(cache: &mut FlowCache, key: FlowKey, snapshot: &Snapshot, decision: Decision) -> Decision {
    if decision.fault.is_none() && cache.enabled() {
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
    decision
}
