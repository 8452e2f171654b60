//! Data sessions: the decision associated with a session, as the method allows (000, FIG. 7 step 3
//! note: the determination "could be cached and … associated to a data session, e.g. an RTP session").
//! Once a session has set up application-layer security it keeps it until it ends: a later change that
//! makes the path secure applies to new sessions, never downgrading a live one.
//!
//! The embedder opens and closes sessions; the table is bounded (its capacity fixed when the runtime is
//! built) and a session unused for longer than the idle timeout ends by itself. A full table first
//! reclaims idle sessions, then refuses the new one (counted). Sessions are found by handle without a
//! lock: a slot per session, with a generation that makes a closed session's handle stale.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use crate::store::device::DeviceId;
use crate::store::fact_store::UnknownDeviceError;
use crate::sync::Locked;
use crate::vocab::{Action, Decision, EventKind, Reason, ServerId};

/// A data session between a device and a server, opened by [`Runtime::open_session`](crate::Runtime::open_session).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SessionId {
    index: u32,
    generation: u32,
}

/// A session handle that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionError {
    /// The device handle is not this runtime's.
    #[error(transparent)]
    UnknownDevice(#[from] UnknownDeviceError),
    /// The table holds as many live sessions as it may.
    #[error(
        "cannot open a session: the runtime holds {capacity} live sessions, its bound: close sessions when they end, or build the runtime with a larger `sessions` bound"
    )]
    Full {
        /// The bound.
        capacity: usize,
    },
    /// The session was closed, or ended after its idle timeout.
    #[error("session {index} has ended (closed, or idle for longer than {idle:?}): open a new one")]
    Ended {
        /// The handle's slot.
        index: u32,
        /// The idle timeout.
        idle: Duration,
    },
}

/// Session counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// Sessions open now.
    pub open: usize,
    /// Sessions refused because the table was full of live sessions.
    pub refused_full: u64,
    /// Sessions that ended after their idle timeout.
    pub expired: u64,
    /// Decisions in a session kept secure although the path decision alone would have allowed plain.
    pub kept_secure: u64,
}

#[derive(Default)]
struct Slot {
    /// Odd while a session lives in the slot; every open and close advances it.
    generation: AtomicU32,
    device: AtomicU32,
    server: AtomicU32,
    secured: AtomicBool,
    /// Seconds since the Unix epoch.
    last_used: AtomicU64,
}

/// The session table.
pub(crate) struct Sessions {
    slots: Box<[Slot]>,
    idle: Duration,
    /// Free slots; taken to open and close.
    free: Mutex<Vec<u32>>,
    refused_full: AtomicU64,
    expired: AtomicU64,
    kept_secure: AtomicU64,
}

impl Sessions {
    pub(crate) fn new(capacity: usize, idle: Duration) -> Sessions {
        let capacity = capacity.min(u32::MAX as usize);
        Sessions {
            slots: (0..capacity).map(|_| Slot::default()).collect(),
            idle,
            free: Mutex::new((0..capacity as u32).rev().collect()),
            refused_full: AtomicU64::new(0),
            expired: AtomicU64::new(0),
            kept_secure: AtomicU64::new(0),
        }
    }

    /// Opens a session at `now` (seconds since the Unix epoch).
    pub(crate) fn open(&self, device: DeviceId, server: ServerId, now: u64) -> Result<SessionId, SessionError> {
        let mut free = self.free.locked();
        if free.is_empty() {
            self.reclaim_idle(&mut free, now);
        }
        let Some(index) = free.pop() else {
            self.refused_full.fetch_add(1, Ordering::Relaxed);
            return Err(SessionError::Full { capacity: self.slots.len() });
        };
        let slot = &self.slots[index as usize];
        slot.device.store(device.get(), Ordering::Relaxed);
        slot.server.store(server.get(), Ordering::Relaxed);
        slot.secured.store(false, Ordering::Relaxed);
        slot.last_used.store(now, Ordering::Relaxed);
        let generation = slot.generation.fetch_add(1, Ordering::AcqRel) + 1;
        Ok(SessionId { index, generation })
    }

    /// Closes a session; `false` when it had already ended.
    pub(crate) fn close(&self, session: SessionId) -> bool {
        let mut free = self.free.locked();
        self.end(&mut free, session)
    }

    /// The device and server of a live session, touching it at `now`; an idle one ends here.
    pub(crate) fn enter(&self, session: SessionId, now: u64) -> Result<(DeviceId, ServerId), SessionError> {
        let ended = SessionError::Ended { index: session.index, idle: self.idle };
        let slot = self.slots.get(session.index as usize).ok_or_else(|| ended.clone())?;
        if slot.generation.load(Ordering::Acquire) != session.generation {
            return Err(ended);
        }
        let last = slot.last_used.load(Ordering::Relaxed);
        if now.saturating_sub(last) > self.idle.as_secs() {
            let mut free = self.free.locked();
            if self.end(&mut free, session) {
                self.expired.fetch_add(1, Ordering::Relaxed);
            }
            return Err(ended);
        }
        if last != now {
            slot.last_used.store(now, Ordering::Relaxed);
        }
        let device = DeviceId(slot.device.load(Ordering::Relaxed));
        Ok((device, ServerId::new(slot.server.load(Ordering::Relaxed))))
    }

    /// `decision` as the session allows it: once application-layer security is in the session, a plain
    /// answer becomes the secure one (reason `session-secured`). Security is in the session once this
    /// node sets it up (an answer that secures) or accepts data the peer protected (the peer set it up:
    /// 000, FIG. 12 step 6 — the server accepts the device's request for application-layer security —
    /// and FIGS. 8-9 step 2).
    pub(crate) fn apply(&self, session: SessionId, event: EventKind, decision: Decision) -> Decision {
        let Some(slot) = self.slots.get(session.index as usize) else { return decision };
        let sets_up =
            matches!(decision.action, Action::SecureThenSend | Action::DiscardAndSecure | Action::ProtectTrigger);
        let received = event == EventKind::ReceiveProtected && decision.action == Action::Accept;
        if sets_up || received {
            slot.secured.store(true, Ordering::Relaxed);
            return decision;
        }
        let downgrade = decision.reason == Reason::PathSecure && decision.action.is_plain();
        if downgrade && slot.secured.load(Ordering::Relaxed) {
            self.kept_secure.fetch_add(1, Ordering::Relaxed);
            return Decision::unknown(event, Reason::SessionSecured);
        }
        decision
    }

    pub(crate) fn stats(&self) -> SessionStats {
        let free = self.free.locked().len();
        SessionStats {
            open: self.slots.len() - free,
            refused_full: self.refused_full.load(Ordering::Relaxed),
            expired: self.expired.load(Ordering::Relaxed),
            kept_secure: self.kept_secure.load(Ordering::Relaxed),
        }
    }

    fn end(&self, free: &mut Vec<u32>, session: SessionId) -> bool {
        let Some(slot) = self.slots.get(session.index as usize) else { return false };
        let ended = slot
            .generation
            .compare_exchange(
                session.generation,
                session.generation.wrapping_add(1),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok();
        if ended {
            free.push(session.index);
        }
        ended
    }

    /// Ends every session idle for longer than the timeout.
    fn reclaim_idle(&self, free: &mut Vec<u32>, now: u64) {
        for (index, slot) in self.slots.iter().enumerate() {
            let generation = slot.generation.load(Ordering::Acquire);
            let idle = now.saturating_sub(slot.last_used.load(Ordering::Relaxed)) > self.idle.as_secs();
            if generation % 2 == 1 && idle && self.end(free, SessionId { index: index as u32, generation }) {
                self.expired.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}
