//! A running server's (or device's) engine: the active policy (swapped after a self-check), the live
//! facts (lists, taken from signed bundles or edited, and every device's attach, link and registration
//! facts), both sides of the registration exchange, data sessions, workers that decide per packet with
//! a flow cache, metrics, the decision log, a watched policy directory and the clock. Uses the
//! vocabulary, the facts, `wasm`, `exchange` and `delivery`; never `related` (related decisions reach
//! it through `Worker::related`) or the cases.

pub(crate) mod cache;
pub(crate) mod clock;
pub(crate) mod device;
pub(crate) mod exchange;
pub(crate) mod fact_store;
pub(crate) mod feed;
pub(crate) mod flow;
pub(crate) mod instances;
pub(crate) mod live;
pub(crate) mod log;
pub(crate) mod metrics;
pub(crate) mod names;
#[cfg(feature = "prometheus")]
pub mod prometheus;
pub(crate) mod registration;
pub(crate) mod rollout;
pub(crate) mod session;
pub(crate) mod settings;
pub(crate) mod watch;
pub(crate) mod worker;

pub use cache::CacheStats;
pub use clock::{Clock, ManualClock, SystemClock};
pub use device::DeviceId;
pub use exchange::{IndicationError, RegistrationError, ReportError};
pub use fact_store::{TooManyDevicesError, UnknownDeviceError};
pub use feed::{FedAgreement, FedFacts, FedUpdate};
pub use flow::Flow;
pub use live::{Runtime, RuntimeBuilder, SwapError};
pub use log::{DecisionLog, LOG_FORMAT_VERSION, LogError, LogStats};
pub use metrics::{Disagreement, FaultCounts, Metrics, OutcomeCount, ShadowMetrics};
pub use registration::{
    Carried, DeviceConfig, ReRegistration, ReRegistrationCause, RegistrationConfig, RegistrationState,
};
pub use rollout::{Canary, CanaryPlan, Percent, Rollout, RolloutError, RolloutPlan, Selection, Shadow, ShadowPlan};
pub use session::{SessionError, SessionId, SessionStats};
pub use settings::{DeviceSettings, RegistrationSettings, RoamingSettings, SettingsFile};
pub use watch::{DirectoryEvent, PolicyDirectory, ROLLOUT_FILE, WatchError, Watcher};
pub use worker::Worker;
