//! A request: who asks, about what event, on which path — the device's attach and link-state facts
//! and the server at the other end.

use super::named::named_enum;
use super::plmn::PlmnId;

named_enum! {
    /// Which node asks.
    pub enum Role as "a role" {
        /// The second node: an MTC server or application, attached to the device's home network.
        Server = "server",
        /// The first node: the device (UE).
        Device = "device",
    }
}

named_enum! {
    /// The outcome of a received trigger's access-layer integrity check.
    pub enum AccessIntegrity as "an access-layer integrity result" {
        /// Verified.
        Verified = "verified",
        /// The trigger had no access-layer integrity protection.
        Absent = "absent",
        /// Checked, and the check failed.
        Failed = "failed",
    }
}

named_enum! {
    /// The outcome of checking a received trigger's end-to-end protection.
    pub enum EndToEnd as "an end-to-end protection result" {
        /// Present and verified.
        Valid = "valid",
        /// Not present.
        Absent = "absent",
        /// Present and not verified.
        Invalid = "invalid",
    }
}

/// What is known about a received trigger.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TriggerCheck {
    /// The access-layer integrity check result.
    pub access_integrity: AccessIntegrity,
    /// The end-to-end protection check result.
    pub end_to_end: EndToEnd,
}

named_enum! {
    /// The kind of an [`Event`], without its details.
    #[non_exhaustive]
    pub enum EventKind as "an event" {
        /// [`Event::SendData`].
        SendData = "send-data",
        /// [`Event::ReceiveUnprotected`].
        ReceiveUnprotected = "receive-unprotected",
        /// [`Event::ReceiveProtected`].
        ReceiveProtected = "receive-protected",
        /// [`Event::ReceiveTrigger`].
        ReceiveTrigger = "receive-trigger",
        /// [`Event::SendTrigger`].
        SendTrigger = "send-trigger",
    }
}

/// The event the asking node handles.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Event {
    /// Prepared data is about to be sent.
    SendData,
    /// Data without application-layer security was received.
    ReceiveUnprotected,
    /// Data carrying application-layer security was received.
    ReceiveProtected,
    /// A trigger was received (by a device).
    ReceiveTrigger(TriggerCheck),
    /// A trigger is about to be sent (by a server).
    SendTrigger,
}

impl Event {
    /// The event's kind.
    pub fn kind(self) -> EventKind {
        match self {
            Event::SendData => EventKind::SendData,
            Event::ReceiveUnprotected => EventKind::ReceiveUnprotected,
            Event::ReceiveProtected => EventKind::ReceiveProtected,
            Event::ReceiveTrigger(_) => EventKind::ReceiveTrigger,
            Event::SendTrigger => EventKind::SendTrigger,
        }
    }
}

named_enum! {
    /// Where a registration agreement's path-A facts came from (000, FIG. 7 step 5).
    pub enum RegistrationSource as "a registration source" {
        /// The server checked the device's report against the network's view, and they agreed.
        NetworkView = "network-view",
        /// The server had no network view and took the device's report as the information.
        DeviceReport = "device-report",
        /// This is the device, following the server's indication (000, FIG. 7 step 8b; claim 2).
        ServerIndication = "server-indication",
    }
}

/// A registration agreement that stands: what both nodes stored at the device's last (re-)registration
/// with a server (000, FIG. 7 steps 8a and 8b).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Agreement {
    /// Where its facts came from.
    pub source: RegistrationSource,
    /// The server decided that application-layer security is needed from now on.
    pub application_security: bool,
    /// Device role only: the device accepts "no application-layer security" from this server even while
    /// its access-layer ciphering is off (000, FIG. 7 step 7: a server that needs no end-to-end security).
    #[serde(default)]
    pub accept_plain_unciphered: bool,
}

