//! The related decisions' requests as written: in case files (`[[trigger-case]] trigger = {…}`) and
//! in the service's JSON (`POST /v1/related/trigger`). One schema for both; kebab-case field names,
//! unknown fields refused. A server a request names is given to the caller to resolve (a case file
//! interns it, a service looks it up).

use serde::{Deserialize, Serialize};

use crate::related::admission::{MAX_NAME, valid_name};
use crate::related::{
    AccessRequest, AdmissionRequest, AvailableKey, BootstrapMethod, CallParties, ExternalId, LocationUpdate,
    MediaRequest, NameRequest, PushProtection, Trigger, TriggerSubmission, Voucher, Window,
};
use crate::vocab::{AccessKind, Fqdn, PlmnId, ServerId};

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

/// A device attaching (attach admission).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AdmissionFile {
    /// The server: the one the device named at attach, or the subscription's.
    pub server: Fqdn,
    /// The device's external identifier, `local@domain`.
    pub external_id: String,
    /// The subscription's "attachment block enabled" flag is set.
    #[serde(default)]
    pub attachment_block_enabled: bool,
    /// The device named the server at attach.
    #[serde(default)]
    pub server_named: bool,
    /// The subscription permits the device to register with the server (default true).
    #[serde(default = "yes")]
    pub server_permitted: bool,
    /// The name the device proposed, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposed_name: Option<String>,
}

fn yes() -> bool {
    true
}

impl AdmissionFile {
    /// The request, with `server` the server this file names. `Err` names the field and what is wrong.
    pub fn request(&self, server: ServerId) -> Result<AdmissionRequest, (&'static str, String)> {
        let external_id = ExternalId::parse(&self.external_id).map_err(|e| ("external-id", e.to_string()))?;
        if let Some(name) = &self.proposed_name
            && !valid_name(name)
        {
            let why =
                format!("`{name}` is not a device name: write 1 to {MAX_NAME} printable ASCII characters, no spaces");
            return Err(("proposed-name", why));
        }
        Ok(AdmissionRequest {
            server,
            external_id,
            attachment_block_enabled: self.attachment_block_enabled,
            server_named: self.server_named,
            server_permitted: self.server_permitted,
            proposed_name: self.proposed_name.clone(),
        })
    }
}

/// A server's trigger submission with its counts written out (a case file's: a runtime counts them
/// itself).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SubmissionFile {
    /// The server.
    pub server: Fqdn,
    /// Its submissions accepted in the quota period.
    #[serde(default)]
    pub accepted_this_period: u32,
    /// The quota; absent: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<u32>,
    /// Seconds until the period starts again.
    #[serde(default)]
    pub period_resets_in: u32,
    /// Its submissions in the rate window, this one included (at least 1).
    pub submitted_in_window: u32,
    /// The rate limit; absent: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<u32>,
    /// The rate window in seconds (default 60).
    #[serde(default = "minute")]
    pub rate_window_seconds: u32,
}

fn minute() -> u32 {
    60
}

impl SubmissionFile {
    /// The submission, with `server` the server this file names. `Err` names the field and what is
    /// wrong.
    pub fn request(&self, server: ServerId) -> Result<TriggerSubmission, (&'static str, String)> {
        if self.submitted_in_window == 0 {
            return Err(("submitted-in-window", "counts this submission too: at least 1".to_owned()));
        }
        if !(1..=3_600).contains(&self.rate_window_seconds) {
            return Err(("rate-window-seconds", "must be 1 to 3,600".to_owned()));
        }
        Ok(TriggerSubmission {
            server,
            accepted_this_period: self.accepted_this_period,
            quota: self.quota,
            period_resets_in: self.period_resets_in,
            submitted_in_window: self.submitted_in_window,
            rate_limit: self.rate_limit,
            rate_window_seconds: self.rate_window_seconds,
        })
    }
}

/// An access to trust (access trust).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct AccessFile {
    /// The network the access connects to (its List 1 entry says which access kinds it vouches for);
    /// leave out while unknown (nothing is vouched for).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serving: Option<PlmnId>,
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
            serving: self.serving,
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
    /// That association belongs to the home address being updated.
    pub covers_home_address: bool,
}

impl LocationFile {
    /// The update.
    pub fn request(&self) -> LocationUpdate {
        LocationUpdate {
            security_association: self.security_association,
            covers_home_address: self.covers_home_address,
        }
    }
}

/// A name request (binding update).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NameFile {
    /// The name asked for, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<Fqdn>,
    /// The operator's domain.
    pub operator_domain: Fqdn,
    /// No other subscriber holds the name asked (false without one).
    #[serde(default)]
    pub name_free: bool,
    /// Who asks.
    pub requester: String,
    /// The request came over a security association.
    pub security_association: bool,
    /// The subscriber's telephone number, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscriber_number: Option<String>,
    /// The subscriber's name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscriber_name: Option<String>,
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
            subscriber_number: self.subscriber_number.clone(),
            subscriber_name: self.subscriber_name.clone(),
        }
    }
}
