//! What drives a running engine from outside: a watched policy directory with its rollout file
//! (`watch`), a fact feed's updates (`feed`), both sides of the registration exchange as runtime
//! operations (`registering`; the messages themselves are the `exchange` wing), and the Prometheus
//! collector (`prometheus`). Each is an `impl` of the runtime's public operations or a thin layer on
//! them.

pub(crate) mod feed;
#[cfg(feature = "prometheus")]
pub mod prometheus;
pub(crate) mod registering;
pub(crate) mod watch;
