//! The interworking function's checks on an M2M server (`pathsec:policy/attach-admission`), after 002
//! (US 9,344,888): **attach admission** — whether a device may attach, asked of the server only when the
//! method asks it (the subscription's "attachment block enabled" flag, or a server named at attach;
//! 002, FIG. 7A steps 255-259), with the server's back-off enforced by the host — and **trigger
//! submissions** — whether a server's trigger is delivered, with the server's quota and rate counted by
//! the host (002: the MTC-IWF checks the SCS's authorisation, quota and rate). An optional export;
//! without it every attach that needs the server's consent is rejected and every submission refused.
//!
//! What the host owns, per runtime (shared by its workers): the back-offs of rejected devices (a device
//! that attaches again under the same external identifier before its back-off ends is refused without
//! asking the policy), and each server's submission counts. Both are bounded ([`AdmissionLimits`]):
//! when the back-off table is full of live back-offs, new attaches that would need the server are
//! refused rather than a back-off evicted; when the submission table is full, a new server's
//! submissions are refused. Everything refused is counted ([`AdmissionStats`]).

use std::fmt;
use std::sync::Arc;
use std::sync::mpsc::Receiver;
use std::time::{Duration, SystemTime};

use super::Interface;
use crate::vocab::named::named_enum;
use crate::vocab::{Fqdn, PolicyFault, ServerId, write_fault};
use crate::wasm::plug::Verdict;
use crate::wasm::wit::{self};

/// How long a device backs off when the engine rejects for it (the policy failed or lacks admission, or
/// the back-off table is full): long enough that a fleet does not storm a broken policy, short enough
/// to recover soon after a fix. Told to the device; not recorded (a fixed policy should not find its
/// devices locked out).
pub const FAIL_CLOSED_BACK_OFF: Duration = Duration::from_secs(300);

/// The longest name a device may propose or a server grant, in bytes.
pub const MAX_NAME: usize = 128;

/// A device's external identifier (3GPP TS 23.682: `local-identifier@domain-identifier`), as the
/// network gives it in a device-permission request. The domain compares case-insensitively (it is a
/// domain name); the local part exactly.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExternalId(Box<str>);

/// An external identifier that is not one.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not an external identifier: {why} (write `local@domain`, e.g. `meter-17@m2m.example.com`)")]
pub struct ExternalIdError {
    /// The text, shortened to 80 characters.
    pub text: String,
    /// What is wrong with it.
    pub why: &'static str,
}

impl ExternalId {
    /// Parses `local@domain`: one `@`, a local part and a domain of printable ASCII without spaces,
    /// at most 255 bytes in all. The domain is kept lowercase.
    pub fn parse(text: &str) -> Result<ExternalId, ExternalIdError> {
        let error = |why| ExternalIdError { text: text.chars().take(80).collect(), why };
        if text.len() > 255 {
            return Err(error("longer than 255 bytes"));
        }
        if !text.bytes().all(|byte| byte.is_ascii_graphic()) {
            return Err(error("only printable ASCII without spaces is allowed"));
        }
        let Some((local, domain)) = text.split_once('@') else { return Err(error("it has no `@`")) };
        if domain.contains('@') {
            return Err(error("it has more than one `@`"));
        }
        if local.is_empty() || domain.is_empty() {
            return Err(error("the part before or after `@` is empty"));
        }
        Ok(ExternalId(format!("{local}@{}", domain.to_ascii_lowercase()).into()))
    }

    /// The identifier, its domain lowercase.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ExternalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for ExternalId {
    type Err = ExternalIdError;

    fn from_str(text: &str) -> Result<ExternalId, ExternalIdError> {
        ExternalId::parse(text)
    }
}

/// Whether `name` may be a device's name: 1 to [`MAX_NAME`] bytes of printable ASCII without spaces.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= MAX_NAME && name.bytes().all(|byte| byte.is_ascii_graphic())
}

/// A device attaching (002, FIG. 7A step 253): what the network knows when it decides whether to ask
/// the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdmissionRequest {
    /// The server: the one the device named at attach, or the subscription's.
    pub server: ServerId,
    /// The device's external identifier.
    pub external_id: ExternalId,
    /// The subscription's "attachment block enabled" flag is set: the server is asked.
    pub attachment_block_enabled: bool,
    /// The device named this server at attach: the server is asked.
    pub server_named: bool,
    /// The subscription permits the device to register with this server (step 255). When it does not,
    /// the attach is rejected without asking.
    pub server_permitted: bool,
    /// The name the device proposed at attach, if it did (checked with [`valid_name`]).
    pub proposed_name: Option<String>,
}

