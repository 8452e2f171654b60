//! The related decisions the method's family describes beside the path decision: the trigger guard,
//! attach admission, access trust, media security and binding updates. Each plugs into the `wasm` wing
//! through one trait (`RelatedDecision`) and adds its named methods to [`Decider`] and [`Worker`]; the
//! `wasm` and `runtime` wings name none of them. Uses the vocabulary, the facts, `wasm` and `runtime`;
//! never the cases.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::wasm::Policy;
use crate::wasm::plug::OptionalExport;
#[cfg(doc)]
use crate::{Decider, Worker};

pub(crate) mod access;
pub(crate) mod admission;
pub(crate) mod binding_update;
pub(crate) mod bounded;
pub(crate) mod call_identity;
pub mod files;
pub(crate) mod media;
pub(crate) mod trigger;

pub use access::ACCESS_TRUST;
pub use access::{AccessReason, AccessRequest, AccessVerdict, AvailableKey, Bootstrap, BootstrapMethod};
pub use admission::ATTACH_ADMISSION;
pub use admission::{
    Admission, AdmissionLimits, AdmissionLimitsError, AdmissionRequest, AdmissionStats, AdmissionVerdict, BackOff,
    ExternalId, ExternalIdError, FAIL_CLOSED_BACK_OFF, MAX_NAME, RejectCause, SubmissionReason, SubmissionVerdict,
    TriggerLimits, TriggerSubmission, valid_name,
};
pub use binding_update::BINDING_UPDATE;
pub use binding_update::{
    AssociationError, BindingLimits, BindingStats, LocationOutcome, LocationReason, LocationUpdate, LocationVerdict,
    NameAsk, NameOutcome, NameRecord, NameRefusal, NameRequest, NameVerdict, strictly_under,
};
pub use call_identity::{CallIdentity, IdentityError};
pub use media::MEDIA_SECURITY;
pub use media::{
    CallParties, GatewayCall, MAX_VOUCHER, MediaLimits, MediaProtection, MediaReason, MediaRequest, MediaStats,
    MediaVerdict, Voucher, VoucherError,
};
pub use trigger::TRIGGER_GUARD;
pub use trigger::{
    PushProtection, PushStats, PushTrigger, REPLAY_WINDOW, Trigger, TriggerOutcome, TriggerReason, TriggerVerdict,
    Window,
};

/// The counts a related decision's host-held state keeps (what it refused, dropped, recorded), by index.
pub(crate) struct Tally<const N: usize>([AtomicU64; N]);

impl<const N: usize> Default for Tally<N> {
    fn default() -> Tally<N> {
        Tally(std::array::from_fn(|_| AtomicU64::new(0)))
    }
}

impl<const N: usize> Tally<N> {
    /// Counts one of `stat`.
    pub(crate) fn add(&self, stat: usize) {
        self.0[stat].fetch_add(1, Ordering::Relaxed);
    }

    /// The count of `stat`.
    pub(crate) fn get(&self, stat: usize) -> u64 {
        self.0[stat].load(Ordering::Relaxed)
    }
}

/// Every interface of the related decisions, in the order `pathsec check` reports them.
pub const INTERFACES: &[Interface] = &[TRIGGER_GUARD, ATTACH_ADMISSION, ACCESS_TRUST, MEDIA_SECURITY, BINDING_UPDATE];

/// An optional interface a policy exports for related decisions, and what `pathsec check` says of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Interface {
    /// Its name in a component, e.g. `pathsec:policy/trigger-guard@0.1.0`.
    pub export: &'static str,
    /// How a policy built on the Rust SDK exports it.
    pub sdk_macro: &'static str,
    /// Its key in `pathsec check --format json`.
    pub key: &'static str,
    /// Its label in `pathsec check`.
    pub label: &'static str,
    /// What `pathsec check` says of a policy that exports it.
    pub exported: &'static str,
    /// What it says of one that does not: the engine's fail-closed answer.
    pub missing: &'static str,
}

impl Interface {
    const fn of<E: OptionalExport>(
        key: &'static str,
        label: &'static str,
        exported: &'static str,
        missing: &'static str,
    ) -> Interface {
        Interface { export: E::EXPORT, sdk_macro: E::SDK_MACRO, key, label, exported, missing }
    }

    /// Whether `policy` exports this interface (type-checked when it loaded).
    pub fn exported_by(&self, policy: &Policy) -> bool {
        policy.exports(self.export)
    }
}

