//! Attach admission (`pathsec:policy/attach-admission`): may a device register with a server? An
//! optional export; without it every registration is rejected.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::decision::{PolicyFault, write_fault};
use crate::facts::ServerId;
use crate::named::named_enum;

/// How long a device backs off when the engine rejects for it (the policy failed or lacks admission):
/// long enough that a fleet does not storm a broken policy, short enough to recover soon after a fix.
pub const FAIL_CLOSED_BACK_OFF: Duration = Duration::from_secs(300);

/// The subscription and server facts of a device asking to register with a server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdmissionRequest {
    /// The server.
    pub server: ServerId,
    /// The subscription blocks attachment (barred or suspended).
    pub attachment_blocked: bool,
    /// The subscription permits this device to use this server.
    pub server_permitted: bool,
    /// Triggers the server may still send in its quota period; `None` without a quota.
    pub trigger_quota_left: Option<u32>,
    /// Seconds until the server's quota period starts again.
    pub quota_resets_in: u32,
    /// Triggers the server sent over the last minute.
    pub trigger_rate: u32,
    /// Triggers per minute the server is allowed; `None` without a limit.
    pub trigger_rate_limit: Option<u32>,
}

named_enum! {
    /// Why a registration is rejected.
    pub enum RejectCause as "a reject cause" {
        /// The subscription blocks attachment.
        AttachmentBlocked = "attachment-blocked",
        /// The subscription does not permit this device to use this server.
        ServerNotPermitted = "server-not-permitted",
        /// The server has used its trigger quota for this period.
        QuotaExhausted = "quota-exhausted",
        /// The server sends triggers faster than it is allowed.
        RateExceeded = "rate-exceeded",
        /// The policy failed, or does not export attach admission (see the verdict's fault); the engine
        /// rejected with [`FAIL_CLOSED_BACK_OFF`]. Never sent by a policy.
        PolicyFault = "policy-fault",
    }
}

/// The answer to a registration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Register the device.
    Allow,
    /// Refuse it.
    Reject {
        /// Why.
        cause: RejectCause,
        /// How long the device waits before asking again.
        back_off: Duration,
    },
}

/// Attach admission's answer. It always exists: when the policy fails or lacks admission, it is a
/// rejection with cause `policy-fault`, [`FAIL_CLOSED_BACK_OFF`] and the fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdmissionVerdict {
    /// The answer.
    pub admission: Admission,
    /// Why the policy could not decide, when it could not.
    pub fault: Option<Arc<PolicyFault>>,
}

impl AdmissionVerdict {
    /// The fail-closed verdict: reject, because of `fault`.
    pub fn fail_closed(fault: Arc<PolicyFault>) -> AdmissionVerdict {
        let admission = Admission::Reject { cause: RejectCause::PolicyFault, back_off: FAIL_CLOSED_BACK_OFF };
        AdmissionVerdict { admission, fault: Some(fault) }
    }

    /// The policy's answer for `request`, unless it makes no sense: admitting a device whose
    /// subscription blocks attachment is a fault, and fails closed.
    pub(crate) fn checked(request: &AdmissionRequest, admission: Admission) -> AdmissionVerdict {
        if admission == Admission::Allow && request.attachment_blocked {
            return AdmissionVerdict::fail_closed(Arc::new(PolicyFault::OutcomeNotAllowed {
                outcome: "allow",
                why: "the device's subscription blocks attachment",
            }));
        }
        AdmissionVerdict { admission, fault: None }
    }
}

impl fmt::Display for AdmissionVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.admission {
            Admission::Allow => write!(f, "allow")?,
            Admission::Reject { cause, back_off } => write!(f, "reject ({cause}, back off {} s)", back_off.as_secs())?,
        }
        write_fault(f, self.fault.as_deref())
    }
}
