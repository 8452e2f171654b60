//! The live fact store: the trust lists and every device's facts, updated while decisions run.
//!
//! Every change builds a new immutable snapshot and publishes it under a new generation: the lists',
//! or one device's. A change to the lists (or the policy) also advances the store's epoch; a device's
//! own change does not, so a fleet of updating devices never makes the other devices' cached
//! decisions re-check. A reader therefore never sees half an update, and once an update call has
//! returned every later decision sees it: a cached decision is only reused while its device's
//! generation, and the epoch or else every generation it was made on, are unchanged.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use arc_swap::ArcSwap;

use crate::store::device::{self, DeviceFacts, DeviceId, DeviceSlot, MAX_DEVICES, SlotTable, UNPLACED};
use crate::store::names::DeviceNames;

use crate::facts::{FactSet, FactSetBuilder};
use crate::sync::Locked;

pub(crate) struct FactStore {
    /// Advanced after every change to the lists or the policy (a device's own change moves only its
    /// generation, which cache hits check).
    epoch: AtomicU64,
    /// Source of device and policy generations. On a cache line of its own: every device update bumps
    /// it, and the epoch beside it is read by every cache hit.
    generations: CacheLine<AtomicU64>,
    lists: ArcSwap<FactSet>,
    lists_generation: AtomicU64,
    /// The highest fact-feed revision applied (0: none).
    feed_revision: AtomicU64,
    /// Device names and handles; taken to add a device, and by the decision log to name one.
    names: Mutex<DeviceNames>,
    /// Whether a device's place ([`device::place`]) is computed when its handle is issued: from the
    /// first canary on ([`FactStore::place_all`]). Before, no device pays for the hash.
    placing: AtomicBool,
    devices: SlotTable,
    /// Serialises writers, so read-modify-write updates never lose each other's changes. On a cache
    /// line of its own, away from the device table every decision reads.
    writer: CacheLine<Mutex<()>>,
    /// Serialises changes to the lists, and the runtime's policy changes with them: held while the
    /// next lists are built and instances are prepared for them (milliseconds at a million entries),
    /// apart from `writer`, so device updates go on meanwhile.
    lists_writer: Mutex<()>,
}

/// A value alone on its cache line (two lines: adjacent-line prefetch pairs them), so that writing it
/// does not evict what readers on other cores keep beside it.
#[repr(align(128))]
struct CacheLine<T>(T);

impl FactStore {
    pub(crate) fn new(lists: FactSet) -> FactStore {
        let lists_generation = AtomicU64::new(lists.generation());
        FactStore {
            epoch: AtomicU64::new(1),
            generations: CacheLine(AtomicU64::new(1)),
            lists: ArcSwap::from_pointee(lists),
            lists_generation,
            feed_revision: AtomicU64::new(0),
            names: Mutex::default(),
            placing: AtomicBool::new(false),
            devices: SlotTable::new(),
            writer: CacheLine(Mutex::new(())),
            lists_writer: Mutex::new(()),
        }
    }

    /// The epoch: it changes after every published change.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Marks a published change.
    pub(crate) fn advance(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }

    /// A fresh generation number for a device snapshot or a policy.
    pub(crate) fn next_generation(&self) -> u64 {
        self.generations.0.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Holds off other writers.
    pub(crate) fn write_lock(&self) -> MutexGuard<'_, ()> {
        // Writers keep no invariant across a panic: every snapshot is whole before it is published.
        self.writer.0.locked()
    }

    pub(crate) fn lists(&self) -> Arc<FactSet> {
        self.lists.load_full()
    }

    pub(crate) fn lists_generation(&self) -> u64 {
        self.lists_generation.load(Ordering::Acquire)
    }