#[cfg(all(test, feature = "bundled-policies"))]
mod tests {
    //! The plug's host-held state: the check before the call and the record after it are on the one path
    //! every related decision takes, and a runtime's workers share one state per kind of decision.

    use std::sync::{Arc, Mutex};

    use wasmtime::Store;

    use super::trigger::DecideTrigger;
    use super::{Trigger, TriggerOutcome, TriggerReason, TriggerVerdict};
    use crate::facts::FactSet;
    use crate::vocab::{Fqdn, PolicyFault};
    use crate::wasm::plug::{OptionalExport, RelatedDecision};
    use crate::wasm::sandbox::StoreState;
    use crate::wasm::wit::exports::pathsec::policy::trigger_guard as guard;
    use crate::{Engine, Runtime};

    /// The trigger decision, with a state that can refuse before the call and records every verdict.
    enum Guarded {}

    #[derive(Default)]
    struct Seen {
        refuse: Mutex<bool>,
        verdicts: Mutex<Vec<(TriggerOutcome, TriggerReason)>>,
    }

    impl RelatedDecision for Guarded {
        type Export = <DecideTrigger as RelatedDecision>::Export;
        type Request = Trigger;
        type Answer = guard::TriggerVerdict;
        type Verdict = TriggerVerdict;
        type State = Seen;

        fn before(state: &Seen, _trigger: &Trigger) -> Option<TriggerVerdict> {
            let refuse = *state.refuse.lock().expect("unpoisoned");
            refuse.then(|| {
                let why = "the host refused it before asking the policy";
                TriggerVerdict::fail_closed(Arc::new(PolicyFault::OutcomeNotAllowed { outcome: "accept", why }))
            })
        }

        fn call(
            guest: &<Self::Export as OptionalExport>::Guest,
            store: &mut Store<StoreState>,
            facts: &FactSet,
            trigger: &Trigger,
        ) -> wasmtime::Result<guard::TriggerVerdict> {
            DecideTrigger::call(guest, store, facts, trigger)
        }

        fn check(trigger: &Trigger, answer: guard::TriggerVerdict) -> TriggerVerdict {
            DecideTrigger::check(trigger, answer)
        }

        fn after(state: &Seen, _trigger: &Trigger, verdict: &TriggerVerdict) {
            state.verdicts.lock().expect("unpoisoned").push((verdict.outcome, verdict.reason));
        }
    }

    fn unprotected(facts: &mut crate::FactSetBuilder) -> Trigger {
        let naf = facts.server(Fqdn::known_valid("push.example.com"));
        Trigger { naf, registered: true, protection: None, window: None }
    }

    #[test]
    fn the_check_before_answers_and_the_record_after_sees_every_verdict() {
        let engine = Engine::new().expect("engine");
        let policy = engine.load_policy("reference", crate::bundled::REFERENCE).expect("loads");
        let mut builder = FactSet::builder();
        let trigger = unprotected(&mut builder);
        let facts = builder.build();
        let mut decider = policy.decider();
        let state = Seen::default();

        let asked = decider.related::<Guarded>(&facts, &state, &trigger);
        assert_eq!((asked.outcome, asked.reason), (TriggerOutcome::Discard, TriggerReason::Unprotected));
        *state.refuse.lock().expect("unpoisoned") = true;
        let refused = decider.related::<Guarded>(&facts, &state, &trigger);
        assert_eq!(refused.reason, TriggerReason::PolicyFault);
        assert!(refused.fault.is_some_and(|fault| fault.to_string().contains("refused it before asking")));
        // The record sees the policy's verdict, not the one the check gave before the call.
        let seen = state.verdicts.lock().expect("unpoisoned").clone();
        assert_eq!(seen, [(TriggerOutcome::Discard, TriggerReason::Unprotected)]);
    }

    #[test]
    fn a_runtimes_workers_share_one_state_per_kind_of_decision() {
        let engine = Engine::new().expect("engine");
        let runtime =
            Runtime::new(engine.load_policy("reference", crate::bundled::REFERENCE).expect("loads")).expect("runtime");
        let naf = runtime.server_id(&Fqdn::known_valid("push.example.com"));
        let trigger = Trigger { naf, registered: true, protection: None, window: None };
        let (mut one, mut two) = (runtime.worker(), runtime.worker());
        one.related::<Guarded>(&trigger);
        two.related::<Guarded>(&trigger);
        let state = runtime.related_state::<Guarded>();
        assert_eq!(state.verdicts.lock().expect("unpoisoned").len(), 2, "both workers recorded into one state");
        assert!(Arc::ptr_eq(&state, &runtime.related_state::<Guarded>()));
    }
}
