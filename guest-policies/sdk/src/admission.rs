//! [`AttachAdmission`]: the interworking function's checks on a server
//! (`pathsec:policy/attach-admission`) — attach admission and trigger submissions — with the engine's
//! reference rule as overridable defaults.

use crate::Facts;
use crate::admission_bindings::exports::pathsec::policy::attach_admission::{
    Admission, AdmissionRequest, RejectCause, Rejection, SubmissionReason, SubmissionVerdict, TriggerSubmission,
};

/// A policy's attach admission and trigger-submission check, answering for the server. Export it with
/// [`export_attach_admission!`](crate::export_attach_admission), beside [`export!`](crate::export).
///
/// The host asks `admit` only when the method does (the subscription's "attachment block enabled"
/// flag, or a server named at attach), after checking the subscription's permission and the device's
/// back-off itself, and enforces the back-off a rejection gives. It asks `submit_trigger` with its own
/// counts of the server's submissions and the operator's limits, and never lets an answer accept over
/// those limits.
pub trait AttachAdmission {
    /// Seconds a device rejected for `cause` backs off. Defaults: a device the server does not permit or
    /// know, an hour; a device not needed now, ten minutes; an overloaded server, a minute.
    fn back_off_seconds(cause: RejectCause, request: &AdmissionRequest) -> Option<u32> {
        let _ = request;
        Some(match cause {
            RejectCause::NotPermitted | RejectCause::UnknownDevice => 3_600,
            RejectCause::NotNeededNow => 600,
            RejectCause::Overloaded => 60,
        })
    }

    /// The name granted to a device that proposed `proposed`. Default: the proposed name.
    fn grant_name(facts: &Facts, request: &AdmissionRequest, proposed: &str) -> String {
        let _ = (facts, request);
        proposed.to_owned()
    }

    /// The server's answer. Default: reject (`not-permitted`) when the operator's List 2 names the
    /// server for no home network — the operator has no secure path B to it, so it admits no device —
    /// and allow otherwise, granting [`AttachAdmission::grant_name`] when the device proposed a name.
    fn admit(facts: &Facts, request: &AdmissionRequest) -> Admission {
        if !facts.server_listed(request.server) {
            let cause = RejectCause::NotPermitted;
            return Admission::Reject(Rejection { cause, back_off_seconds: Self::back_off_seconds(cause, request) });
        }
        Admission::Allow(request.proposed_name.as_deref().map(|proposed| Self::grant_name(facts, request, proposed)))
    }

    /// Whether the server's trigger submission is delivered. Default: refuse a server List 2 names for
    /// no home network (`not-authorized`), one whose quota for the period is used up, or one over its
    /// rate limit, in that order; accept otherwise.
    fn submit_trigger(facts: &Facts, submission: &TriggerSubmission) -> SubmissionVerdict {
        let refuse = |reason| SubmissionVerdict { accept: false, reason };
        if !facts.server_listed(submission.server) {
            return refuse(SubmissionReason::NotAuthorized);
        }
        if submission.quota.is_some_and(|quota| submission.accepted_this_period >= quota) {
            return refuse(SubmissionReason::QuotaExhausted);
        }
        if submission.rate_limit.is_some_and(|limit| submission.submitted_in_window > limit) {
            return refuse(SubmissionReason::RateExceeded);
        }
        SubmissionVerdict { accept: true, reason: SubmissionReason::WithinLimits }
    }
}
