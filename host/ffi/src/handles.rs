//! Opaque handles: a slot index and a generation in one `u64`, over a process-wide table of slots. A
//! handle whose slot has since been freed (and perhaps reused) has an older generation, so a use after
//! free, a double free or a stale copy is refused with `PATHSEC_ERR_HANDLE`, never undefined. So is a
//! handle of another kind, and any number the table never issued (0 is never a handle).
//!
//! Each slot has its own lock: looking a handle up touches no shared lock, and shared objects
//! (engines, policies, runtimes) are cloned out of the slot (a reference count) so long calls never
//! hold it. A worker is used in its slot, under its lock: a second thread using the same worker at
//! the same time gets `PATHSEC_ERR_BUSY` rather than a data race.
//!
//! Limits: 64 chunks of 1,024 slots (65,536 live handles); a slot's generation is 32 bits, so a handle
//! is recognised as stale until its slot has been reused 2^32 times.

use std::sync::{Mutex, MutexGuard, OnceLock, TryLockError};

use pathsec::sync::Locked;
use pathsec::{Engine, Policy, Runtime, Worker};

use crate::status::{Failure, PATHSEC_ERR_BUSY, PATHSEC_ERR_CAPACITY, PATHSEC_ERR_HANDLE, Result};

/// A handle: a slot's index + 1 in the low 32 bits, its generation in the high 32. 0 is no handle.
pub type PathsecHandle = u64;

const CHUNK: usize = 1024;
const CHUNKS: usize = 64;

/// What a handle names.
pub(crate) enum Object {
    Engine(Engine),
    Policy(Policy),
    Runtime(Runtime),
    /// A worker, with the decisions buffer its batches reuse.
    Worker(Box<WorkerSlot>),
}

/// A worker and what its batches reuse, so a batch allocates nothing once warm.
pub(crate) struct WorkerSlot {
    pub(crate) worker: Worker,
    pub(crate) flows: Vec<pathsec::Flow>,
    pub(crate) decisions: Vec<pathsec::Decision>,
}

impl Object {
    fn kind(&self) -> &'static str {
        match self {
            Object::Engine(_) => "an engine",
            Object::Policy(_) => "a policy",
            Object::Runtime(_) => "a runtime",
            Object::Worker(_) => "a worker",
        }
    }
}

#[derive(Default)]
struct Slot {
    state: Mutex<SlotState>,
}

#[derive(Default)]
struct SlotState {
    /// The generation of the handle that names this slot now (or last did).
    generation: u32,
    object: Option<Object>,
}

struct Table {
    chunks: [OnceLock<Box<[Slot]>>; CHUNKS],
    free: Mutex<FreeSlots>,
}

#[derive(Default)]
struct FreeSlots {
    /// Slots never used yet start here.
    unused: usize,
    /// Freed slots, reused last-freed first.
    freed: Vec<u32>,
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| Table { chunks: std::array::from_fn(|_| OnceLock::new()), free: Mutex::default() })
}

impl Table {
    fn slot(&self, index: usize) -> Option<&Slot> {
        self.chunks.get(index / CHUNK)?.get()?.get(index % CHUNK)
    }

    fn slot_or_create(&self, index: usize) -> &Slot {
        let chunk = self.chunks[index / CHUNK].get_or_init(|| (0..CHUNK).map(|_| Slot::default()).collect());
        &chunk[index % CHUNK]
    }
}

/// Stores `object` and answers its new handle.
pub(crate) fn insert(object: Object) -> Result<PathsecHandle> {
    let table = table();
    let index = {
        let mut free = table.free.locked();
        match free.freed.pop() {
            Some(index) => index as usize,
            None if free.unused < CHUNK * CHUNKS => {
                free.unused += 1;
                free.unused - 1
            }
            None => {
                return Err(Failure::new(
                    PATHSEC_ERR_CAPACITY,
                    format!(
                        "all {} handles are in use: free the engines, policies, runtimes and workers no longer used",
                        CHUNK * CHUNKS
                    ),
                ));
            }
        }
    };
    let mut state = table.slot_or_create(index).state.locked();
    state.generation = state.generation.wrapping_add(1).max(1);
    state.object = Some(object);
    Ok(handle(index, state.generation))
}

fn handle(index: usize, generation: u32) -> PathsecHandle {
    (u64::from(generation) << 32) | (index as u64 + 1)
}

/// The slot a handle names and the generation it claims; whether it is still live is [`check`]'s.
fn slot_of(handle: PathsecHandle, argument: &str) -> Result<(&'static Slot, u32)> {
    let (index, generation) = ((handle & 0xffff_ffff) as usize, (handle >> 32) as u32);
    if index == 0 || generation == 0 {
        return Err(bad_handle(
            handle,
            argument,
            "is not a handle: 0 is none, and others come from a `pathsec_..._new` or `_load` call",
        ));
    }
    let slot =
        table().slot(index - 1).ok_or_else(|| bad_handle(handle, argument, "is not a handle this library issued"))?;
    Ok((slot, generation))
}

