//! Policy test-case files: facts, requests, and the decision each request must get — what `pathsec
//! test` runs, and what the repository's `tests/cases/` holds. TOML or JSON, one schema:
//!
//! ```toml
//! note = "what the file shows"                 # optional
//! [lists]                                      # the facts: `lists`, `servers`, `devices`, as a facts file
//! path-a = ["310410"]
//! path-b = [{ home = "310410", server = "mtc.example.com" }]
//!
//! [[case]]
//! note = "a meter at home sends without application-layer security"
//! request = { role = "server", event = "send-data", server = "mtc.example.com", home = "310410",
//!             serving = "310410", ciphering = true, integrity = true }
//! want = { action = "send-plain", reason = "path-secure" }
//! ```
//!
//! Trigger-guard cases are `[[trigger-case]]` entries (see [`TriggerCase`]):
//!
//! ```toml
//! [[trigger-case]]
//! note = "a protected trigger from a registered server, inside its window, is acted on"
//! trigger = { naf = "push.mtc.example.com", registered = true, window = { opens-in = -5, closes-in = 60 },
//!             protection = { mac-verified = true, fields-covered = true, key-expired = false } }
//! want = { outcome = "accept", reason = "protected" }
//! ```
//!
//! Attach-admission cases are `[[admission-case]]` entries (see [`AdmissionCase`]):
//!
//! ```toml
//! [[admission-case]]
//! note = "a server out of trigger quota: back off until the quota resets"
//! request = { server = "mtc.example.com", attachment-blocked = false, server-permitted = true,
//!             trigger-quota-left = 0, quota-resets-in = 1800, trigger-rate = 0 }
//! want = { admission = "reject", cause = "quota-exhausted", back-off = 1800 }
//! ```
//!
//! Access-trust cases are `[[access-case]]` entries (see [`AccessCase`]); `bootstrap` is `not-needed`,
//! `none-available` or a method:
//!
//! ```toml
//! [[access-case]]
//! note = "an unlisted non-3GPP access bootstraps with EAP-AKA, its only unexpired key"
//! request = { access = "trusted-non-3gpp", access-network-listed = false,
//!             keys = [{ method = "gba-push", expired = true }, { method = "eap-aka", expired = false }] }
//! want = { trusted = false, reason = "trusted-access-not-listed", bootstrap = "eap-aka" }
//! ```
//!
//! Media-security cases are `[[media-case]]` entries (see [`MediaCase`]); the voucher offered names
//! the parties it was issued for, and `voucher` in `want` is `released` or `none`:
//!
//! ```toml
//! [[media-case]]
//! note = "media across a CS leg: media-layer security, the voucher released to its own call"
//! request = { crosses-cs-leg = true, via-gateway = true, network-path-secure = true,
//!             device = "sip:meter@ims.example.com", peer = "tel:+15550100",
//!             voucher = { device = "sip:meter@ims.example.com", peer = "tel:+15550100" } }
//! want = { protection = "media-layer", reason = "cs-leg", voucher = "released" }
//! ```
//!
//! A file with one case may put `request` and `want` at the top instead of `[[case]]`. A file whose input
//! must be refused says `want_error = "text the error contains"` instead. A case may name the `policy`
//! it is for; a runner skips it for other policies. Every case says what it wants: a file with neither
//! `want` nor `want_error` is refused.

use std::path::Path;

use serde::Deserialize;

use crate::access::{AccessReason, AccessRequest, AccessVerdict, AvailableKey, Bootstrap, BootstrapMethod};
use crate::admission::{Admission, AdmissionRequest, AdmissionVerdict, RejectCause};
use crate::decision::{Action, Decision, Reason};
use crate::error::FileError;
use crate::factfile::{self, DeviceFile, FactsFile, Format, ListsFile, RequestFile};
use crate::facts::AccessKind;
use crate::facts::FactSet;
use crate::fqdn::Fqdn;
use crate::media::{CallParties, MediaProtection, MediaReason, MediaRequest, MediaVerdict, Voucher};
use crate::request::Request;
use crate::trigger::{PushProtection, Trigger, TriggerOutcome, TriggerReason, TriggerVerdict, Window};

/// What a case wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Want {
    /// The action.
    pub action: Action,
    /// The reason.
    pub reason: Reason,
}