impl AdmissionRequest {
    /// Whether the method asks the server at all (002, FIG. 7A step 256).
    pub fn asks_server(&self) -> bool {
        self.attachment_block_enabled || self.server_named
    }
}

named_enum! {
    /// Why an attach is rejected: by the server (the policy), or by the engine.
    #[non_exhaustive]
    pub enum RejectCause as "a reject cause" {
        /// The server: the device need not attach now.
        NotNeededNow = "not-needed-now",
        /// The server does not know the device.
        UnknownDevice = "unknown-device",
        /// The server does not permit the device.
        NotPermitted = "not-permitted",
        /// The server is overloaded.
        Overloaded = "overloaded",
        /// The engine: the subscription does not permit the device to register with the server (002,
        /// FIG. 7A step 255); the server was not asked.
        SubscriptionForbids = "subscription-forbids",
        /// The engine: the device attached again before the back-off the server gave it ended; the
        /// server was not asked again.
        BackingOff = "backing-off",
        /// The engine: the back-off table is full of live back-offs, so a rejection could not be
        /// enforced; the server was not asked ([`FAIL_CLOSED_BACK_OFF`]).
        BackOffsFull = "back-offs-full",
        /// The policy failed, or does not export attach admission (see the verdict's fault); the engine
        /// rejected with [`FAIL_CLOSED_BACK_OFF`].
        PolicyFault = "policy-fault",
    }
}

impl RejectCause {
    /// Whether the server (the policy) gives this cause; the others are the engine's own.
    pub fn from_server(self) -> bool {
        matches!(
            self,
            RejectCause::NotNeededNow
                | RejectCause::UnknownDevice
                | RejectCause::NotPermitted
                | RejectCause::Overloaded
        )
    }
}

/// The answer to an attach.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Admission {
    /// Let the device attach.
    Allow {
        /// The name granted: the proposed one, or the server's replacement; `None` when none was
        /// proposed (or the server was not asked).
        name: Option<String>,
    },
    /// Reject it.
    Reject {
        /// Why.
        cause: RejectCause,
        /// How long the device waits before attaching again; `None`: the server gave none.
        back_off: Option<Duration>,
    },
}

/// Attach admission's answer, and whether the server (the policy) was asked for it. It always exists:
/// when the policy fails or lacks admission, it is a rejection with cause `policy-fault`,
/// [`FAIL_CLOSED_BACK_OFF`] and the fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdmissionVerdict {
    /// The answer.
    pub admission: Admission,
    /// The policy was asked (the method asks the server only on the flag or a named server, and the
    /// engine answers some attaches itself).
    pub asked: bool,
    /// Why the policy could not decide, when it could not.
    pub fault: Option<Arc<PolicyFault>>,
}

impl AdmissionVerdict {
    /// The fail-closed verdict: reject, because of `fault`.
    pub fn fail_closed(fault: Arc<PolicyFault>) -> AdmissionVerdict {
        let admission = Admission::Reject { cause: RejectCause::PolicyFault, back_off: Some(FAIL_CLOSED_BACK_OFF) };
        AdmissionVerdict { admission, asked: true, fault: Some(fault) }
    }

    /// The engine's own answer, without asking the policy.
    fn engine(admission: Admission) -> AdmissionVerdict {
        AdmissionVerdict { admission, asked: false, fault: None }
    }

    /// The policy's answer for `request`, unless it makes no sense: a name granted to a device that
    /// proposed none, no name for one that proposed one, an invalid name, or an engine's cause.
    pub(crate) fn checked(request: &AdmissionRequest, admission: Admission) -> AdmissionVerdict {
        let wrong =
            |outcome, why| AdmissionVerdict::fail_closed(Arc::new(PolicyFault::OutcomeNotAllowed { outcome, why }));
        match &admission {
            Admission::Allow { name: Some(_) } if request.proposed_name.is_none() => {
                return wrong("allow", "a name was granted, but the device proposed none");
            }
            Admission::Allow { name: None } if request.proposed_name.is_some() => {
                return wrong("allow", "the device proposed a name, and the answer grants none");
            }
            Admission::Allow { name: Some(name) } if !valid_name(name) => {
                return wrong("allow", "the name granted is empty, too long or not printable ASCII");
            }
            Admission::Reject { cause, .. } if !cause.from_server() => {
                return wrong("reject", "the cause is the engine's, not a server's");
            }
            _ => {}
        }
        AdmissionVerdict { admission, asked: true, fault: None }
    }
}

