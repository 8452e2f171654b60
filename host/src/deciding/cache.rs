//! The per-worker flow cache, and the rule for when a cached decision still stands: a decision made for
//! a flow is reused until a fact it was made on changes.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::store::device::DeviceId;
use crate::store::flow::{Flow, FlowKey, Stamp};
use crate::telemetry::metrics::{Counters, ShadowCode};
use crate::vocab::Decision;

/// A cached decision and every generation it was made on.
pub(crate) struct Entry {
    pub(crate) decision: Decision,
    /// The store's epoch when the decision was made (or last found still valid).
    pub(crate) epoch: u64,
    /// What it was made on.
    pub(crate) stamp: Stamp,
    /// When the registration agreement it followed ends (seconds since the Unix epoch); `u64::MAX`
    /// when it followed none.
    pub(crate) expires: u64,
    /// The shadow's answer compared with it, when one was (see `metrics::shadow_code`).
    pub(crate) shadow: ShadowCode,
}

/// The epoch no store reaches: an entry stamped with it is checked on every hit.
const CHECK_EVERY_TIME: u64 = u64::MAX;

impl Entry {
    /// An entry for `decision`, made at `epoch` on `stamp`; `expires` is when the registration agreement
    /// it followed ends (`u64::MAX`: none); `shadow` the shadow's answer compared with it.
    pub(crate) fn new(decision: Decision, epoch: u64, stamp: Stamp, expires: u64, shadow: ShadowCode) -> Entry {
        let epoch = if expires == u64::MAX { epoch } else { CHECK_EVERY_TIME };
        Entry { decision, epoch, stamp, expires, shadow }
    }
}

/// Hit and miss counts of a worker's cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Decisions answered from the cache.
    pub hits: u64,
    /// Decisions that entered the policy (or failed closed before it).
    pub misses: u64,
    /// Flows cached now.
    pub entries: usize,
}

pub(crate) struct FlowCache {
    entries: FxHashMap<FlowKey, Entry>,
    capacity: usize,
    /// The worker's counts, which the runtime's metrics sum.
    pub(crate) counters: Arc<Counters>,
}

impl FlowCache {
    pub(crate) fn new(capacity: usize, counters: Arc<Counters>) -> FlowCache {
        FlowCache { entries: FxHashMap::default(), capacity, counters }
    }

    /// Remembers a decision; a full cache starts over (every entry is cheap to remake).
    pub(crate) fn insert(&mut self, flow: &Flow, entry: Entry) {
        let key = FlowKey::new(flow);
        if self.entries.len() >= self.capacity && !self.entries.contains_key(&key) {
            self.entries.clear();
        }
        self.entries.insert(key, entry);
    }

    /// The cached decision of `flow`, if it still stands. Its device's facts must be those it was made
    /// on: `device` gives the device's generation now (`None` for a device gone) — checked on every hit,
    /// since a device's own changes do not move the store's epoch. The rest stands while nothing else
    /// changed (the store's `epoch` is the one the entry was last checked at); after a change, while
    /// none of the facts it was made on did: `current` gives their generations now. A decision found
    /// standing is stamped with `epoch`, so the next hit is quick — except one that followed a
    /// registration agreement, which stands until the agreement ends by `now` and so is checked every
    /// time (its `epoch` never matches: [`Entry::new`] sees to it). The common hit pays nothing for
    /// agreements.
    #[inline(always)]
    pub(crate) fn get(
        &mut self,
        flow: &Flow,
        epoch: u64,
        device: impl FnOnce(DeviceId) -> Option<u64>,
        current: impl FnOnce(DeviceId) -> Option<Stamp>,
        now: impl FnOnce() -> u64,
    ) -> Option<&Entry> {
        let entry = self.entries.get_mut(&FlowKey::new(flow))?;
        if device(flow.device) != Some(entry.stamp.device) {
            return None;
        }
        if entry.epoch != epoch {
            if current(flow.device) != Some(entry.stamp) {
                return None;
            }
            if entry.expires == u64::MAX {
                entry.epoch = epoch;
            } else if now() >= entry.expires {
                return None;
            }
        }
        Some(entry)
    }

    /// What the cached decision of `flow` was made on, and the shadow's answer cached with it, if there
    /// is one.
    pub(crate) fn made(&self, flow: &Flow) -> Option<(Stamp, ShadowCode)> {
        self.entries.get(&FlowKey::new(flow)).map(|entry| (entry.stamp, entry.shadow))
    }

    /// Whether decisions are cached at all.
    pub(crate) fn enabled(&self) -> bool {
        self.capacity > 0
    }

    pub(crate) fn stats(&self) -> CacheStats {
        CacheStats { hits: self.counters.hits(), misses: self.counters.misses(), entries: self.entries.len() }
    }
}
