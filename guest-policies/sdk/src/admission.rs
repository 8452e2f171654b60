//! [`AttachAdmission`]: attach admission (`pathsec:policy/attach-admission`), with the engine's
//! reference rule as overridable defaults.

use crate::Facts;
use crate::admission_bindings::exports::pathsec::policy::attach_admission::{
    Admission, AdmissionRequest, RejectCause, Rejection,
};

/// A policy's attach admission: may a device register with a server? Export it with
/// [`export_attach_admission!`](crate::export_attach_admission), beside [`export!`](crate::export).
pub trait AttachAdmission {
    /// How long a device backs off for `cause`, in seconds. Defaults: a blocked subscription 1 hour,
    /// a server the subscription does not permit 1 day (neither changes soon), an exhausted quota
    /// until the quota period starts again (at least a minute), a rate over the limit 1 minute.
    fn back_off_seconds(cause: RejectCause, request: &AdmissionRequest) -> u32 {
        match cause {
            RejectCause::AttachmentBlocked => 3_600,
            RejectCause::ServerNotPermitted => 86_400,
            RejectCause::QuotaExhausted => request.quota_resets_in.max(60),
            RejectCause::RateExceeded => 60,
        }
    }

    /// The answer. Default: reject when the subscription blocks attachment, when it does not permit
    /// the server, when the server's trigger quota is used up, or when its trigger rate is over its
    /// limit — the first that applies is the cause — and allow otherwise.
    fn admit(facts: &Facts, request: &AdmissionRequest) -> Admission {
        let _ = facts;
        let cause = if request.attachment_blocked {
            Some(RejectCause::AttachmentBlocked)
        } else if !request.server_permitted {
            Some(RejectCause::ServerNotPermitted)
        } else if request.trigger_quota_left == Some(0) {
            Some(RejectCause::QuotaExhausted)
        } else if request.trigger_rate_limit.is_some_and(|limit| request.trigger_rate > limit) {
            Some(RejectCause::RateExceeded)
        } else {
            None
        };
        match cause {
            None => Admission::Allow,
            Some(cause) => {
                Admission::Reject(Rejection { cause, back_off_seconds: Self::back_off_seconds(cause, request) })
            }
        }
    }
}