/// The registration state between a device and a server, as a decision sees it. The runtime holds it:
/// an agreement is voided when a fact it rests on changes, and while a re-registration is due decisions
/// fail closed without asking the policy.
///
/// In files: `registration = "none"`, `"mismatch"`, or
/// `registration = { agreed = { source = "device-report", application-security = false } }`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
#[non_exhaustive]
pub enum Registration {
    /// No registration that stands: decide from the lists (the configuration-based form).
    #[default]
    None,
    /// An agreement stands: follow it (the protocol-based form).
    Agreed(Agreement),
    /// The device's report did not match the network's view, or was refused: the path is not trusted.
    Mismatch,
}

impl Registration {
    /// The case's name: `none`, `agreed` or `mismatch`.
    pub fn name(self) -> &'static str {
        match self {
            Registration::None => "none",
            Registration::Agreed(_) => "agreed",
            Registration::Mismatch => "mismatch",
        }
    }
}

/// One decision to make: the asking node's role and event, the server on the path, the device's attach
/// and link-state facts, and the registration agreement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Request {
    /// Which node asks.
    pub role: Role,
    /// What it handles.
    pub event: Event,
    /// The server at the other end of the path (or the asking server itself).
    pub server: ServerId,
    /// The device's attach facts.
    pub attach: Attach,
    /// The device's link-state facts, as the asking node knows them: the device always knows its own; a
    /// server knows them when the network told it. `None` while unknown: a server then takes List 1 as
    /// its statement that path A is protected (000, FIG. 12 step 6, FIG. 13 step 3); a device fails
    /// closed.
    pub link: Option<LinkState>,
    /// The registration agreement between the device and this server.
    pub registration: Registration,
}

/// A handle for a server, interned by a [`FactSet`](crate::FactSet). Requests name servers by handle so no string
/// crosses into the policy per decision. Handles stay the same across [`FactSet::to_builder`](crate::FactSet::to_builder).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServerId(u32);

impl ServerId {
    /// The handle numbered `index` (a [`FactSet`](crate::FactSet) issues them in order).
    pub(crate) fn new(index: u32) -> ServerId {
        ServerId(index)
    }

    /// The raw handle, as the policy sees it.
    pub fn get(self) -> u32 {
        self.0
    }

    /// The handle whose raw number is `raw` (what [`ServerId::get`] gave; for tables indexed by
    /// handle). A number the lists never issued names no server: decisions on it find no List 2 entry.
    pub fn from_raw(raw: u32) -> ServerId {
        ServerId(raw)
    }
}

named_enum! {
    /// How the device reaches its serving network.
    #[non_exhaustive]
    pub enum AccessKind as "an access kind" {
        /// 3GPP radio access.
        ThreeGpp = "3gpp",
        /// Trusted non-3GPP access.
        TrustedNon3gpp = "trusted-non-3gpp",
        /// Untrusted non-3GPP access, through an IPsec tunnel to the core.
        UntrustedNon3gpp = "untrusted-non-3gpp",
        /// Wireline access.
        Wireline = "wireline",
    }
}

/// The attach facts of a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Attach {
    /// The serving network, or `None` when unknown (which is never secure).
    pub serving: Option<PlmnId>,
    /// The device's home network; the server attaches to it.
    pub home: PlmnId,
    /// How the device is attached.
    pub access: AccessKind,
}

impl Attach {
    /// The device is roaming: its serving network is known and is not its home network.
    pub fn is_roaming(&self) -> bool {
        self.serving.is_some_and(|serving| serving != self.home)
    }
}

/// The link-state facts of a device: which access-layer protection is on right now. Either protects path
/// A ("encryption and/or integrity", 000); a List 1 entry may ask for integrity as well.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LinkState {
    /// Access-layer ciphering is on.
    pub ciphering: bool,
    /// Access-layer integrity protection is on.
    pub integrity: bool,
}

impl LinkState {
    /// Both off.
    pub const OFF: LinkState = LinkState { ciphering: false, integrity: false };
    /// Both on.
    pub const ON: LinkState = LinkState { ciphering: true, integrity: true };
}
