//! What the buckets' values hold.

use pathsec::runtime::{CanaryPlan, FedAgreement, FedFacts, RolloutPlan, ShadowPlan};
use pathsec::{AccessKind, Attach, LinkState, PlmnId, Registration};
use serde::{Deserialize, Serialize};

/// A device's facts in the device-facts bucket, as JSON:
/// `{"home":{"mcc":"310","mnc":"410"},"serving":"310410","access":"3gpp","ciphering":true,"integrity":true}`
/// (PLMN-IDs as TS 29.571 objects or packed strings; `serving`, `ciphering` and `integrity` absent
/// while unknown).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct DeviceValue {
    /// Its home network.
    pub home: PlmnId,
    /// Its serving network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serving: Option<PlmnId>,
    /// How it is attached.
    #[serde(default = "three_gpp")]
    pub access: AccessKind,
    /// Access-layer ciphering.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ciphering: Option<bool>,
    /// Access-layer integrity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integrity: Option<bool>,
}

fn three_gpp() -> AccessKind {
    AccessKind::ThreeGpp
}

impl DeviceValue {
    /// A device attached as `attach` with access security `link`.
    pub fn new(attach: Attach, link: Option<LinkState>) -> DeviceValue {
        DeviceValue {
            home: attach.home,
            serving: attach.serving,
            access: attach.access,
            ciphering: link.map(|link| link.ciphering),
            integrity: link.map(|link| link.integrity),
        }
    }

    /// The value of fed facts; `None` when their attach facts are unknown (a deleted device).
    pub fn from_facts(facts: &FedFacts) -> Option<DeviceValue> {
        Some(DeviceValue::new(facts.attach?, facts.link))
    }

    /// The facts a runtime takes.
    pub fn facts(&self) -> FedFacts {
        let link = match (self.ciphering, self.integrity) {
            (Some(ciphering), Some(integrity)) => Some(LinkState { ciphering, integrity }),
            _ => None,
        };
        FedFacts { attach: Some(Attach { serving: self.serving, home: self.home, access: self.access }), link }
    }

    /// The value's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// What a node group should run, in the desired-state bucket: OCI references by digest. Beside the
/// active `policy`, a `canary` (a candidate policy for a fraction of the devices, by the SHA-256 of
/// their names, and/or a ring of `rings`) and a `shadow` (a policy deciding beside the active one, only
/// counted), as a policy directory's `rollout.toml` has them ([`RolloutPlan`]): promote by making the
/// candidate `policy` and dropping `canary`; roll back by dropping `canary`. As JSON:
/// `{"policy":"reg/pathsec/reference@sha256:…","lists":"reg/pathsec/lists@sha256:…",
/// "canary":{"policy":"reg/pathsec/next@sha256:…","percent":10}}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct DesiredState {
    /// The policy: `registry/repository@sha256:…`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// The list bundle: `registry/repository@sha256:…`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lists: Option<String>,
    /// A canary of a candidate policy (by reference), if one runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<CanaryPlan>,
    /// A shadow policy (by reference), if one runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shadow: Option<ShadowPlan>,
    /// Named rings of devices a canary may select.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub rings: std::collections::BTreeMap<String, Vec<String>>,
}

impl DesiredState {
    /// The rollout plan it names: `None` without a `policy` (a canary or shadow needs one).
    pub fn plan(&self) -> Option<RolloutPlan> {
        Some(RolloutPlan {
            active: self.policy.clone()?,
            canary: self.canary.clone(),
            shadow: self.shadow.clone(),
            rings: self.rings.clone(),
        })
    }
}

/// A registration outcome in the device-facts bucket, under `<shard>.<device>.<server FQDN>`, written
/// by the server that made it: the outcome, the facts it was made on, and when it ends. As JSON:
/// `{"registration":{"agreed":{"source":"device-report","application-security":false}},"home":"310410",
/// "serving":"310410","access":"3gpp","ciphering":true,"integrity":true,"expires":1800003600}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AgreementValue {
    /// The outcome: `{"agreed": {…}}` or `"mismatch"`.
    pub registration: Registration,
    /// The home network it was made on.
    pub home: PlmnId,
    /// The serving network it was made on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serving: Option<PlmnId>,
    /// The access it was made on.
    #[serde(default = "three_gpp")]
    pub access: AccessKind,
    /// Access-layer ciphering when it was made.
    pub ciphering: bool,
    /// Access-layer integrity when it was made.
    pub integrity: bool,
    /// When it ends, in seconds since the Unix epoch.
    pub expires: u64,
}

impl AgreementValue {
    /// The value of an outcome.
    pub fn new(agreement: &FedAgreement) -> AgreementValue {
        AgreementValue {
            registration: agreement.registration,
            home: agreement.attach.home,
            serving: agreement.attach.serving,
            access: agreement.attach.access,
            ciphering: agreement.link.ciphering,
            integrity: agreement.link.integrity,
            expires: agreement.expires,
        }
    }

    /// The outcome a runtime takes.
    pub fn agreement(&self) -> FedAgreement {
        FedAgreement {
            registration: self.registration,
            attach: Attach { serving: self.serving, home: self.home, access: self.access },
            link: LinkState { ciphering: self.ciphering, integrity: self.integrity },
            expires: self.expires,
        }
    }
}
