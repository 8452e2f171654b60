//! What can go wrong with the fact feed.

use std::path::PathBuf;

/// A feed operation that did not happen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FeedError {
    /// The server could not be reached.
    #[error("cannot connect to NATS at {url}: {reason}; check the server is up, the URL and the credentials")]
    Connect {
        /// The server.
        url: String,
        /// Why.
        reason: String,
    },
    /// A JetStream request failed.
    #[error("NATS JetStream: {operation} failed: {reason}")]
    JetStream {
        /// What was asked.
        operation: String,
        /// What the server or client said.
        reason: String,
    },
    /// A shard, group or device name that cannot be a key token.
    #[error(
        "`{name}` cannot be used as a {what} in a key: use letters, digits, `-`, `_` and `=` only (no dots, spaces or wildcards)"
    )]
    Name {
        /// The name.
        name: String,
        /// Shard, group or device.
        what: &'static str,
    },
    /// A value in the bucket that does not read.
    #[error("key `{key}` (revision {revision}): {reason}")]
    Value {
        /// The key.
        key: String,
        /// Its revision.
        revision: u64,
        /// Why.
        reason: String,
    },
    /// The local snapshot could not be read or written.
    #[error("feed snapshot {path}: {reason}")]
    Snapshot {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The runtime holds as many devices as it can.
    #[error(transparent)]
    Devices(#[from] pathsec::runtime::TooManyDevicesError),
}
