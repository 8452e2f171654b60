//! What can go wrong between a node and a registry. Every error names the reference and says what to
//! check; none changes what a node runs.

use std::path::PathBuf;

/// An OCI push, pull or install that did not happen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OciError {
    /// The reference does not parse.
    #[error("`{reference}` is not an OCI reference: {reason} (e.g. `registry.example.net:5000/pathsec/policy:1.2`)")]
    Reference {
        /// The reference as given.
        reference: String,
        /// Why.
        reason: String,
    },
    /// A node pulls by digest only.
    #[error(
        "`{reference}` names no digest: nodes pull by digest only, so what runs is exactly what was pushed; use `{reference}@sha256:…` (`pathsec push` prints it)"
    )]
    NoDigest {
        /// The reference.
        reference: String,
    },
    /// The registry could not be reached or refused the request.
    #[error(
        "registry for `{reference}`: {operation} failed: {reason}; check the registry is up, the reference and the credentials"
    )]
    Registry {
        /// The reference.
        reference: String,
        /// What was asked.
        operation: &'static str,
        /// What the registry or the network said.
        reason: String,
    },
    /// Content whose hash is not the digest it was asked for: tampered with, or corrupt.
    #[error(
        "`{reference}`: {what} has digest {actual}, not the {expected} asked for; it was refused (tampered with or corrupt in the registry or on the way)"
    )]
    DigestMismatch {
        /// The reference.
        reference: String,
        /// The manifest or the layer.
        what: &'static str,
        /// The digest asked for.
        expected: String,
        /// The digest of what came.
        actual: String,
    },
    /// The manifest is not one of pathsec's artifacts.
    #[error("`{reference}` is not a pathsec artifact: {reason}")]
    NotAnArtifact {
        /// The reference.
        reference: String,
        /// Why.
        reason: String,
    },
    /// The artifact is of the other kind.
    #[error("`{reference}` holds {found}, where {expected} was asked for")]
    WrongKind {
        /// The reference.
        reference: String,
        /// What it holds.
        found: &'static str,
        /// What was asked for.
        expected: &'static str,
    },
    /// A file to push or the local content store could not be read or written.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why (in the message, so not also the error's source).
        error: std::io::Error,
    },
    /// The policy was pulled but is not accepted: signature, world, limits, self-check.
    #[error("`{reference}` was pulled but not installed: {refusal}; the active policy stays")]
    Policy {
        /// The reference.
        reference: String,
        /// Why (in the message, so not also the error's source).
        refusal: PolicyRefusal,
    },
    /// The list bundle was pulled but refused.
    #[error("`{reference}` was pulled but not applied: {error}")]
    Bundle {
        /// The reference.
        reference: String,
        /// The bundle check that failed (in the message, so not also the error's source).
        error: pathsec::delivery::BundleError,
    },
}

/// Why a pulled policy, or a desired state's rollout of pulled policies, was not installed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyRefusal {
    /// It does not load: its signature, its world, its limits.
    #[error(transparent)]
    Load(#[from] pathsec::wasm::LoadError),
    /// The runtime refused it: its self-check failed.
    #[error(transparent)]
    Swap(#[from] pathsec::runtime::SwapError),
    /// The runtime refused the rollout: a candidate's self-check failed.
    #[error(transparent)]
    Rollout(#[from] pathsec::runtime::RolloutError),
    /// The desired state's plan cannot be run: a bad fraction or ring, or a policy it names was not
    /// pulled.
    #[error("{problem}")]
    Plan {
        /// What is wrong with the plan.
        problem: String,
    },
}