/// One case: a request and the decision it must get.
#[derive(Clone, Debug)]
pub struct TestCase {
    /// What the case shows.
    pub note: String,
    /// The policy the case is for, if it names one.
    pub policy: Option<String>,
    /// The request.
    pub request: Request,
    /// What it must get.
    pub want: Want,
}

impl TestCase {
    /// Whether the case is for a policy named `name` (cases that name none are for every policy).
    pub fn applies_to(&self, name: &str) -> bool {
        self.policy.as_deref().is_none_or(|policy| policy == name)
    }

    /// `Ok` when `decision` is what the case wants, else what went wrong.
    pub fn check(&self, decision: &Decision) -> Result<(), String> {
        if let Some(fault) = &decision.fault {
            return Err(format!("the policy failed: {fault}"));
        }
        if (decision.action, decision.reason) == (self.want.action, self.want.reason) {
            Ok(())
        } else {
            Err(format!(
                "want {} ({}), got {} ({})",
                self.want.action, self.want.reason, decision.action, decision.reason
            ))
        }
    }
}

/// What a trigger-guard case wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerWant {
    /// The outcome.
    pub outcome: TriggerOutcome,
    /// The reason.
    pub reason: TriggerReason,
}

/// One trigger-guard case: a trigger and the verdict it must get.
#[derive(Clone, Debug)]
pub struct TriggerCase {
    /// What the case shows.
    pub note: String,
    /// The policy the case is for, if it names one.
    pub policy: Option<String>,
    /// The trigger.
    pub trigger: Trigger,
    /// What it must get.
    pub want: TriggerWant,
}

impl TriggerCase {
    /// Whether the case is for a policy named `name` (cases that name none are for every policy).
    pub fn applies_to(&self, name: &str) -> bool {
        self.policy.as_deref().is_none_or(|policy| policy == name)
    }

    /// `Ok` when `verdict` is what the case wants, else what went wrong. A fault fails the case unless
    /// the case wants the engine's fail-closed verdict (reason `policy-fault`).
    pub fn check(&self, verdict: &TriggerVerdict) -> Result<(), String> {
        if let Some(fault) = &verdict.fault
            && self.want.reason != TriggerReason::PolicyFault
        {
            return Err(format!("the policy failed: {fault}"));
        }
        if (verdict.outcome, verdict.reason) == (self.want.outcome, self.want.reason) {
            Ok(())
        } else {
            Err(format!(
                "want {} ({}), got {} ({})",
                self.want.outcome, self.want.reason, verdict.outcome, verdict.reason
            ))
        }
    }
}

/// What an attach-admission case wants: `allow`, or `reject` with a cause and a back-off in seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdmissionWant(pub Admission);

/// One attach-admission case: a registration and the answer it must get.
#[derive(Clone, Debug)]
pub struct AdmissionCase {
    /// What the case shows.
    pub note: String,
    /// The policy the case is for, if it names one.
    pub policy: Option<String>,
    /// The registration.
    pub request: AdmissionRequest,
    /// What it must get.
    pub want: AdmissionWant,
}

impl AdmissionCase {
    /// Whether the case is for a policy named `name` (cases that name none are for every policy).
    pub fn applies_to(&self, name: &str) -> bool {
        self.policy.as_deref().is_none_or(|policy| policy == name)
    }

    /// `Ok` when `verdict` is what the case wants, else what went wrong. A fault fails the case unless
    /// the case wants the engine's fail-closed rejection (cause `policy-fault`).
    pub fn check(&self, verdict: &AdmissionVerdict) -> Result<(), String> {
        let wants_fault = matches!(self.want.0, Admission::Reject { cause: RejectCause::PolicyFault, .. });
        if let Some(fault) = &verdict.fault
            && !wants_fault
        {
            return Err(format!("the policy failed: {fault}"));
        }
        if verdict.admission == self.want.0 {
            Ok(())
        } else {
            let want = AdmissionVerdict { admission: self.want.0, fault: None };
            let got = AdmissionVerdict { admission: verdict.admission, fault: None };
            Err(format!("want {want}, got {got}"))
        }
    }
}

/// What an access-trust case wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccessWant {
    /// The access is trusted.
    pub trusted: bool,
    /// Why.
    pub reason: AccessReason,
    /// How to bootstrap.
    pub bootstrap: Bootstrap,
}

