//! A running server's (or device's) engine, as embedders use it: the active policy (swapped after a
//! self-check), the live facts (lists, taken from signed bundles or edited, and every device's attach,
//! link and registration facts), both sides of the registration exchange, data sessions, workers that
//! decide per packet with a flow cache, metrics, the decision log, a watched policy directory and the
//! clock.
//!
//! This module only gathers the public names; the code lives in the wings that make a running engine,
//! from the bottom up: `store` (the facts it keeps: devices, names, registration outcomes, settings,
//! the clock), `rollout` (what it runs: the policy, a canary, a shadow), `telemetry` (metrics and the
//! decision log), `deciding` (the runtime, its workers, the flow cache, policy instances, sessions) and
//! `drivers` (what drives it from outside: the policy directory, a fact feed, the registration
//! exchange, the Prometheus collector). See `docs/architecture.md`.

pub use crate::deciding::cache::CacheStats;
pub use crate::deciding::live::{Runtime, RuntimeBuilder, SwapError};
pub use crate::deciding::session::{SessionError, SessionId, SessionStats};
pub use crate::deciding::worker::Worker;
pub use crate::drivers::feed::{FedAgreement, FedFacts, FedUpdate};
#[cfg(feature = "prometheus")]
pub use crate::drivers::prometheus;
pub use crate::drivers::registering::{IndicationError, RegistrationError, ReportError};
pub use crate::drivers::watch::{DirectoryEvent, PolicyDirectory, ROLLOUT_FILE, WatchError, Watcher};
pub use crate::rollout::{
    Canary, CanaryPlan, Percent, Rollout, RolloutError, RolloutPlan, Selection, Shadow, ShadowPlan,
};
pub use crate::store::clock::{Clock, ManualClock, SystemClock};
pub use crate::store::device::DeviceId;
pub use crate::store::fact_store::{TooManyDevicesError, UnknownDeviceError};
pub use crate::store::flow::Flow;
pub use crate::store::held::{ReRegistrationCause, RegistrationState};
pub use crate::store::registration::{Carried, DeviceConfig, ReRegistration, RegistrationConfig};
pub use crate::store::settings::{DeviceSettings, RegistrationSettings, RoamingSettings, SettingsFile};
pub use crate::telemetry::log::{DecisionLog, LOG_FORMAT_VERSION, LogError, LogStats};
pub use crate::telemetry::metrics::{Disagreement, FaultCounts, Metrics, OutcomeCount, ShadowMetrics};
