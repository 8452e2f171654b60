//! A flow — what the per-worker cache keys decisions by — and the stamp of the generations a decision
//! was made on: the value types the runtime's parts (worker, cache, log) share.

use crate::store::device::DeviceId;
use crate::vocab::{AccessIntegrity, EndToEnd, Event, Role, ServerId};

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
}

/// The generations of the facts a decision was made on: the lists, the device's facts (attach, link,
/// registration agreements) and the active policy. A cached decision stands while all three do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Stamp {
    /// The list generation ([`FactSet::generation`](crate::FactSet::generation)).
    pub(crate) lists: u64,
    /// The device's facts' generation.
    pub(crate) device: u64,
    /// The active policy's generation.
    pub(crate) policy: u64,
}
