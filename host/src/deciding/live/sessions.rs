//! A runtime's data sessions: opened between a device and a server, closed, counted.

use super::Runtime;
use crate::deciding::session::{SessionError, SessionId, SessionStats, Sessions};
use crate::store::device::DeviceId;
use crate::store::fact_store::UnknownDeviceError;
use crate::vocab::ServerId;

impl Runtime {
    /// Opens a data session between `device` and `server`: decisions made in it
    /// ([`Worker::decide_in`](crate::Worker::decide_in)) never go back to plain once it has set up application-layer security.
    pub fn open_session(&self, device: DeviceId, server: ServerId) -> Result<SessionId, SessionError> {
        self.inner.store.slot(device).ok_or(UnknownDeviceError { device: device.get() })?;
        self.inner.sessions.open(device, server, self.unix_now())
    }

    /// Ends a data session; `false` when it had already ended.
    pub fn close_session(&self, session: SessionId) -> bool {
        self.inner.sessions.close(session)
    }

    /// The session table's counts.
    pub fn session_stats(&self) -> SessionStats {
        self.inner.sessions.stats()
    }

    /// The session table.
    pub(crate) fn sessions(&self) -> &Sessions {
        &self.inner.sessions
    }
}
