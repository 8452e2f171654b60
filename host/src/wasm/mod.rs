//! The WebAssembly side: admitting and compiling a policy ([`Engine`], [`Policy`], [`signing`], the
//! [`ArtifactCache`]), the sandbox and [`Limits`] it runs under, the WIT bindings, and deciding through
//! one instance ([`Decider`]). It knows `decide`; the related decisions plug into it through one trait,
//! and it names none of them. Uses the vocabulary and the facts; never the runtime.

pub(crate) mod artifact;
pub(crate) mod artifacts;
pub(crate) mod contract;
pub(crate) mod decider;
pub(crate) mod digest;
pub(crate) mod engine;
pub(crate) mod limits;
pub(crate) mod packed;
pub(crate) mod plug;
pub(crate) mod policy;
pub(crate) mod sandbox;
pub(crate) mod selfcheck;
pub mod signing;
pub(crate) mod wit;

pub use artifact::{ArtifactHeader, is_artifact, read_header};
pub use artifacts::{ArtifactCache, ArtifactCacheError, Origin};
pub use decider::Decider;
pub use engine::{Engine, EngineBuilder, EngineError, HOST_TARGET, LoadError, PULLEY64, PolicyFile};
pub use limits::{LimitError, LimitHits, Limits};
pub use policy::Policy;
