//! pathsec decides, for every packet or message between a device and a server, whether the whole
//! network path is already protected at the network layer or whether application-layer security must
//! be used. The decision logic is an operator's WebAssembly component implementing the WIT world
//! `pathsec:policy/path-secure`; the host runs it sandboxed, under deadlines and memory caps, and fails
//! closed whenever a fact is unknown or the policy fails.
//!
//! Three phases, three types: an [`Engine`] compiles a [`Policy`] (checked and pre-instantiated), and
//! each thread decides through its own [`Decider`] against an immutable [`FactSet`].
//!
//! A running server uses a [`Runtime`]: the active policy (swapped atomically after a self-check), the
//! live facts (lists and every device's attach and link state, updated while it decides), and one
//! [`Worker`] per thread that caches decisions per [`Flow`] until a fact they used changes. Policies
//! can come from a watched [`PolicyDirectory`], with compiled code kept in an [`ArtifactCache`].
//!
//! ```
//! # #[cfg(feature = "bundled-policies")] {
//! use pathsec::{AccessKind, Action, Attach, Engine, Event, FactSet, LinkState, PlmnId, Registration, Request, Role};
//!
//! let engine = Engine::new()?;
//! let policy = engine.load_policy("reference", pathsec::bundled::REFERENCE)?;
//!
//! let home: PlmnId = "310410".parse()?;
//! let mut facts = FactSet::builder();
//! let server = facts.server("mtc.example.com".parse()?);
//! facts.trust_path_a(home).trust_path_b(home, server);
//! let facts = facts.build();
//!
//! let mut decider = policy.decider();
//! let request = Request {
//!     role: Role::Server,
//!     event: Event::SendData,
//!     server,
//!     attach: Attach { serving: Some(home), home, access: AccessKind::ThreeGpp },
//!     link: LinkState { ciphering: true, integrity: true },
//!     registration: Registration::None,
//! };
//! assert_eq!(decider.decide(&facts, &request).action, Action::SendPlain);
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
// One function may use `unsafe`: loading precompiled artifacts (`artifacts.rs`, with its reasoning).
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod access;
mod admission;
mod artifacts;
mod binding;
mod bindings;
#[cfg(feature = "bundled-policies")]
pub mod bundled;
mod cache;
mod casefile;
mod decider;
mod decision;
mod device;
mod digest;
mod engine;
mod error;
mod factfile;
mod facts;
mod fqdn;
mod limits;
mod log;
mod media;
mod metrics;
mod named;
mod packed;
mod plmn;
mod policy;
mod request;
mod runtime;
mod sandbox;
mod selfcheck;
mod signing;
mod store;
mod trigger;
mod watch;
mod worker;

pub use access::{AccessReason, AccessRequest, AccessVerdict, AvailableKey, Bootstrap, BootstrapMethod};
pub use admission::{Admission, AdmissionRequest, AdmissionVerdict, FAIL_CLOSED_BACK_OFF, RejectCause};
pub use artifacts::{ArtifactCache, Origin};
pub use binding::{
    LocationOutcome, LocationReason, LocationUpdate, LocationVerdict, NameOutcome, NameRefusal, NameRequest,
    NameVerdict,
};
pub use cache::{CacheStats, Flow};
pub use casefile::{Ask, CaseFile, RelatedCase, TestCase, Want};
pub use decider::Decider;
pub use decision::{Action, Decision, PolicyFault, Reason};
pub use device::{DeviceId, RegistrationReport};
pub use engine::{Engine, EngineBuilder, PolicyFile};
pub use error::{
    ArtifactCacheError, EngineError, FileError, FqdnError, LoadError, NameError, PlmnIdError, SignatureError,
    SwapError, TooManyDevicesError, UnknownDeviceError, WatchError,
};
pub use factfile::{DeviceFile, FactsFile, ListsFile, PathBFile, RequestFile};
pub use facts::{AccessKind, Attach, FactSet, FactSetBuilder, LinkState, ServerId};
pub use fqdn::Fqdn;
pub use limits::{LimitHits, Limits};
pub use log::{DecisionLog, LogError, LogStats};
pub use media::{CallParties, MediaProtection, MediaReason, MediaRequest, MediaVerdict, Voucher};
pub use metrics::{FaultCounts, Metrics};
pub use plmn::PlmnId;
pub use policy::Policy;
pub use request::{AccessIntegrity, EndToEnd, Event, EventKind, Registration, Request, Role, TriggerCheck};
pub use runtime::{Runtime, RuntimeBuilder};
pub use signing::{
    PolicySignature, PublicKey, SIGNATURE_SUFFIX, SecretKey, TrustedKeys, read_signature_beside, signature_path,
};
pub use trigger::{PushProtection, Trigger, TriggerOutcome, TriggerReason, TriggerVerdict, Window};
pub use watch::{DirectoryEvent, PolicyDirectory, Watcher};
pub use worker::Worker;

/// The engine's handles are shared across threads; a decider moves between them.
const _: () = {
    const fn shared<T: Send + Sync + Clone>() {}
    const fn movable<T: Send>() {}
    shared::<Engine>();
    shared::<Policy>();
    shared::<Decision>();
    shared::<Runtime>();
    movable::<Decider>();
    movable::<Worker>();
    movable::<FactSet>();
};