/// Whether the locked `state` still holds what a handle of `generation` named.
fn check(state: &SlotState, generation: u32, handle: PathsecHandle, argument: &str) -> Result<()> {
    match (state.generation == generation, &state.object) {
        (true, Some(_)) => Ok(()),
        (true, None) => Err(bad_handle(handle, argument, "was freed already (a use after free, or a double free)")),
        (false, _) if generation < state.generation => Err(bad_handle(
            handle,
            argument,
            "was freed already (a use after free, or a double free); its slot now holds another object",
        )),
        (false, _) => Err(bad_handle(handle, argument, "is not a handle this library issued")),
    }
}

fn bad_handle(handle: PathsecHandle, argument: &str, why: &str) -> Failure {
    Failure::new(PATHSEC_ERR_HANDLE, format!("argument `{argument}` ({handle:#x}) {why}"))
}

/// The slot a handle names, locked, when the handle is live.
fn live(handle: PathsecHandle, argument: &str) -> Result<MutexGuard<'static, SlotState>> {
    let (slot, generation) = slot_of(handle, argument)?;
    let state = slot.state.locked();
    check(&state, generation, handle, argument)?;
    Ok(state)
}

fn wrong_kind(argument: &str, handle: PathsecHandle, found: &Object, wanted: &str) -> Failure {
    Failure::new(PATHSEC_ERR_HANDLE, format!("argument `{argument}` ({handle:#x}) is {}, not {wanted}", found.kind()))
}

/// Frees the object a handle names (dropped after the slot is unlocked). A worker in use on another
/// thread is waited for.
pub(crate) fn remove(handle: PathsecHandle, argument: &str, wanted: &'static str) -> Result<()> {
    let object = {
        let mut state = live(handle, argument)?;
        let object = state.object.take().expect("a live slot holds an object");
        if object.kind() != wanted {
            let failure = wrong_kind(argument, handle, &object, wanted);
            state.object = Some(object);
            return Err(failure);
        }
        object
    };
    drop(object);
    table().free.locked().freed.push((handle & 0xffff_ffff) as u32 - 1);
    Ok(())
}

pub(crate) fn engine(handle: PathsecHandle, argument: &str) -> Result<Engine> {
    match &live(handle, argument)?.object {
        Some(Object::Engine(engine)) => Ok(engine.clone()),
        Some(other) => Err(wrong_kind(argument, handle, other, "an engine")),
        None => unreachable!("a live slot holds an object"),
    }
}

pub(crate) fn policy(handle: PathsecHandle, argument: &str) -> Result<Policy> {
    match &live(handle, argument)?.object {
        Some(Object::Policy(policy)) => Ok(policy.clone()),
        Some(other) => Err(wrong_kind(argument, handle, other, "a policy")),
        None => unreachable!("a live slot holds an object"),
    }
}

pub(crate) fn runtime(handle: PathsecHandle, argument: &str) -> Result<Runtime> {
    match &live(handle, argument)?.object {
        Some(Object::Runtime(runtime)) => Ok(runtime.clone()),
        Some(other) => Err(wrong_kind(argument, handle, other, "a runtime")),
        None => unreachable!("a live slot holds an object"),
    }
}

/// Runs `use_it` on a worker in its slot. A worker another thread is using now is refused
/// (`PATHSEC_ERR_BUSY`): a worker belongs to one thread at a time.
pub(crate) fn with_worker<T>(
    handle: PathsecHandle,
    argument: &str,
    use_it: impl FnOnce(&mut WorkerSlot) -> Result<T>,
) -> Result<T> {
    let (slot, generation) = slot_of(handle, argument)?;
    let mut state = match slot.state.try_lock() {
        Ok(state) => state,
        Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
        Err(TryLockError::WouldBlock) => {
            return Err(Failure::new(
                PATHSEC_ERR_BUSY,
                format!(
                    "argument `{argument}` ({handle:#x}) is in use on another thread now: make one worker per thread (`pathsec_worker_new`)"
                ),
            ));
        }
    };
    check(&state, generation, handle, argument)?;
    match state.object.as_mut() {
        Some(Object::Worker(worker)) => use_it(worker),
        Some(other) => Err(wrong_kind(argument, handle, other, "a worker")),
        None => unreachable!("checked above"),
    }
}

/// How many handles are live now (for tests and leak checks).
#[unsafe(no_mangle)]
pub extern "C" fn pathsec_live_handles() -> usize {
    let table = table();
    let free = table.free.locked();
    free.unused - free.freed.len()
}