impl fmt::Display for AdmissionVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.admission {
            Admission::Allow { name: None } => write!(f, "allow")?,
            Admission::Allow { name: Some(name) } => write!(f, "allow as `{name}`")?,
            Admission::Reject { cause, back_off: None } => write!(f, "reject ({cause})")?,
            Admission::Reject { cause, back_off: Some(back_off) } => {
                write!(f, "reject ({cause}, back off {} s)", back_off.as_secs())?
            }
        }
        if !self.asked {
            write!(f, " [server not asked]")?;
        }
        write_fault(f, self.fault.as_deref())
    }
}

impl Verdict for AdmissionVerdict {
    fn fail_closed(fault: Arc<PolicyFault>) -> AdmissionVerdict {
        AdmissionVerdict::fail_closed(fault)
    }

    fn fault(&self) -> Option<&Arc<PolicyFault>> {
        self.fault.as_ref()
    }

    fn is_fail_closed(&self) -> bool {
        matches!(self.admission, Admission::Reject { cause: RejectCause::PolicyFault, .. })
    }

    fn same_answer(&self, other: &AdmissionVerdict) -> bool {
        (&self.admission, self.asked) == (&other.admission, other.asked)
    }
}

named_enum! {
    /// Why a trigger submission is delivered or refused.
    #[non_exhaustive]
    pub enum SubmissionReason as "a submission reason" {
        /// Within the server's quota and rate.
        WithinLimits = "within-limits",
        /// The server is not authorised to send triggers.
        NotAuthorized = "not-authorized",
        /// The server has used its quota for this period.
        QuotaExhausted = "quota-exhausted",
        /// The server submits faster than its limit.
        RateExceeded = "rate-exceeded",
        /// The engine: the submission table is full and the server is not in it; not counted, refused.
        CountersFull = "counters-full",
        /// The policy failed, or does not export attach admission (see the verdict's fault); refused.
        PolicyFault = "policy-fault",
    }
}

/// A server's trigger submission, with the host's counts and the operator's limits: what the policy is
/// asked. [`Worker::submit_trigger`](crate::Worker::submit_trigger) makes it from its counts; a case file writes it out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TriggerSubmission {
    /// The server.
    pub server: ServerId,
    /// Its submissions accepted in the current quota period.
    pub accepted_this_period: u32,
    /// The quota for the period; `None` without one.
    pub quota: Option<u32>,
    /// Seconds until the quota period starts again.
    pub period_resets_in: u32,
    /// Its submissions (this one included, accepted or not) in the last `rate_window_seconds`.
    pub submitted_in_window: u32,
    /// The limit for the rate window; `None` without one.
    pub rate_limit: Option<u32>,
    /// The rate window, in seconds.
    pub rate_window_seconds: u32,
}

impl TriggerSubmission {
    /// The reason the operator's limits alone give: quota first, then rate.
    pub fn over_limits(&self) -> Option<SubmissionReason> {
        if self.quota.is_some_and(|quota| self.accepted_this_period >= quota) {
            Some(SubmissionReason::QuotaExhausted)
        } else if self.rate_limit.is_some_and(|limit| self.submitted_in_window > limit) {
            Some(SubmissionReason::RateExceeded)
        } else {
            None
        }
    }
}

/// The answer to a trigger submission. It always exists: when the policy fails or lacks the export,
/// it is a refusal with reason `policy-fault` and the fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubmissionVerdict {
    /// Deliver the trigger.
    pub accept: bool,
    /// Why.
    pub reason: SubmissionReason,
    /// Why the policy could not decide, when it could not.
    pub fault: Option<Arc<PolicyFault>>,
}

impl SubmissionVerdict {
    /// The fail-closed verdict: refuse, because of `fault`.
    pub fn fail_closed(fault: Arc<PolicyFault>) -> SubmissionVerdict {
        SubmissionVerdict { accept: false, reason: SubmissionReason::PolicyFault, fault: Some(fault) }
    }