/// One access-trust case: a device's access and the verdict it must get.
#[derive(Clone, Debug)]
pub struct AccessCase {
    /// What the case shows.
    pub note: String,
    /// The policy the case is for, if it names one.
    pub policy: Option<String>,
    /// The access.
    pub request: AccessRequest,
    /// What it must get.
    pub want: AccessWant,
}

impl AccessCase {
    /// Whether the case is for a policy named `name` (cases that name none are for every policy).
    pub fn applies_to(&self, name: &str) -> bool {
        self.policy.as_deref().is_none_or(|policy| policy == name)
    }

    /// `Ok` when `verdict` is what the case wants, else what went wrong. A fault fails the case unless
    /// the case wants the engine's fail-closed verdict (reason `policy-fault`).
    pub fn check(&self, verdict: &AccessVerdict) -> Result<(), String> {
        if let Some(fault) = &verdict.fault
            && self.want.reason != AccessReason::PolicyFault
        {
            return Err(format!("the policy failed: {fault}"));
        }
        let got = AccessWant { trusted: verdict.trusted, reason: verdict.reason, bootstrap: verdict.bootstrap };
        if got == self.want {
            Ok(())
        } else {
            let show = |w: &AccessWant| AccessVerdict {
                trusted: w.trusted,
                reason: w.reason,
                bootstrap: w.bootstrap,
                fault: None,
            };
            Err(format!("want {}, got {}", show(&self.want), show(&got)))
        }
    }
}

/// What a media-security case wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MediaWant {
    /// The protection.
    pub protection: MediaProtection,
    /// The reason.
    pub reason: MediaReason,
    /// Whether the voucher is released to the call.
    pub voucher_released: bool,
}

/// One media-security case: a call and the verdict it must get.
#[derive(Clone, Debug)]
pub struct MediaCase {
    /// What the case shows.
    pub note: String,
    /// The policy the case is for, if it names one.
    pub policy: Option<String>,
    /// The call.
    pub request: MediaRequest,
    /// What it must get.
    pub want: MediaWant,
}

impl MediaCase {
    /// Whether the case is for a policy named `name` (cases that name none are for every policy).
    pub fn applies_to(&self, name: &str) -> bool {
        self.policy.as_deref().is_none_or(|policy| policy == name)
    }

    /// `Ok` when `verdict` is what the case wants, else what went wrong. A fault fails the case unless
    /// the case wants the engine's fail-closed verdict (reason `policy-fault`).
    pub fn check(&self, verdict: &MediaVerdict) -> Result<(), String> {
        if let Some(fault) = &verdict.fault
            && self.want.reason != MediaReason::PolicyFault
        {
            return Err(format!("the policy failed: {fault}"));
        }
        let got = MediaWant {
            protection: verdict.protection,
            reason: verdict.reason,
            voucher_released: verdict.voucher.is_some(),
        };
        if got == self.want {
            return Ok(());
        }
        let show = |w: &MediaWant| {
            let voucher = if w.voucher_released { "voucher released" } else { "no voucher" };
            format!("{} ({}), {voucher}", w.protection, w.reason)
        };
        Err(format!("want {}, got {}", show(&self.want), show(&got)))
    }
}

/// A case file, read.
#[derive(Debug)]
// Read once per file, never on a hot path: the size of the `Cases` variant costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum CaseFile {
    /// Cases to run against the facts.
    Cases {
        /// The file's facts.
        facts: FactSet,
        /// Its path-decision cases, in order.
        cases: Vec<TestCase>,
        /// Its trigger-guard cases, in order.
        trigger_cases: Vec<TriggerCase>,
        /// Its attach-admission cases, in order.
        admission_cases: Vec<AdmissionCase>,
        /// Its access-trust cases, in order.
        access_cases: Vec<AccessCase>,
        /// Its media-security cases, in order.
        media_cases: Vec<MediaCase>,
    },
    /// The file's input was refused as it wanted.
    RefusedAsWanted {
        /// What the file shows.
        note: String,
        /// The error it gave.
        error: String,
    },
}

impl CaseFile {
    /// Reads a case file. An error is a case file that cannot be run, or an input that was not refused
    /// as the file wanted.
    pub fn read(path: impl AsRef<Path>) -> Result<CaseFile, FileError> {
        let path = path.as_ref();
        let file = path.display().to_string();
        let format = Format::of(path).ok_or_else(|| FileError::Format { file: file.clone() })?;
        let text = std::fs::read_to_string(path).map_err(|source| FileError::Read { file: file.clone(), source })?;
        CaseFile::parse_as(&file, &text, format)
    }

