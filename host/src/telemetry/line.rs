//! The decision log's line, format 4, defined once: `log` writes it, `review::logged` reads it back
//! (lines of formats 1 to 3 read too: what they lack has a default). Field names are the file format;
//! `docs/guides/service.md` documents them.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::facts::ListsDigest;
use crate::vocab::{
    AccessIntegrity, AccessKind, Action, EndToEnd, EventKind, MadeBy, PlmnId, Reason, Registration, Request, Role,
};

/// One decision. Written with borrowed text; read back owned.
#[derive(Serialize, Deserialize)]
pub(crate) struct Line<'a> {
    /// The format's version ([`LOG_FORMAT_VERSION`](crate::runtime::LOG_FORMAT_VERSION)); 0 before
    /// lines carried it.
    #[serde(default)]
    pub(crate) v: u32,
    /// The entry's id, unique across runs.
    #[serde(default)]
    pub(crate) id: Cow<'a, str>,
    #[serde(default)]
    pub(crate) decided: Cow<'a, str>,
    #[serde(default)]
    pub(crate) logged: Cow<'a, str>,
    /// The embedder's device name, when the log knew it.
    pub(crate) device: Option<Cow<'a, str>>,
    #[serde(default)]
    pub(crate) device_id: u32,
    /// The server's FQDN, when the log knew it.
    pub(crate) server: Option<Cow<'a, str>>,
    #[serde(default)]
    pub(crate) server_id: u32,
    pub(crate) role: Role,
    pub(crate) event: EventKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) trigger: Option<TriggerLine>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) request: Option<RequestLine>,
    #[serde(default)]
    pub(crate) facts: FactsLine,
    #[serde(default)]
    pub(crate) policy: PolicyLine<'a>,
    pub(crate) action: Action,
    pub(crate) reason: Reason,
    #[serde(default)]
    pub(crate) cached: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) fault: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) shadow: Option<ShadowLine<'a>>,
}

/// The facts a decision was made on, in the request files' names.
#[derive(Serialize, Deserialize)]
pub(crate) struct RequestLine {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) serving: Option<PlmnId>,
    pub(crate) home: PlmnId,
    pub(crate) access: AccessKind,
    /// The link state as the policy was given it; absent while the asking node did not know it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) ciphering: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) integrity: Option<bool>,
    pub(crate) registration: Registration,
}

impl RequestLine {
    pub(crate) fn of(request: &Request) -> RequestLine {
        RequestLine {
            serving: request.attach.serving,
            home: request.attach.home,
            access: request.attach.access,
            ciphering: request.link.map(|link| link.ciphering),
            integrity: request.link.map(|link| link.integrity),
            registration: request.registration,
        }
    }
}

/// The shadow's answer where it differed or failed.
#[derive(Serialize, Deserialize)]
pub(crate) struct ShadowLine<'a> {
    pub(crate) name: Option<Cow<'a, str>>,
    pub(crate) sha256: Option<Cow<'a, str>>,
    pub(crate) action: Action,
    pub(crate) reason: Reason,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) fault: Option<String>,
}

/// A received trigger's check results.
#[derive(Serialize, Deserialize)]
pub(crate) struct TriggerLine {
    pub(crate) access_integrity: AccessIntegrity,
    pub(crate) end_to_end: EndToEnd,
}

/// The generations (and digest) of what a decision was made on.
#[derive(Serialize, Deserialize, Default)]
pub(crate) struct FactsLine {
    #[serde(default)]
    pub(crate) lists: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) lists_sha256: Option<ListsDigest>,
    #[serde(default)]
    pub(crate) device: u64,
    /// The fact-feed revision of fed facts.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub(crate) revision: u64,
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

/// The policy that made a decision.
#[derive(Serialize, Deserialize, Default)]
pub(crate) struct PolicyLine<'a> {
    pub(crate) name: Option<Cow<'a, str>>,
    pub(crate) sha256: Option<Cow<'a, str>>,
    #[serde(default)]
    pub(crate) generation: u64,
    #[serde(default)]
    pub(crate) made_by: MadeBy,
}

/// Decisions made but not logged here (the log's queue was full).
#[derive(Serialize, Deserialize)]
pub(crate) struct DroppedLine<'a> {
    #[serde(default)]
    pub(crate) v: u32,
    #[serde(default)]
    pub(crate) logged: Cow<'a, str>,
    pub(crate) dropped: u64,
    #[serde(default)]
    pub(crate) dropped_total: u64,
    #[serde(default)]
    pub(crate) why: Cow<'a, str>,
}
