//! Attach admission (`pathsec:policy/attach-admission`): may a device register with a server? An
//! optional export; without it every registration is rejected.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use wasmtime::Store;

use super::Interface;
use crate::facts::FactSet;
use crate::runtime::Worker;
use crate::vocab::named::named_enum;
use crate::vocab::{PolicyFault, ServerId, write_fault};
use crate::wasm::Decider;
use crate::wasm::plug::{RelatedDecision, Verdict};
use crate::wasm::sandbox::StoreState;
use crate::wasm::wit::{self, exports::pathsec::policy::attach_admission as admission};

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
    #[non_exhaustive]
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
#[non_exhaustive]
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
        self.admission == other.admission
    }
}

/// Attach admission, as `pathsec check` reports it.
pub const ATTACH_ADMISSION: Interface = Interface::of::<wit::AttachAdmission>(
    "attach_admission",
    "admission",
    "decided (exports pathsec:policy/attach-admission)",
    "no attach admission: every registration is rejected (fail closed)",
);

/// Whether a device may register with a server, through `admit`.
pub(crate) enum Admit {}

impl RelatedDecision for Admit {
    type Export = wit::AttachAdmission;
    type Request = AdmissionRequest;
    type Answer = admission::Admission;
    type Verdict = AdmissionVerdict;
    type State = ();

    fn call(
        guest: &admission::Guest,
        store: &mut Store<StoreState>,
        _facts: &FactSet,
        request: &AdmissionRequest,
    ) -> wasmtime::Result<admission::Admission> {
        guest.call_admit(store, lower(request))
    }

    fn check(request: &AdmissionRequest, answer: admission::Admission) -> AdmissionVerdict {
        AdmissionVerdict::checked(request, lift(answer))
    }
}

impl Decider {
    /// Decides whether a device may register with a server, with the policy's attach admission. Never
    /// fails: a policy that fails, or does not export it, gets the registration rejected (cause
    /// `policy-fault`, [`FAIL_CLOSED_BACK_OFF`], with the fault).
    pub fn admit(&mut self, facts: &FactSet, request: &AdmissionRequest) -> AdmissionVerdict {
        self.related_here::<Admit>(facts, request)
    }
}

impl Worker {
    /// Attach admission's answer to `request`; see [`Decider::admit`].
    pub fn admit(&mut self, request: &AdmissionRequest) -> AdmissionVerdict {
        self.related::<Admit>(request)
    }
}

/// An admission request as attach admission takes it.
fn lower(request: &AdmissionRequest) -> admission::AdmissionRequest {
    admission::AdmissionRequest {
        server: request.server.get(),
        attachment_blocked: request.attachment_blocked,
        server_permitted: request.server_permitted,
        trigger_quota_left: request.trigger_quota_left,
        quota_resets_in: request.quota_resets_in,
        trigger_rate: request.trigger_rate,
        trigger_rate_limit: request.trigger_rate_limit,
    }
}

/// Attach admission's answer in the library's terms.
fn lift(answer: admission::Admission) -> Admission {
    use admission::{Admission as W, RejectCause as C};
    match answer {
        W::Allow => Admission::Allow,
        W::Reject(rejection) => Admission::Reject {
            cause: match rejection.cause {
                C::AttachmentBlocked => RejectCause::AttachmentBlocked,
                C::ServerNotPermitted => RejectCause::ServerNotPermitted,
                C::QuotaExhausted => RejectCause::QuotaExhausted,
                C::RateExceeded => RejectCause::RateExceeded,
            },
            back_off: Duration::from_secs(u64::from(rejection.back_off_seconds)),
        },
    }
}