    /// Parses a case file that did not come from a file; `name` is what errors call it, and its
    /// extension (`.toml`, `.json`) names the format.
    pub fn parse(name: &str, text: &str) -> Result<CaseFile, FileError> {
        let format = Format::of(Path::new(name)).ok_or_else(|| FileError::Format { file: name.to_owned() })?;
        CaseFile::parse_as(name, text, format)
    }

    fn parse_as(file: &str, text: &str, format: Format) -> Result<CaseFile, FileError> {
        let invalid = |field: &str, message: String| FileError::Invalid {
            file: file.to_owned(),
            field: field.to_owned(),
            message,
        };
        // What the file wants, read loosely first: a file whose input must be refused says so even though
        // the strict read below fails.
        let wanted_error = wanted_error(text, format);
        let raw = factfile::parse::<RawCaseFile>(file, text, format).and_then(|raw| raw.build(file));
        match (raw, wanted_error) {
            (Ok(cases), None) => Ok(cases),
            (Ok(_), Some(wanted)) => {
                Err(invalid("want_error", format!("wanted an error containing `{wanted}`, but the input was accepted")))
            }
            (Err(error), Some(wanted)) => {
                let error = error.to_string();
                if error.contains(&wanted) {
                    Ok(CaseFile::RefusedAsWanted { note: note(text, format), error })
                } else {
                    Err(invalid("want_error", format!("wanted an error containing `{wanted}`, got: {error}")))
                }
            }
            (Err(error), None) => Err(error),
        }
    }
}

/// The file as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawCaseFile {
    note: Option<String>,
    policy: Option<String>,
    #[serde(default)]
    lists: ListsFile,
    #[serde(default)]
    servers: Vec<Fqdn>,
    #[serde(default)]
    devices: Vec<DeviceFile>,
    request: Option<RequestFile>,
    want: Option<Want>,
    #[serde(rename = "want_error")]
    want_error: Option<String>,
    #[serde(default, rename = "case")]
    cases: Vec<RawCase>,
    #[serde(default, rename = "trigger-case")]
    trigger_cases: Vec<RawTriggerCase>,
    #[serde(default, rename = "admission-case")]
    admission_cases: Vec<RawAdmissionCase>,
    #[serde(default, rename = "access-case")]
    access_cases: Vec<RawAccessCase>,
    #[serde(default, rename = "media-case")]
    media_cases: Vec<RawMediaCase>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMediaCase {
    note: String,
    policy: Option<String>,
    request: MediaFile,
    want: Option<RawMediaWant>,
}

