//! The related decisions' requests as written: in case files (`[[trigger-case]] trigger = {…}`) and
//! in the service's JSON (`POST /v1/related/trigger`). One schema for both; kebab-case field names,
//! unknown fields refused. A server a request names is given to the caller to resolve (a case file
//! interns it, a service looks it up).

use serde::{Deserialize, Serialize};

use crate::related::{
    AccessRequest, AdmissionRequest, AvailableKey, BootstrapMethod, CallParties, LocationUpdate, MediaRequest,
    NameRequest, PushProtection, Trigger, Voucher, Window,
};
use crate::vocab::{AccessKind, Fqdn, ServerId};

/// A trigger (the trigger guard).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TriggerFile {
    /// The sending server (the NAF).
    pub naf: Fqdn,
    /// The device is registered with it.
    pub registered: bool,
    /// The GBA push protection, when the trigger carries any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protection: Option<ProtectionFile>,
    /// Its time window, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<WindowFile>,
}

/// A trigger's push protection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ProtectionFile {
    /// The MAC verified.
    pub mac_verified: bool,
    /// It covers the fields that matter.
    pub fields_covered: bool,
    /// Its key has expired.
    pub key_expired: bool,
}

/// A trigger's window, in seconds from now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct WindowFile {
    /// When it opens.
    pub opens_in: i64,
    /// When it closes.
    pub closes_in: i64,
}

impl TriggerFile {
    /// The trigger from `naf`, the server this file's `naf` names. `Err` names the field and what is
    /// wrong.
    pub fn request(&self, naf: ServerId) -> Result<Trigger, (&'static str, String)> {
        let window = match self.window {
            None => None,
            Some(WindowFile { opens_in, closes_in }) => Some(Window::new(opens_in, closes_in).ok_or((
                "window",
                "`closes-in` is before `opens-in`: a window must open before it closes".to_owned(),
            ))?),
        };
        let protection = self.protection.map(|p| PushProtection {
            mac_verified: p.mac_verified,
            fields_covered: p.fields_covered,
            key_expired: p.key_expired,
        });
        Ok(Trigger { naf, registered: self.registered, protection, window })
    }
}

/// A registration to admit (attach admission).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AdmissionFile {
    /// The server the device registers with.
    pub server: Fqdn,
    /// The operator blocks the device's attachment.
    pub attachment_blocked: bool,
    /// The server is permitted to trigger the device.
    pub server_permitted: bool,
    /// Triggers left in the quota, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_quota_left: Option<u32>,
    /// Seconds until the quota resets.
    #[serde(default)]
    pub quota_resets_in: u32,
    /// The trigger rate now.
    #[serde(default)]
    pub trigger_rate: u32,
    /// The trigger rate's limit, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_rate_limit: Option<u32>,
}

impl AdmissionFile {
    /// The request, with `server` the server this file names.
    pub fn request(&self, server: ServerId) -> AdmissionRequest {
        AdmissionRequest {
            server,
            attachment_blocked: self.attachment_blocked,
            server_permitted: self.server_permitted,
            trigger_quota_left: self.trigger_quota_left,
            quota_resets_in: self.quota_resets_in,
            trigger_rate: self.trigger_rate,
            trigger_rate_limit: self.trigger_rate_limit,
        }
    }
}

/// An access to trust (access trust).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AccessFile {
    /// How the device is attached.
    pub access: AccessKind,
    /// The access network's identifier, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_network: Option<String>,
    /// An IPsec tunnel to the core is up.
    #[serde(default)]
    pub tunnel_up: bool,
    /// The keys on hand for bootstrapping.
    #[serde(default)]
    pub keys: Vec<KeyFile>,
}

/// A key on hand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFile {
    /// Its bootstrap method.
    pub method: BootstrapMethod,
    /// It has expired.
    pub expired: bool,
}

impl AccessFile {
    /// The request.
    pub fn request(&self) -> AccessRequest {
        AccessRequest {
            access: self.access,
            access_network: self.access_network.clone(),
            tunnel_up: self.tunnel_up,
            keys: self.keys.iter().map(|key| AvailableKey { method: key.method, expired: key.expired }).collect(),
        }
    }
}

/// A call to secure (media security).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct MediaFile {
    /// The call crosses a circuit-switched leg.
    pub crosses_cs_leg: bool,
    /// It goes through a media gateway.
    pub via_gateway: bool,
    /// The network path is secure (the path decision's answer).
    pub network_path_secure: bool,
    /// The device's party.
    pub device: String,
    /// The other party.
    pub peer: String,
    /// A voucher on offer, for the parties it names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voucher: Option<VoucherFile>,
}

/// A voucher's parties.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoucherFile {
    /// The device's party.
    pub device: String,
    /// The other party.
    pub peer: String,
}

impl MediaFile {
    /// The request; a voucher on offer carries `key`.
    pub fn request(&self, key: &[u8]) -> MediaRequest {
        let voucher = self.voucher.as_ref().map(|v| Voucher {
            parties: CallParties { device: v.device.clone(), peer: v.peer.clone() },
            key: key.to_vec(),
        });
        MediaRequest {
            crosses_cs_leg: self.crosses_cs_leg,
            via_gateway: self.via_gateway,
            network_path_secure: self.network_path_secure,
            call: CallParties { device: self.device.clone(), peer: self.peer.clone() },
            voucher,
        }
    }
}

/// A location update (binding update).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct LocationFile {
    /// It came over a security association.
    pub security_association: bool,
}

impl LocationFile {
    /// The update.
    pub fn request(&self) -> LocationUpdate {
        LocationUpdate { security_association: self.security_association }
    }
}

/// A name request (binding update).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NameFile {
    /// The name asked for.
    pub name: Fqdn,
    /// The operator's domain.
    pub operator_domain: Fqdn,
    /// No one holds the name.
    pub name_free: bool,
    /// Who asks.
    pub requester: String,
    /// The request came over a security association.
    pub security_association: bool,
}

impl NameFile {
    /// The request.
    pub fn request(&self) -> NameRequest {
        NameRequest {
            name: self.name.clone(),
            operator_domain: self.operator_domain.clone(),
            name_free: self.name_free,
            requester: self.requester.clone(),
            security_association: self.security_association,
        }
    }
}
