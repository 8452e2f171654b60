//! Devices in the live fact store: a handle per device, and per device one immutable snapshot of its
//! attach facts, link state and registration agreements, swapped whole on every change.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use arc_swap::{ArcSwap, Guard};

use crate::facts::{Attach, LinkState, ServerId};
use crate::plmn::PlmnId;
use crate::request::Registration;

/// A handle for a device, interned by a [`Runtime`](crate::Runtime) from the embedder's name for it
/// (a SUPI, an IMSI, an external identifier…).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceId(pub(crate) u32);

impl DeviceId {
    /// The raw handle.
    pub fn get(self) -> u32 {
        self.0
    }
}

/// What a device reported at (re-)registration: its serving network and its access security.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RegistrationReport {
    /// The serving network the device says it is attached to.
    pub serving: Option<PlmnId>,
    /// The access security the device says is on.
    pub link: LinkState,
}

/// A recorded agreement, with the list and policy generations it rests on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Agreement {
    pub(crate) server: ServerId,
    pub(crate) registration: Registration,
    pub(crate) lists_generation: u64,
    pub(crate) policy_generation: u64,
}

/// One generation of a device's facts.
#[derive(Clone, Debug, Default)]
pub(crate) struct DeviceFacts {
    /// Generation of this snapshot (from the store's change counter).
    pub(crate) generation: u64,
    /// `None` until the device's attach facts are known.
    pub(crate) attach: Option<Attach>,
    /// `None` until known; unknown access security counts as off.
    pub(crate) link: Option<LinkState>,
    /// Agreements per server; voided whenever attach or link change.
    pub(crate) agreements: Vec<Agreement>,
}

impl DeviceFacts {
    /// The agreement with `server`, if one stands on these list and policy generations.
    pub(crate) fn registration(&self, server: ServerId, lists_generation: u64, policy_generation: u64) -> Registration {
        self.agreements
            .iter()
            .find(|a| {
                a.server == server && a.lists_generation == lists_generation && a.policy_generation == policy_generation
            })
            .map_or(Registration::None, |a| a.registration)
    }

    /// The link state a decision uses: unknown is off.
    pub(crate) fn link_or_off(&self) -> LinkState {
        self.link.unwrap_or(LinkState { ciphering: false, integrity: false })
    }
}

/// Device slots by handle, readable without a lock: a directory of fixed-size chunks, each allocated
/// when its first device is. Handles are dense, so a chunk fills before the next one is made.
pub(crate) struct SlotTable {
    chunks: Box<[OnceLock<Chunk>]>,
}

/// [`CHUNK`] slots, each filled once.
type Chunk = Box<[OnceLock<Arc<DeviceSlot>>]>;

const CHUNK: usize = 4096;
const CHUNKS: usize = 4096;
/// How many devices one runtime can hold.
pub(crate) const MAX_DEVICES: usize = CHUNK * CHUNKS;

impl SlotTable {
    pub(crate) fn new() -> SlotTable {
        SlotTable { chunks: (0..CHUNKS).map(|_| OnceLock::new()).collect() }
    }

    pub(crate) fn get(&self, device: DeviceId) -> Option<&Arc<DeviceSlot>> {
        let index = device.0 as usize;
        self.chunks.get(index / CHUNK)?.get()?.get(index % CHUNK)?.get()
    }

    /// Fills the slot of a new handle; `false` past [`MAX_DEVICES`] or if it was filled already.
    pub(crate) fn insert(&self, device: DeviceId, slot: Arc<DeviceSlot>) -> bool {
        let index = device.0 as usize;
        let Some(chunk) = self.chunks.get(index / CHUNK) else { return false };
        let chunk = chunk.get_or_init(|| (0..CHUNK).map(|_| OnceLock::new()).collect());
        chunk[index % CHUNK].set(slot).is_ok()
    }
}

/// The live facts of one device: readers load the snapshot, or just compare its generation.
pub(crate) struct DeviceSlot {
    facts: ArcSwap<DeviceFacts>,
    generation: AtomicU64,
}

impl DeviceSlot {
    pub(crate) fn new() -> DeviceSlot {
        DeviceSlot { facts: ArcSwap::from_pointee(DeviceFacts::default()), generation: AtomicU64::new(0) }
    }

    /// The current snapshot (a cheap guard, not a reference count).
    pub(crate) fn load(&self) -> Guard<Arc<DeviceFacts>> {
        self.facts.load()
    }

    /// The current snapshot, reference-counted.
    pub(crate) fn load_full(&self) -> Arc<DeviceFacts> {
        self.facts.load_full()
    }

    /// The current snapshot's generation (published after the snapshot itself).
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Replaces the snapshot. Callers serialise writers.
    pub(crate) fn store(&self, facts: DeviceFacts) {
        let generation = facts.generation;
        self.facts.store(Arc::new(facts));
        self.generation.store(generation, Ordering::Release);
    }
}
