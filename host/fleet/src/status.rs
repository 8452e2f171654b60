//! What the fleet's background tasks share: a status the task publishes and its owner reads or waits on.

use std::time::Duration;

use tokio::sync::watch;

/// The reading end of a task's status.
pub(crate) struct Watched<T> {
    receiver: watch::Receiver<T>,
}

impl<T: Clone> Watched<T> {
    /// A status starting at `initial`, with the sender the task publishes on.
    pub(crate) fn new(initial: T) -> (watch::Sender<T>, Watched<T>) {
        let (sender, receiver) = watch::channel(initial);
        (sender, Watched { receiver })
    }

    /// The status now.
    pub(crate) fn get(&self) -> T {
        self.receiver.borrow().clone()
    }

    /// Waits until `test` holds of the status, or `timeout` passes: `Ok` with the status that passed,
    /// or `Err` with the last one.
    pub(crate) async fn wait_for(&mut self, timeout: Duration, test: impl Fn(&T) -> bool) -> Result<T, T> {
        let waited = tokio::time::timeout(timeout, self.receiver.wait_for(|status| test(status)))
            .await
            .map(|status| status.map(|status| status.clone()));
        match waited {
            Ok(Ok(status)) => Ok(status),
            _ => Err(self.get()),
        }
    }
}
