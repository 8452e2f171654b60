//! Device facts and desired state from NATS JetStream key-value buckets.
//!
//! Two buckets (see the README for who writes which keys):
//!
//! - **device facts** (default `pathsec-devices`): one key per device, `<shard>.<device>`, its value
//!   the device's attach facts and access security ([`DeviceValue`]); and one key per registration
//!   outcome, `<shard>.<device>.<server FQDN>`, written by the server that made it ([`AgreementValue`]). A gateway follows only its
//!   shards, one consumer per shard (one subject filter each, as NATS 2.9 allows).
//! - **desired state** (default `pathsec-desired`): one key per node group, its value the policy and
//!   list bundle the group should run, each an OCI reference by digest ([`DesiredState`]).
//! - **back-offs** (default `pathsec-back-offs`): the attach back-offs servers gave devices, one key per
//!   device and server, shared by every gateway's [`BackOffShare`] so none can be evaded.
//!
//! A [`Follower`] applies a snapshot of its shards (the last value of every key), then every update in
//! order; the bucket's revision (the stream sequence) is the device-facts generation, written with
//! each device's facts ([`pathsec::Runtime::apply_fed`]) and named in the decision log. It keeps a
//! local snapshot, so a restart resumes from the last revision it applied — or re-snapshots when that
//! is missing or older than the bucket keeps delete markers. A lost connection is retried with
//! back-off and the shards resumed; when the feed has been out of reach longer than `max_staleness`,
//! decisions on fed facts fail closed (reason `facts-stale`) until it is back.

mod back_offs;
mod connect;
mod desired;
mod error;
mod follower;
mod keys;
mod publisher;
mod snapshot;
mod value;

pub use back_offs::{BACK_OFF_BUCKET, BackOffShare};
pub use connect::{NatsCredentials, NatsSettings};
pub use desired::{Rollout, RolloutStatus};
pub use error::FeedError;
pub use follower::{FeedSettings, FeedStatus, Follower, OnStale};
pub use keys::{DESIRED_BUCKET, DEVICE_BUCKET, agreement_key, check_token, device_key};
pub use publisher::Publisher;
pub use value::{AgreementValue, DesiredState, DeviceValue};
