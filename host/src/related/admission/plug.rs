//! Attach admission and trigger submissions as related decisions (`RelatedDecision`): the checks the
//! host makes before asking the policy and records after, the calls through `admit` and
//! `submit-trigger`, the answers lifted into the library's terms, and their named methods on
//! `Decider`, `Worker`, `Runtime` and `RuntimeBuilder`.

use std::time::UNIX_EPOCH;

use wasmtime::Store;

use super::state::{AdmissionState, without_asking};
use super::*;
use crate::facts::FactSet;
use crate::runtime::{Runtime, RuntimeBuilder, Worker};
use crate::vocab::ServerId;
use crate::wasm::Decider;
use crate::wasm::plug::RelatedDecision;
use crate::wasm::sandbox::StoreState;
use crate::wasm::wit::exports::pathsec::policy::attach_admission as admission;

/// Whether a device may attach, through `admit`.
pub(crate) enum Admit {}

impl RelatedDecision for Admit {
    type Export = wit::AttachAdmission;
    type Request = AdmissionRequest;
    type Answer = admission::Admission;
    type Verdict = AdmissionVerdict;
    type State = AdmissionState;

    /// The stateless part of the engine's answer (the runtime's back-offs are [`Worker::admit`]'s).
    fn before(_state: &AdmissionState, request: &AdmissionRequest) -> Option<AdmissionVerdict> {
        without_asking(request)
    }

    fn call(
        guest: &admission::Guest,
        store: &mut Store<StoreState>,
        _facts: &FactSet,
        request: &AdmissionRequest,
    ) -> wasmtime::Result<admission::Admission> {
        guest.call_admit(store, &lower(request))
    }

    fn check(request: &AdmissionRequest, answer: admission::Admission) -> AdmissionVerdict {
        AdmissionVerdict::checked(request, lift(answer))
    }
}

/// Whether a server's trigger submission is delivered, through `submit-trigger`.
pub(crate) enum SubmitTrigger {}

impl RelatedDecision for SubmitTrigger {
    type Export = wit::AttachAdmission;
    type Request = TriggerSubmission;
    type Answer = admission::SubmissionVerdict;
    type Verdict = SubmissionVerdict;
    type State = ();

    fn call(
        guest: &admission::Guest,
        store: &mut Store<StoreState>,
        _facts: &FactSet,
        submission: &TriggerSubmission,
    ) -> wasmtime::Result<admission::SubmissionVerdict> {
        guest.call_submit_trigger(store, lower_submission(submission))
    }

    fn check(submission: &TriggerSubmission, answer: admission::SubmissionVerdict) -> SubmissionVerdict {
        use admission::SubmissionReason as R;
        let reason = match answer.reason {
            R::WithinLimits => SubmissionReason::WithinLimits,
            R::NotAuthorized => SubmissionReason::NotAuthorized,
            R::QuotaExhausted => SubmissionReason::QuotaExhausted,
            R::RateExceeded => SubmissionReason::RateExceeded,
        };
        SubmissionVerdict::checked(submission, answer.accept, reason)
    }
}

impl Decider {
    /// Decides whether a device may attach, with the policy's attach admission, without a runtime's
    /// back-offs (see [`Worker::admit`]): rejected without asking when the subscription forbids the
    /// server, admitted without asking when neither the flag nor a named server calls for the question,
    /// else the policy's answer. Never fails: a policy that fails, or does not export it, gets the attach
    /// rejected (cause `policy-fault`, [`FAIL_CLOSED_BACK_OFF`], with the fault).
    pub fn admit(&mut self, facts: &FactSet, request: &AdmissionRequest) -> AdmissionVerdict {
        self.related::<Admit>(facts, &AdmissionState::default(), request)
    }

    /// Decides a trigger submission with the counts and limits `submission` carries (see
    /// [`Worker::submit_trigger`](crate::Worker::submit_trigger), which counts). Never fails: a policy that fails, or does not export
    /// it, gets the submission refused (reason `policy-fault`, with the fault).
    pub fn submit_trigger(&mut self, facts: &FactSet, submission: &TriggerSubmission) -> SubmissionVerdict {
        self.related_here::<SubmitTrigger>(facts, submission)
    }
}

impl Worker {
    /// Attach admission with the runtime's back-offs: a device (by external identifier and server)
    /// still backing off from the server's last rejection is refused without asking (cause
    /// `backing-off`, the time left); else as [`Decider::admit`], and a server's rejection with a
    /// back-off is recorded for every worker of the runtime. With the back-off table full of live
    /// back-offs, an attach the server would be asked about is refused (cause `back-offs-full`).
    pub fn admit(&mut self, request: &AdmissionRequest) -> AdmissionVerdict {
        let state = self.runtime().related_state::<Admit>();
        let now = self.runtime().unix_now();
        if let Some(verdict) = state.before(request, now) {
            return verdict;
        }
        let verdict = self.related::<Admit>(request);
        let lists = self.runtime().lists();
        state.after(request, &verdict, now, lists.server(request.server));
        verdict
    }

