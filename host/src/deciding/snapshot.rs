//! What one decision reads before it is made: the device's facts, its registration outcome with the
//! flow's server and the generations they are at (`Snapshot`), what the decision is then made on as
//! the cache and the log keep it (`Made`), and the flows a batch asked of its policies (`Asked`).

use crate::deciding::live::Runtime;
use crate::facts::FactSet;
use crate::store::device::{DeviceSlot, DeviceView};
use crate::store::flow::{Flow, Stamp};
use crate::store::held::Lookup;
use crate::vocab::{Attach, Decision, LinkState, MadeBy, Reason, Registration, Request};
use crate::wasm::packed::{self, PackedRequest};

/// A flow of a batch asked of a policy: its index in the batch (a `u32`, so the entry stays as small as
/// a batch of one policy needs), what it was decided on, which policy decides it.
pub(super) type AskedFlow = (u32, Made, MadeBy);

/// What a batch asked of its policies, and what they answered.
pub(super) struct Asked<'a> {
    pub(super) asked: &'a [AskedFlow],
    pub(super) words: &'a [Vec<u64>; MadeBy::COUNT],
    pub(super) requests: &'a [Vec<Request>; MadeBy::COUNT],
    pub(super) answers: &'a [Vec<Decision>; MadeBy::COUNT],
    pub(super) packed: bool,
}

/// Everything one miss decides on, read before the decision.
pub(super) struct Snapshot {
    pub(super) epoch: u64,
    pub(super) device: DeviceView,
    /// The device's place among all devices (a canary's choice).
    pub(super) place: u64,
    /// The stored registration outcome with the device and the flow's server, if any.
    pub(super) registration: Lookup,
    /// What it is decided on (`stamp.device` is `device`'s generation).
    pub(super) stamp: Stamp,
}

/// What a decision was made on, as the cache and the log keep it.
#[derive(Clone, Copy)]
pub(super) struct Made {
    pub(super) epoch: u64,
    pub(super) stamp: Stamp,
    /// When the registration agreement it followed ends; `u64::MAX` when it followed none.
    pub(super) expires: u64,
}

impl Snapshot {
    /// What a decision on it is made on.
    #[inline]
    pub(super) fn made(&self) -> Made {
        Made { epoch: self.epoch, stamp: self.stamp, expires: self.expires() }
    }

    /// The facts a request carries: a standing registration's (equal to the live facts where those are
    /// known), else the device's live facts; `None` while they are unknown.
    #[inline]
    pub(super) fn facts(&self) -> Option<(Attach, Option<LinkState>, Registration)> {
        match self.registration {
            Lookup::Standing { registration, attach, link, .. } => Some((attach, Some(link), registration)),
            Lookup::None => Some((self.device.attach()?, self.device.link(), Registration::None)),
            Lookup::Pending => None,
        }
    }

    /// When the agreement a decision on it follows ends; `u64::MAX` when it follows none.
    pub(super) fn expires(&self) -> u64 {
        match self.registration {
            Lookup::Standing { expires, .. } => expires,
            _ => u64::MAX,
        }
    }

    /// The reason a decision fails closed before the policy: a re-registration is due, or the attach
    /// facts are unknown.
    pub(super) fn unknown_reason(&self) -> Reason {
        match self.registration {
            _ if self.device.stale() => Reason::FactsStale,
            Lookup::Pending => Reason::RegistrationPending,
            _ => Reason::AttachUnknown,
        }
    }
}

/// The facts a miss decides on; `None` for a device handle this runtime did not issue.
pub(super) fn snapshot(
    runtime: &Runtime,
    flow: &Flow,
    epoch: u64,
    lists: &FactSet,
    policy_generation: u64,
) -> Option<Snapshot> {
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
pub(super) fn registered(
    runtime: &Runtime,
    slot: &DeviceSlot,
    flow: &Flow,
) -> Option<Result<(PackedRequest, u64), Reason>> {
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

/// The request for `flow`; `None` while the device's attach facts are unknown or a re-registration is
/// due.
pub(super) fn request(flow: &Flow, snapshot: &Snapshot) -> Option<Request> {
    let (attach, link, registration) = snapshot.facts()?;
    Some(Request { role: flow.role, event: flow.event, server: flow.server, attach, link, registration })
}