    /// The policy's answer to `submission`, unless it makes no sense: accepting over the operator's
    /// limits (the host's counts say so), a reason that does not go with the answer, or an engine's
    /// reason.
    pub(crate) fn checked(submission: &TriggerSubmission, accept: bool, reason: SubmissionReason) -> SubmissionVerdict {
        let wrong =
            |why| SubmissionVerdict::fail_closed(Arc::new(PolicyFault::OutcomeNotAllowed { outcome: "accept", why }));
        if accept {
            if let Some(over) = submission.over_limits() {
                return wrong(match over {
                    SubmissionReason::QuotaExhausted => "the server's quota for this period is used up",
                    _ => "the server submits faster than its limit",
                });
            }
            if reason != SubmissionReason::WithinLimits {
                return wrong("an accepted submission's reason must be within-limits");
            }
        } else if matches!(
            reason,
            SubmissionReason::WithinLimits | SubmissionReason::CountersFull | SubmissionReason::PolicyFault
        ) {
            let why = "a refusal needs the reason it is refused for";
            return SubmissionVerdict::fail_closed(Arc::new(PolicyFault::OutcomeNotAllowed { outcome: "refuse", why }));
        }
        SubmissionVerdict { accept, reason, fault: None }
    }
}

impl fmt::Display for SubmissionVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", if self.accept { "accept" } else { "refuse" }, self.reason)?;
        write_fault(f, self.fault.as_deref())
    }
}

impl Verdict for SubmissionVerdict {
    fn fail_closed(fault: Arc<PolicyFault>) -> SubmissionVerdict {
        SubmissionVerdict::fail_closed(fault)
    }

    fn fault(&self) -> Option<&Arc<PolicyFault>> {
        self.fault.as_ref()
    }

    fn is_fail_closed(&self) -> bool {
        self.reason == SubmissionReason::PolicyFault
    }

    fn same_answer(&self, other: &SubmissionVerdict) -> bool {
        (self.accept, self.reason) == (other.accept, other.reason)
    }
}

/// Attach admission, as `pathsec check` reports it.
pub const ATTACH_ADMISSION: Interface = Interface::of::<wit::AttachAdmission>(
    "attach_admission",
    "admission",
    "decided (exports pathsec:policy/attach-admission)",
    "no attach admission: every attach the server must consent to is rejected, every trigger submission refused (fail closed)",
);

/// A server's trigger limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TriggerLimits {
    /// Triggers a server may have delivered per quota period; `None`: no quota.
    pub quota: Option<u32>,
    /// The quota period (whole seconds, at least 1).
    pub period: Duration,
    /// Submissions a server may make per rate window; `None`: no limit.
    pub rate_limit: Option<u32>,
    /// The rate window (whole seconds, 1 to 3,600).
    pub rate_window: Duration,
}

impl Default for TriggerLimits {
    /// No quota (a day's period), no rate limit (a minute's window): the host still counts.
    fn default() -> TriggerLimits {
        TriggerLimits {
            quota: None,
            period: Duration::from_secs(86_400),
            rate_limit: None,
            rate_window: Duration::from_secs(60),
        }
    }
}

/// The bounds and limits of a runtime's admission state; see [`RuntimeBuilder::admission`](crate::runtime::RuntimeBuilder::admission).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdmissionLimits {
    /// Live back-offs held at most (default 1,000,000: ~100 bytes each).
    pub back_offs: usize,
    /// Servers whose submissions are counted at most (default 65,536).
    pub servers: usize,
    /// Every server's trigger limits, unless `per_server` names it.
    pub triggers: TriggerLimits,
    /// Limits for named servers.
    pub per_server: Vec<(Fqdn, TriggerLimits)>,
}

impl Default for AdmissionLimits {
    fn default() -> AdmissionLimits {
        AdmissionLimits {
            back_offs: 1_000_000,
            servers: 65_536,
            triggers: TriggerLimits::default(),
            per_server: Vec::new(),
        }
    }
}

/// A setting of [`AdmissionLimits`] that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("admission limits: `{field}` {why}")]
pub struct AdmissionLimitsError {
    /// The setting.
    pub field: String,
    /// What is wrong.
    pub why: &'static str,
}

