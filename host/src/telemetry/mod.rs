//! What a running engine tells its operator: counters per outcome, fault, cache and shadow (`metrics`),
//! and the decision log, one JSON line per decision with the lists it ran on (`log`; the line's format,
//! written and read back, is `line`). Uses the store's
//! flows and clock and the rollout's active set; the Prometheus collector that reads both is a driver.

pub(crate) mod line;
pub(crate) mod log;
pub(crate) mod metrics;