    /// Holds off other changes to the lists (and the runtime's policy changes, which take it too).
    pub(crate) fn lists_lock(&self) -> MutexGuard<'_, ()> {
        // Nothing is published until a change is whole: a panic leaves the lists as they were.
        self.lists_writer.locked()
    }

    /// Applies `edit` to a builder holding the current lists, calls `before_publish` with the result
    /// (the runtime prepares its workers' instances), then publishes it as the next generation;
    /// returns it with what `edit` returned. `_held` is [`FactStore::lists_lock`]'s guard.
    pub(crate) fn update_lists<R>(
        &self,
        _held: &MutexGuard<'_, ()>,
        edit: impl FnOnce(&mut FactSetBuilder) -> R,
        before_publish: impl FnOnce(&Arc<FactSet>),
    ) -> (Arc<FactSet>, R) {
        let mut builder = self.lists.load().to_builder();
        let output = edit(&mut builder);
        let lists = Arc::new(builder.build());
        before_publish(&lists);
        self.lists.store(Arc::clone(&lists));
        self.lists_generation.store(lists.generation(), Ordering::Release);
        self.advance();
        (lists, output)
    }

    /// The handle of a device, interning its name if it is new.
    pub(crate) fn device_id(&self, name: &str) -> Result<DeviceId, TooManyDevicesError> {
        let mut names = self.names.locked();
        let hash = match names.look_up(name) {
            Ok(id) => return Ok(DeviceId(id)),
            Err(hash) => hash,
        };
        let place = if self.placing.load(Ordering::Relaxed) { device::place(name) } else { UNPLACED };
        let id = self.devices.issue(place).ok_or(TooManyDevicesError { limit: MAX_DEVICES })?;
        // Handles are issued in order from 0, one per name.
        let pushed = names.push(name, hash);
        debug_assert_eq!(pushed, id.get());
        Ok(id)
    }

    /// Gives every device its place (the SHA-256 prefix of its name, which picks a canary's devices),
    /// and every device issued from now on its place as it is issued. Called before a canary is
    /// installed: a million devices take about 0.3 s, once; new devices wait meanwhile.
    pub(crate) fn place_all(&self) {
        let names = self.names.locked();
        if self.placing.swap(true, Ordering::Relaxed) {
            return;
        }
        for id in 0..names.len() as u32 {
            if let (Some(name), Some(slot)) = (names.get(id), self.devices.get(DeviceId(id))) {
                slot.set_place(device::place(name));
            }
        }
    }

    /// The handle of a known device; `None` for a name never seen.
    pub(crate) fn find_device(&self, name: &str) -> Option<DeviceId> {
        self.names.locked().find(name).map(DeviceId)
    }

    /// How many devices have handles.
    pub(crate) fn device_count(&self) -> usize {
        self.names.locked().len()
    }

    /// The name a device handle was issued for.
    pub(crate) fn device_name(&self, device: u32) -> Option<Arc<str>> {
        let names = self.names.locked();
        names.get(device).map(Arc::from)
    }

    /// The live slot of a device handle.
    pub(crate) fn slot(&self, device: DeviceId) -> Option<&DeviceSlot> {
        self.devices.get(device)
    }

    /// The highest fact-feed revision applied.
    pub(crate) fn feed_revision(&self) -> u64 {
        self.feed_revision.load(Ordering::Acquire)
    }

    /// Records that the feed's `revision` was applied.
    pub(crate) fn feed_reached(&self, revision: u64) {
        self.feed_revision.fetch_max(revision, Ordering::AcqRel);
    }

    /// How many device handles were issued (handles are `0..issued`).
    pub(crate) fn devices_issued(&self) -> u32 {
        self.devices.issued()
    }

    /// Applies `edit` to a copy of the device's facts; publishes it as a new generation if it changed.
    pub(crate) fn update_device(
        &self,
        device: DeviceId,
        edit: impl FnOnce(&mut DeviceFacts),
    ) -> Result<(), UnknownDeviceError> {
        self.edit_device(device, |facts| {
            edit(facts);
            true
        })
        .map(|_| ())
    }

    /// Applies `edit` to a copy of the device's facts, unless it returns `false`; publishes the copy as
    /// a new generation if it changed. Returns whether it did.
    pub(crate) fn edit_device(
        &self,
        device: DeviceId,
        edit: impl FnOnce(&mut DeviceFacts) -> bool,
    ) -> Result<bool, UnknownDeviceError> {
        let slot = self.slot(device).ok_or(UnknownDeviceError { device: device.0 })?;
        let _writer = self.write_lock();
        let current = slot.facts();
        let mut next = current.clone();
        if !edit(&mut next) || next == current {
            return Ok(false);
        }
        // No epoch advance: the device's new generation is what its cached decisions check.
        slot.publish(&next, self.next_generation());
        Ok(true)
    }
}

/// A device handle that this runtime did not issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("device handle {device} was not issued by this runtime: get handles from `Runtime::device_id`")]
pub struct UnknownDeviceError {
    /// The raw handle.
    pub device: u32,
}

/// A runtime that holds as many devices as it can.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot add a device: this runtime holds {limit} devices already, its limit: run another runtime for more")]
pub struct TooManyDevicesError {
    /// The limit.
    pub limit: usize,
}