    /// Decides `server`'s trigger submission: the runtime counts it (its submissions in the rate window,
    /// its accepted ones in the quota period) and asks the policy with the counts and the operator's
    /// limits ([`AdmissionLimits`]); an accepted one counts toward the quota. A policy cannot accept
    /// over the limits (that fails closed). A new server when the table is full is refused (reason
    /// `counters-full`) without asking.
    pub fn submit_trigger(&mut self, server: ServerId) -> SubmissionVerdict {
        let state = self.runtime().related_state::<Admit>();
        let now = self.runtime().unix_now();
        let lists = self.runtime().lists();
        let Some(submission) = state.submission(server, lists.server(server), now) else {
            return SubmissionVerdict { accept: false, reason: SubmissionReason::CountersFull, fault: None };
        };
        let verdict = self.related::<SubmitTrigger>(&submission);
        state.submitted(&submission, &verdict);
        verdict
    }
}

impl Runtime {
    /// What attach admission and trigger submissions have done: back-offs held and enforced, refusals
    /// by cause, servers counted.
    pub fn admission_stats(&self) -> AdmissionStats {
        self.related_state::<Admit>().stats()
    }

    /// The back-offs this runtime records from now on, one per server rejection with a back-off, for
    /// the other gateways of a fleet ([`Runtime::import_back_off`](crate::Runtime::import_back_off) there), so a device cannot evade a
    /// back-off by attaching through another. A receiver that falls 4,096 behind loses the newest
    /// (counted: `back_offs_not_sent`); a dropped one is forgotten.
    pub fn back_offs(&self) -> Receiver<BackOff> {
        self.related_state::<Admit>().subscribe()
    }

    /// Enforces a back-off another runtime recorded ([`Runtime::back_offs`](crate::Runtime::back_offs)): the device is refused
    /// here too until it ends (the later of two back-offs holds). `false` when the table is full of
    /// live back-offs (counted with the attaches refused for it); an ended back-off is ignored.
    pub fn import_back_off(&self, back_off: &BackOff) -> bool {
        let until = back_off.until.duration_since(UNIX_EPOCH).map_or(0, |since| since.as_secs());
        let server = self.server_id(&back_off.server);
        self.related_state::<Admit>().import(&back_off.external_id, server, until, self.unix_now())
    }
}

impl RuntimeBuilder {
    /// The bounds of the back-off and submission tables and the servers' trigger limits (default
    /// [`AdmissionLimits::default`]).
    pub fn admission(self, limits: AdmissionLimits) -> Result<RuntimeBuilder, AdmissionLimitsError> {
        limits.check()?;
        Ok(self.related_state::<Admit>(AdmissionState::new(limits)))
    }
}

/// An admission request as attach admission takes it.
fn lower(request: &AdmissionRequest) -> admission::AdmissionRequest {
    admission::AdmissionRequest {
        server: request.server.get(),
        external_id: request.external_id.as_str().to_owned(),
        attachment_block_enabled: request.attachment_block_enabled,
        server_named: request.server_named,
        proposed_name: request.proposed_name.clone(),
    }
}

/// A submission as attach admission takes it.
fn lower_submission(submission: &TriggerSubmission) -> admission::TriggerSubmission {
    admission::TriggerSubmission {
        server: submission.server.get(),
        accepted_this_period: submission.accepted_this_period,
        quota: submission.quota,
        period_resets_in: submission.period_resets_in,
        submitted_in_window: submission.submitted_in_window,
        rate_limit: submission.rate_limit,
        rate_window_seconds: submission.rate_window_seconds,
    }
}

/// Attach admission's answer in the library's terms.
fn lift(answer: admission::Admission) -> Admission {
    use admission::{Admission as W, RejectCause as C};
    match answer {
        W::Allow(name) => Admission::Allow { name },
        W::Reject(rejection) => Admission::Reject {
            cause: match rejection.cause {
                C::NotNeededNow => RejectCause::NotNeededNow,
                C::UnknownDevice => RejectCause::UnknownDevice,
                C::NotPermitted => RejectCause::NotPermitted,
                C::Overloaded => RejectCause::Overloaded,
            },
            back_off: rejection.back_off_seconds.map(|seconds| Duration::from_secs(u64::from(seconds))),
        },
    }
}
