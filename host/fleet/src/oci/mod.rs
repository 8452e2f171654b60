//! Policies and list bundles in an OCI registry: push, pull by digest, sign in place, and install on a
//! node (verified, precompiled into the artifact cache, swapped in after its self-check).

pub mod artifact;
mod error;
mod install;
mod registry;
mod store;

pub use artifact::ArtifactKind;
pub use error::{OciError, PolicyRefusal};
pub use install::{Installed, Node};
pub use registry::{Credentials, Pulled, Pushed, Registry, RegistrySettings};
pub use store::ContentStore;
