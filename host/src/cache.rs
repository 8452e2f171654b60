//! The per-worker flow cache: a decision made for a flow is reused until a fact it was made on changes.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use crate::decision::Decision;
use crate::device::DeviceId;
use crate::facts::ServerId;
use crate::metrics::Counters;
use crate::request::{AccessIntegrity, EndToEnd, Event, Role};

/// A flow: one device, one server, the asking node's role and the event it handles. Decisions are
/// cached per flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Flow {
    /// The device.
    pub device: DeviceId,
    /// The server.
    pub server: ServerId,
    /// Which node asks.
    pub role: Role,
    /// What it handles (for a received trigger, with its check results).
    pub event: Event,
}

/// A flow as a small hashable key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct FlowKey {
    device: u32,
    server: u32,
    what: u8,
}

impl FlowKey {
    pub(crate) fn new(flow: &Flow) -> FlowKey {
        let event = match flow.event {
            Event::SendData => 0,
            Event::ReceiveUnprotected => 1,
            Event::ReceiveProtected => 2,
            Event::SendTrigger => 3,
            Event::ReceiveTrigger(check) => {
                let integrity = match check.access_integrity {
                    AccessIntegrity::Verified => 0,
                    AccessIntegrity::Absent => 1,
                    AccessIntegrity::Failed => 2,
                };
                let end_to_end = match check.end_to_end {
                    EndToEnd::Valid => 0,
                    EndToEnd::Absent => 1,
                    EndToEnd::Invalid => 2,
                };
                4 + integrity * 3 + end_to_end
            }
        };
        let role = match flow.role {
            Role::Server => 0,
            Role::Device => 0x80,
        };
        FlowKey { device: flow.device.get(), server: flow.server.get(), what: role | event }
    }

    /// The flow's device.
    pub(crate) fn device(self) -> DeviceId {
        DeviceId(self.device)
    }
}

/// A cached decision and every generation it was made on.
pub(crate) struct Entry {
    pub(crate) decision: Decision,
    /// The store's epoch when the decision was made (or last found still valid).
    pub(crate) epoch: u64,
    pub(crate) device: DeviceId,
    pub(crate) device_generation: u64,
    pub(crate) lists_generation: u64,
    pub(crate) policy_generation: u64,
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
    pub(crate) entries: FxHashMap<FlowKey, Entry>,
    capacity: usize,
    /// The worker's counts, which the runtime's metrics sum.
    pub(crate) counters: Arc<Counters>,
}

impl FlowCache {
    pub(crate) fn new(capacity: usize, counters: Arc<Counters>) -> FlowCache {
        FlowCache { entries: FxHashMap::default(), capacity, counters }
    }

    /// Remembers a decision; a full cache starts over (every entry is cheap to remake).
    pub(crate) fn insert(&mut self, key: FlowKey, entry: Entry) {
        if self.entries.len() >= self.capacity && !self.entries.contains_key(&key) {
            self.entries.clear();
        }
        self.entries.insert(key, entry);
    }

    /// Whether decisions are cached at all.
    pub(crate) fn enabled(&self) -> bool {
        self.capacity > 0
    }

    pub(crate) fn stats(&self) -> CacheStats {
        CacheStats { hits: self.counters.hits(), misses: self.counters.misses(), entries: self.entries.len() }
    }
}