impl AdmissionLimits {
    /// Checks the settings.
    pub fn check(&self) -> Result<(), AdmissionLimitsError> {
        let error = |field: &str, why| Err(AdmissionLimitsError { field: field.to_owned(), why });
        if self.back_offs == 0 {
            return error("back-offs", "must be at least 1");
        }
        if self.servers == 0 {
            return error("servers", "must be at least 1");
        }
        let limits = std::iter::once(("triggers".to_owned(), &self.triggers))
            .chain(self.per_server.iter().map(|(fqdn, limits)| (format!("per-server.{fqdn}"), limits)));
        for (field, limits) in limits {
            if limits.period.as_secs() == 0 {
                return error(&format!("{field}.period"), "must be at least a second");
            }
            if !(1..=3_600).contains(&limits.rate_window.as_secs()) {
                return error(&format!("{field}.rate-window"), "must be 1 to 3,600 seconds");
            }
        }
        Ok(())
    }

    fn for_server(&self, fqdn: Option<&Fqdn>) -> TriggerLimits {
        fqdn.and_then(|fqdn| self.per_server.iter().find(|(name, _)| name == fqdn))
            .map_or(self.triggers, |(_, limits)| *limits)
    }
}

/// What a runtime's admission state has done (counts since it started).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AdmissionStats {
    /// Back-offs held now (live or not yet purged).
    pub back_offs_held: u64,
    /// Back-offs recorded from the server's rejections.
    pub back_offs_recorded: u64,
    /// Attaches refused because the device was still backing off (the policy not asked).
    pub refused_backing_off: u64,
    /// Attaches refused because the back-off table was full of live back-offs.
    pub refused_back_offs_full: u64,
    /// Attaches rejected because the subscription forbids the server.
    pub refused_subscription: u64,
    /// Attaches admitted without asking (no flag, no named server).
    pub admitted_without_asking: u64,
    /// Servers whose submissions are counted now.
    pub servers_counted: u64,
    /// Submissions refused because the submission table was full.
    pub refused_counters_full: u64,
    /// Back-offs taken from other runtimes ([`Runtime::import_back_off`](crate::Runtime::import_back_off)).
    pub back_offs_imported: u64,
    /// Back-offs a slow subscriber of [`Runtime::back_offs`](crate::Runtime::back_offs) did not get.
    pub back_offs_not_sent: u64,
    /// Submissions accepted / refused by the policy (or the engine for it).
    pub submissions_accepted: u64,
    /// See `submissions_accepted`.
    pub submissions_refused: u64,
}

/// A back-off a server gave a device, as it travels between runtimes (gateways): by the server's name,
/// since server handles are each runtime's own. See [`Runtime::back_offs`](crate::Runtime::back_offs) and
/// [`Runtime::import_back_off`](crate::Runtime::import_back_off).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackOff {
    /// The device.
    pub external_id: ExternalId,
    /// The server that rejected it.
    pub server: Fqdn,
    /// When the back-off ends.
    pub until: SystemTime,
}

pub(crate) mod plug;
mod state;

#[cfg(test)]
mod tests {
    use super::state::AdmissionState;
    use super::*;

    fn request(id: &str) -> AdmissionRequest {
        AdmissionRequest {
            server: ServerId::new(0),
            external_id: ExternalId::parse(id).expect("valid"),
            attachment_block_enabled: true,
            server_named: false,
            server_permitted: true,
            proposed_name: None,
        }
    }

    fn rejected(seconds: u64) -> AdmissionVerdict {
        let back_off = Some(Duration::from_secs(seconds));
        AdmissionVerdict {
            admission: Admission::Reject { cause: RejectCause::NotNeededNow, back_off },
            asked: true,
            fault: None,
        }
    }

    #[test]
    fn external_ids_compare_their_domain_without_case() {
        assert_eq!(ExternalId::parse("meter@M2M.Example.COM"), ExternalId::parse("meter@m2m.example.com"));
        assert_ne!(ExternalId::parse("Meter@m2m.example.com"), ExternalId::parse("meter@m2m.example.com"));
        for bad in ["", "meter", "@example.com", "meter@", "a@b@c", "me ter@x.com", "m\u{e9}@x.com"] {
            let error = ExternalId::parse(bad).expect_err(bad);
            assert!(error.to_string().contains("local@domain"), "{error}");
        }
    }

