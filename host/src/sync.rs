//! Locks that outlive a panic. Every lock in the library guards data that is whole between statements,
//! so a panic while one is held leaves nothing half-made: the next user takes the data as it is
//! ([`PoisonError::into_inner`]) instead of every later call failing. Public for the workspace's other
//! packages (the fleet, the service, the C ABI), whose locks follow the same rule: one helper.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// [`Mutex::lock`], taking the data as it is after a panic elsewhere.
pub trait Locked<T: ?Sized> {
    /// The guard.
    fn locked(&self) -> MutexGuard<'_, T>;
}

impl<T: ?Sized> Locked<T> for Mutex<T> {
    #[inline]
    fn locked(&self) -> MutexGuard<'_, T> {
        self.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
