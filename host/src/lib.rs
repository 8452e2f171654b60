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
//! can come from a watched [`runtime::PolicyDirectory`], with compiled code kept in a
//! [`wasm::ArtifactCache`].
//!
//! The crate root holds the embedding story; the rest sits in one namespace per wing:
//!
//! | namespace | what it holds |
//! |---|---|
//! | [`vocab`] | the words every wing shares: identifiers, requests, decisions, policy faults |
//! | [`facts`] | a generation of the lists ([`FactSet`]); [`files`]: facts, request and device files |
//! | [`wasm`] | the engine's settings and limits, policy loading and its errors, the artifact cache; [`signing`] |
//! | [`related`] | the related decisions: trigger guard, attach admission, access trust, media security, binding updates |
//! | [`runtime`] | the live engine's settings, metrics, decision log, policy directory, device handles, rollouts (canary, shadow) |
//! | `cases` (feature `tools`) | policy test-case files, as `pathsec test` runs them |
//! | `review` (feature `tools`) | before a policy ships: decision logs replayed with it, two policies compared over a request space |
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
//!     link: Some(LinkState { ciphering: true, integrity: true }), // None: a server the network did not tell
//!     registration: Registration::None,
//! };
//! assert_eq!(decider.decide(&facts, &request).action, Action::SendPlain);
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
// One function may use `unsafe`: loading precompiled artifacts (`wasm/artifact.rs`, with its reasoning).
#![deny(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "bundled-policies")]
pub use pathsec_bundled as bundled;
#[cfg(feature = "tools")]
pub mod cases;
pub(crate) mod deciding;
pub mod delivery;
pub(crate) mod drivers;
pub mod exchange;
pub mod facts;
pub mod related;
#[cfg(feature = "tools")]
pub mod review;
pub(crate) mod rollout;
pub mod runtime;
pub(crate) mod store;
pub mod sync;
pub(crate) mod telemetry;
pub mod vocab;
pub mod wasm;

pub use facts::files;
pub use wasm::signing;

pub use facts::{AccessKinds, FactSet, FactSetBuilder, PathATerms};
pub use runtime::{DeviceId, Flow, Runtime, Worker};
pub use vocab::{
    AccessKind, Action, Attach, Decision, Event, Fqdn, LinkState, MadeBy, PlmnId, PolicyFault, Reason, Registration,
    Request, Role, ServerId,
};
pub use wasm::{Decider, Engine, Limits, Policy};

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