    #[test]
    fn a_back_off_is_held_until_it_ends_and_the_table_is_bounded() {
        let state = AdmissionState::new(AdmissionLimits { back_offs: 2, ..AdmissionLimits::default() });
        let (a, b, c) = (request("a@x.com"), request("b@x.com"), request("c@x.com"));
        assert_eq!(state.before(&a, 100), None);
        state.after(&a, &rejected(60), 100, None);
        let again = state.before(&a, 159).expect("still backing off");
        assert_eq!(
            again.admission,
            Admission::Reject { cause: RejectCause::BackingOff, back_off: Some(Duration::from_secs(1)) }
        );
        assert!(!again.asked);
        assert_eq!(state.before(&a, 160), None, "the back-off ended");
        state.after(&a, &rejected(600), 160, None);
        state.after(&b, &rejected(600), 160, None);
        // Full of live back-offs: a new device the server would be asked about is refused, none evicted.
        let full = state.before(&c, 161).expect("full");
        assert!(matches!(full.admission, Admission::Reject { cause: RejectCause::BackOffsFull, .. }));
        assert!(matches!(
            state.before(&a, 161).expect("kept").admission,
            Admission::Reject { cause: RejectCause::BackingOff, .. }
        ));
        // Once they end, room is made.
        assert_eq!(state.before(&c, 760), None);
        let stats = state.stats();
        assert_eq!((stats.refused_backing_off, stats.refused_back_offs_full, stats.back_offs_recorded), (2, 1, 3));
        assert_eq!(stats.back_offs_held, 0, "expired entries purged to make room");
    }

    #[test]
    fn an_engine_rejection_is_not_recorded() {
        let state = AdmissionState::default();
        let a = request("a@x.com");
        state.after(&a, &AdmissionVerdict::fail_closed(Arc::new(PolicyFault::Trap { message: "x".into() })), 0, None);
        assert_eq!(state.before(&a, 1), None);
    }

    #[test]
    fn submissions_are_counted_per_window_and_period() {
        let limits = TriggerLimits {
            quota: Some(2),
            period: Duration::from_secs(100),
            rate_limit: Some(3),
            rate_window: Duration::from_secs(10),
        };
        let state = AdmissionState::new(AdmissionLimits { servers: 1, triggers: limits, ..AdmissionLimits::default() });
        let server = ServerId::new(0);
        let first = state.submission(server, None, 1000).expect("room");
        assert_eq!((first.accepted_this_period, first.submitted_in_window, first.period_resets_in), (0, 1, 100));
        assert_eq!(first.over_limits(), None);
        state.submitted(
            &first,
            &SubmissionVerdict { accept: true, reason: SubmissionReason::WithinLimits, fault: None },
        );
        let second = state.submission(server, None, 1005).expect("room");
        state.submitted(
            &second,
            &SubmissionVerdict { accept: true, reason: SubmissionReason::WithinLimits, fault: None },
        );
        let third = state.submission(server, None, 1009).expect("room");
        assert_eq!((third.accepted_this_period, third.submitted_in_window), (2, 3));
        assert_eq!(third.over_limits(), Some(SubmissionReason::QuotaExhausted));
        // The window slides: at 1012 the submission at 1000 (and 1001-1002) has left it.
        let fourth = state.submission(server, None, 1012).expect("room");
        assert_eq!(fourth.submitted_in_window, 3, "1005, 1009, 1012");
        // The period starts again at 1100.
        let fifth = state.submission(server, None, 1100).expect("room");
        assert_eq!((fifth.accepted_this_period, fifth.period_resets_in, fifth.submitted_in_window), (0, 100, 1));
        // One server at most: another is refused, uncounted.
        assert_eq!(state.submission(ServerId::new(1), None, 1100), None);
        assert_eq!(state.stats().refused_counters_full, 1);
    }

    #[test]
    fn a_policy_cannot_accept_over_the_limits() {
        let submission = TriggerSubmission {
            server: ServerId::new(0),
            accepted_this_period: 5,
            quota: Some(5),
            period_resets_in: 10,
            submitted_in_window: 1,
            rate_limit: None,
            rate_window_seconds: 60,
        };
        let verdict = SubmissionVerdict::checked(&submission, true, SubmissionReason::WithinLimits);
        assert!(verdict.is_fail_closed() && verdict.fault.is_some());
        let refused = SubmissionVerdict::checked(&submission, false, SubmissionReason::QuotaExhausted);
        assert_eq!((refused.accept, refused.fault), (false, None));
    }
}
