//! pathsec across a fleet: what the `pathsec` library leaves to whoever embeds it, done with servers
//! operators already run.
//!
//! | module | what it holds |
//! |---|---|
//! | [`oci`] | policies and list bundles in an OCI registry: push, pull by digest, sign, install on a node |
//! | [`feed`] | device facts and desired state from NATS JetStream key-value buckets, followed by a runtime |
//! | [`device`] | configuration delivery to a device: a list bundle by push or by trigger and pull |
//!
//! Everything here is async (tokio); the `pathsec` library stays synchronous and server-free.

pub mod device;
pub mod feed;
pub mod oci;
mod status;
pub mod tls;
