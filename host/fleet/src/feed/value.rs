//! What the buckets' values hold.

use pathsec::runtime::FedFacts;
use pathsec::{AccessKind, Attach, LinkState, PlmnId};
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

/// What a node group should run, in the desired-state bucket: OCI references by digest.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct DesiredState {
    /// The policy: `registry/repository@sha256:…`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// The list bundle: `registry/repository@sha256:…`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lists: Option<String>,
}
