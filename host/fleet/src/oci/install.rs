//! A node taking what a registry holds: a policy pulled by digest, verified (signature, world,
//! limits), precompiled into the artifact cache and swapped in after its self-check; a list bundle
//! pulled by digest, checked (signature, validity, generation) and applied; a rollout plan (active
//! policy, canary, shadow) pulled whole and run. Any failure keeps what the node runs and says why.

use std::sync::Mutex;

use pathsec::delivery::{AcceptedGenerations, BundleKeys, BundleStore};
use pathsec::runtime::RolloutPlan;
use pathsec::sync::Locked;
use pathsec::wasm::{ArtifactCache, Origin};
use pathsec::{Engine, Policy, Runtime};

use crate::oci::{ArtifactKind, ContentStore, OciError, PolicyRefusal, Registry};

/// What an install did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Installed {
    /// The reference installed.
    pub reference: String,
    /// Whether the artifact came from the local store, with no request to the registry.
    pub from_store: bool,
    /// For a policy: whether its machine code came from the artifact cache (no compilation).
    pub precompiled: bool,
    /// For a list bundle: its generation.
    pub generation: Option<u64>,
}

/// A node's way to take artifacts: its registry client, local content store and artifact cache, and
/// for list bundles the keys it trusts and the generations it accepted.
pub struct Node {
    /// The registry client.
    pub registry: Registry,
    /// Pulled manifests and blobs.
    pub store: ContentStore,
    /// Compiled policies.
    pub artifacts: ArtifactCache,
    /// Keys trusted to sign list bundles.
    pub bundle_keys: BundleKeys,
    /// The highest bundle generation accepted per issuer (on disk).
    pub accepted: Mutex<AcceptedGenerations>,
    /// The last bundle accepted, for a restart offline.
    pub bundles: BundleStore,
}

impl Node {
    /// Pulls the policy at `reference` (by digest) and makes it `runtime`'s active policy. On any error
    /// the active policy stays.
    pub async fn install_policy(
        &self,
        engine: &Engine,
        runtime: &Runtime,
        reference: &str,
    ) -> Result<Installed, OciError> {
        let (policy, installed) = self.fetch_policy(engine, reference).await?;
        runtime.swap(policy).map_err(|e| OciError::Policy { reference: reference.to_owned(), refusal: e.into() })?;
        Ok(installed)
    }

    /// Pulls the policy at `reference` (by digest) and loads it (signature checked, compiled or taken
    /// from the artifact cache), without running it.
    pub async fn fetch_policy(&self, engine: &Engine, reference: &str) -> Result<(Policy, Installed), OciError> {
        let pulled = self.registry.pull(reference, &self.store).await?;
        if pulled.kind != ArtifactKind::Policy {
            return Err(OciError::WrongKind {
                reference: reference.to_owned(),
                found: pulled.kind.describe(),
                expected: "a policy",
            });
        }
        let failed = |refusal: PolicyRefusal| OciError::Policy { reference: reference.to_owned(), refusal };
        let name = policy_name(reference);
        let (policy, origin) = self
            .artifacts
            .load_signed_policy(engine, &name, &pulled.bytes, pulled.signature.as_deref())
            .map_err(|e| failed(e.into()))?;
        let installed = Installed {
            reference: reference.to_owned(),
            from_store: pulled.from_store,
            precompiled: origin == Origin::Cached,
            generation: None,
        };
        Ok((policy, installed))
    }

    /// Pulls and loads every policy `plan` names (references by digest), then runs the plan on
    /// `runtime` whole: its active policy, its canary and its shadow (a canary or shadow the plan does
    /// not name ends). On any error — a pull, a load, a self-check, a bad fraction or ring — the
    /// rollout in force stays.
    pub async fn install_rollout(
        &self,
        engine: &Engine,
        runtime: &Runtime,
        plan: &RolloutPlan,
    ) -> Result<(), OciError> {
        let mut policies = std::collections::HashMap::new();
        for (_, reference) in plan.policies() {
            if !policies.contains_key(reference) {
                policies.insert(reference.to_owned(), self.fetch_policy(engine, reference).await?.0);
            }
        }
        let failed = |refusal: PolicyRefusal| OciError::Policy { reference: plan.active.clone(), refusal };
        let rollout = plan
            .rollout("the desired state", |reference| {
                policies.get(reference).cloned().ok_or_else(|| "not pulled".to_owned())
            })
            .map_err(|problem| failed(PolicyRefusal::Plan { problem }))?;
        runtime.set_rollout(rollout).map_err(|e| failed(e.into()))
    }

    /// Pulls the list bundle at `reference` (by digest), checks it and applies it to `runtime`; keeps it
    /// for a restart. On any error the lists in force stay.
    pub async fn install_bundle(&self, runtime: &Runtime, reference: &str) -> Result<Installed, OciError> {
        let pulled = self.registry.pull(reference, &self.store).await?;
        if pulled.kind != ArtifactKind::ListBundle {
            return Err(OciError::WrongKind {
                reference: reference.to_owned(),
                found: pulled.kind.describe(),
                expected: "a list bundle",
            });
        }
        let bundle_error = |source| OciError::Bundle { reference: reference.to_owned(), error: source };
        let mut accepted = self.accepted.locked();
        let (bundle, _) =
            runtime.accept_bundle(reference, &pulled.bytes, &self.bundle_keys, &mut accepted).map_err(bundle_error)?;
        self.bundles.save(&pulled.bytes).map_err(bundle_error)?;
        Ok(Installed {
            reference: reference.to_owned(),
            from_store: pulled.from_store,
            precompiled: false,
            generation: Some(bundle.generation),
        })
    }
}

/// A policy's name from its reference: the repository's last part and the digest's first 12 digits.
fn policy_name(reference: &str) -> String {
    let (repository, digest) = reference.split_once('@').unwrap_or((reference, ""));
    let name = repository.rsplit('/').next().unwrap_or(repository);
    let short = digest.strip_prefix("sha256:").map_or("", |hex| &hex[..hex.len().min(12)]);
    format!("{name}@{short}")
}
