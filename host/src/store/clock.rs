//! The runtime's clock: where it takes the time from, so what depends on time (the decision log's
//! timestamps now; registration timers, back-offs and staleness bounds next) can be tested without
//! sleeping.

use crate::sync::Locked;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// A source of the current time. A runtime takes its time from one
/// ([`RuntimeBuilder::clock`](crate::runtime::RuntimeBuilder::clock)); the default is the system's.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Now.
    fn now(&self) -> SystemTime;
}

/// The system's clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that moves only when told to, for tests: clones share one time.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use pathsec::runtime::{Clock, ManualClock};
///
/// let clock = ManualClock::new(SystemTime::UNIX_EPOCH);
/// clock.advance(Duration::from_secs(30));
/// assert_eq!(clock.now(), SystemTime::UNIX_EPOCH + Duration::from_secs(30));
/// ```
#[derive(Clone, Debug)]
pub struct ManualClock {
    now: Arc<Mutex<SystemTime>>,
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: SystemTime) -> ManualClock {
        ManualClock { now: Arc::new(Mutex::new(start)) }
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut now = self.lock();
        *now += by;
    }

    /// Sets the clock to `to` (which may be earlier: wall clocks step back too).
    pub fn set(&self, to: SystemTime) {
        *self.lock() = to;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SystemTime> {
        // A `SystemTime` is whole after every assignment: a panic cannot leave it half-made.
        self.now.locked()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.lock()
    }
}