/// A call as a case file writes it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct MediaFile {
    crosses_cs_leg: bool,
    via_gateway: bool,
    network_path_secure: bool,
    device: String,
    peer: String,
    voucher: Option<VoucherFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VoucherFile {
    device: String,
    peer: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMediaWant {
    protection: MediaProtection,
    reason: MediaReason,
    voucher: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccessCase {
    note: String,
    policy: Option<String>,
    request: AccessFile,
    want: Option<RawAccessWant>,
}

/// A device's access as a case file writes it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct AccessFile {
    access: AccessKind,
    #[serde(default)]
    access_network_listed: bool,
    #[serde(default)]
    tunnel_up: bool,
    #[serde(default)]
    keys: Vec<KeyFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    method: BootstrapMethod,
    expired: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccessWant {
    trusted: bool,
    reason: AccessReason,
    bootstrap: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAdmissionCase {
    note: String,
    policy: Option<String>,
    request: AdmissionFile,
    want: Option<RawAdmissionWant>,
}

/// A registration as a case file writes it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct AdmissionFile {
    server: Fqdn,
    attachment_blocked: bool,
    server_permitted: bool,
    trigger_quota_left: Option<u32>,
    #[serde(default)]
    quota_resets_in: u32,
    #[serde(default)]
    trigger_rate: u32,
    trigger_rate_limit: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawAdmissionWant {
    admission: String,
    cause: Option<RejectCause>,
    back_off: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTriggerCase {
    note: String,
    policy: Option<String>,
    trigger: TriggerFile,
    want: Option<TriggerWant>,
}

/// A trigger as a case file writes it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct TriggerFile {
    naf: Fqdn,
    registered: bool,
    protection: Option<ProtectionFile>,
    window: Option<WindowFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ProtectionFile {
    mac_verified: bool,
    fields_covered: bool,
    key_expired: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct WindowFile {
    opens_in: i64,
    closes_in: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    note: String,
    policy: Option<String>,
    request: RequestFile,
    want: Option<Want>,
}

impl RawCaseFile {
    fn build(self, file: &str) -> Result<CaseFile, FileError> {
        let invalid = |field: String, message: &str| FileError::Invalid {
            file: file.to_owned(),
            field,
            message: message.to_owned(),
        };
        let facts = FactsFile { lists: self.lists, servers: self.servers, devices: self.devices };
        facts.check(file)?;
        let mut builder = facts.builder();
        let mut cases = Vec::new();
        match (self.request, self.cases.is_empty()) {
            (Some(_), false) => {
                return Err(invalid("case".into(), "give `request` and `want`, or `[[case]]` entries, not both"));
            }
            (None, true)
                if self.want_error.is_none()
                    && self.trigger_cases.is_empty()
                    && self.admission_cases.is_empty()
                    && self.access_cases.is_empty()
                    && self.media_cases.is_empty() =>
            {
                return Err(invalid(
                    "".into(),
                    "a case file must say what it wants: `[want]` (action, reason), `want_error`, or `[[case]]`, `[[trigger-case]]`, `[[admission-case]]`, `[[access-case]]` or `[[media-case]]` entries",
                ));
            }
            (None, true) => {}
            (Some(request), true) => {
                let (note, policy) = (self.note.unwrap_or_default(), self.policy.clone());
                let request = request.resolve(&facts, &mut builder, file, "request")?;
                match (self.want, self.want_error) {
                    (Some(want), None) => cases.push(TestCase { note, policy, request, want }),
                    (Some(_), Some(_)) => {
                        return Err(invalid("want".into(), "a case wants `[want]` or `want_error`, not both"));
                    }
                    (None, _) => {
                        return Err(invalid("want".into(), "the input was accepted, and the case has no `[want]`"));
                    }
                }
            }
            (None, false) => {
                for (index, case) in self.cases.into_iter().enumerate() {
                    let field = format!("case[{index}]");
                    let want = case.want.ok_or_else(|| {
                        invalid(
                            format!("{field}.want"),
                            "each case must say what it wants: `want = { action, reason }`",
                        )
                    })?;
                    let request = case.request.resolve(&facts, &mut builder, file, &format!("{field}.request"))?;
                    cases.push(TestCase {
                        note: case.note,
                        policy: case.policy.or(self.policy.clone()),
                        request,
                        want,
                    });
                }
            }
        }
        let mut trigger_cases = Vec::new();
        for (index, case) in self.trigger_cases.into_iter().enumerate() {
            let field = format!("trigger-case[{index}]");
            let want = case.want.ok_or_else(|| {
                invalid(format!("{field}.want"), "each case must say what it wants: `want = { outcome, reason }`")
            })?;
            let TriggerFile { naf, registered, protection, window } = case.trigger;
            let window = match window {
                None => None,
                Some(WindowFile { opens_in, closes_in }) => {
                    Some(Window::new(opens_in, closes_in).ok_or_else(|| {
                        invalid(
                            format!("{field}.trigger.window"),
                            "`closes-in` is before `opens-in`: a window must open before it closes",
                        )
                    })?)
                }
            };
            let protection = protection.map(|p| PushProtection {
                mac_verified: p.mac_verified,
                fields_covered: p.fields_covered,
                key_expired: p.key_expired,
            });
            let trigger = Trigger { naf: builder.server(naf), registered, protection, window };
            trigger_cases.push(TriggerCase {
                note: case.note,
                policy: case.policy.or(self.policy.clone()),
                trigger,
                want,
            });
        }
        let mut admission_cases = Vec::new();
        for (index, case) in self.admission_cases.into_iter().enumerate() {
            let field = format!("admission-case[{index}]");
            let want = case.want.ok_or_else(|| {
                invalid(
                    format!("{field}.want"),
                    "each case must say what it wants: `want = { admission = \"allow\" }` or `{ admission = \"reject\", cause, back-off }`",
                )
            })?;
            let want = match (want.admission.as_str(), want.cause, want.back_off) {
                ("allow", None, None) => Admission::Allow,
                ("reject", Some(cause), Some(seconds)) => {
                    Admission::Reject { cause, back_off: std::time::Duration::from_secs(seconds) }
                }
                ("allow", _, _) => {
                    return Err(invalid(format!("{field}.want"), "`allow` takes no `cause` or `back-off`"));
                }
                ("reject", _, _) => {
                    return Err(invalid(
                        format!("{field}.want"),
                        "`reject` needs a `cause` and a `back-off` (seconds)",
                    ));
                }
                (other, _, _) => {
                    return Err(invalid(
                        format!("{field}.want.admission"),
                        &format!("`{other}` is not an admission: write `allow` or `reject`"),
                    ));
                }
            };
            let AdmissionFile {
                server,
                attachment_blocked,
                server_permitted,
                trigger_quota_left,
                quota_resets_in,
                trigger_rate,
                trigger_rate_limit,
            } = case.request;
            let request = AdmissionRequest {
                server: builder.server(server),
                attachment_blocked,
                server_permitted,
                trigger_quota_left,
                quota_resets_in,
                trigger_rate,
                trigger_rate_limit,
            };
            admission_cases.push(AdmissionCase {
                note: case.note,
                policy: case.policy.or(self.policy.clone()),
                request,
                want: AdmissionWant(want),
            });
        }
        let mut access_cases = Vec::new();
        for (index, case) in self.access_cases.into_iter().enumerate() {
            let field = format!("access-case[{index}]");
            let want = case.want.ok_or_else(|| {
                invalid(
                    format!("{field}.want"),
                    "each case must say what it wants: `want = { trusted, reason, bootstrap }`",
                )
            })?;
            let bootstrap = match want.bootstrap.as_str() {
                "not-needed" => Bootstrap::NotNeeded,
                "none-available" => Bootstrap::NoneAvailable,
                method => Bootstrap::Use(method.parse().map_err(|e: crate::error::NameError| {
                    invalid(format!("{field}.want.bootstrap"), &format!("{e}; or `not-needed`, `none-available`"))
                })?),
            };
            let AccessFile { access, access_network_listed, tunnel_up, keys } = case.request;
            let keys = keys.into_iter().map(|key| AvailableKey { method: key.method, expired: key.expired }).collect();
            access_cases.push(AccessCase {
                note: case.note,
                policy: case.policy.or(self.policy.clone()),
                request: AccessRequest { access, access_network_listed, tunnel_up, keys },
                want: AccessWant { trusted: want.trusted, reason: want.reason, bootstrap },
            });
        }
        let mut media_cases = Vec::new();
        for (index, case) in self.media_cases.into_iter().enumerate() {
            let field = format!("media-case[{index}]");
            let want = case.want.ok_or_else(|| {
                invalid(
                    format!("{field}.want"),
                    "each case must say what it wants: `want = { protection, reason, voucher }`",
                )
            })?;
            let voucher_released = match want.voucher.as_str() {
                "released" => true,
                "none" => false,
                other => {
                    return Err(invalid(
                        format!("{field}.want.voucher"),
                        &format!("`{other}` is not a voucher outcome: write `released` or `none`"),
                    ));
                }
            };
            let MediaFile { crosses_cs_leg, via_gateway, network_path_secure, device, peer, voucher } = case.request;
            let voucher = voucher.map(|v| Voucher {
                parties: CallParties { device: v.device, peer: v.peer },
                key: b"case-file key".to_vec(),
            });
            let request = MediaRequest {
                crosses_cs_leg,
                via_gateway,
                network_path_secure,
                call: CallParties { device, peer },
                voucher,
            };
            media_cases.push(MediaCase {
                note: case.note,
                policy: case.policy.or(self.policy.clone()),
                request,
                want: MediaWant { protection: want.protection, reason: want.reason, voucher_released },
            });
        }
        Ok(CaseFile::Cases { facts: builder.build(), cases, trigger_cases, admission_cases, access_cases, media_cases })
    }
}

/// The `want_error` of a file, read loosely.
fn wanted_error(text: &str, format: Format) -> Option<String> {
    loose_field(text, format, "want_error")
}

fn note(text: &str, format: Format) -> String {
    loose_field(text, format, "note").unwrap_or_default()
}

fn loose_field(text: &str, format: Format, name: &str) -> Option<String> {
    match format {
        Format::Toml => toml::from_str::<toml::Table>(text).ok()?.get(name)?.as_str().map(str::to_owned),
        Format::Json => serde_json::from_str::<serde_json::Value>(text).ok()?.get(name)?.as_str().map(str::to_owned),
    }
}
