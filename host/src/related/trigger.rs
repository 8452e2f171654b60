//! The trigger guard (`pathsec:policy/trigger-guard`): may a device act on a trigger that arrived
//! with GBA push protection? An optional export; without it every trigger is discarded.

use std::fmt;
use std::sync::Arc;

use wasmtime::Store;

use super::Interface;
use crate::facts::FactSet;
use crate::runtime::Worker;
use crate::vocab::named::named_enum;
use crate::vocab::{PolicyFault, ServerId, write_fault};
use crate::wasm::Decider;
use crate::wasm::plug::{RelatedDecision, Verdict};
use crate::wasm::sandbox::StoreState;
use crate::wasm::wit::{self, exports::pathsec::policy::trigger_guard as guard};

/// What the device found checking a trigger's GBA push protection (the GPI).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PushProtection {
    /// The GPI's MAC verified with the push key the device holds for the sending server.
    pub mac_verified: bool,
    /// The trigger's fields (application port, payload) are inside what the MAC covers.
    pub fields_covered: bool,
    /// The push key's lifetime had ended when the trigger arrived.
    pub key_expired: bool,
}

/// When a trigger may be acted on, in whole seconds relative to its arrival.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    opens_in: i64,
    closes_in: i64,
}

impl Window {
    /// A window that opens `opens_in` seconds after the trigger arrived (0 or less: already open) and
    /// closes `closes_in` seconds after (less than 0: already closed). `None` when it would close
    /// before it opens.
    pub fn new(opens_in: i64, closes_in: i64) -> Option<Window> {
        (opens_in <= closes_in).then_some(Window { opens_in, closes_in })
    }

    /// Seconds until it opens.
    pub fn opens_in(self) -> i64 {
        self.opens_in
    }

    /// Seconds until it closes.
    pub fn closes_in(self) -> i64 {
        self.closes_in
    }

    /// It has not opened yet, and will.
    pub fn is_ahead(self) -> bool {
        self.opens_in > 0
    }
}

/// A trigger a device received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trigger {
    /// The sending server (the NAF).
    pub naf: ServerId,
    /// The device is registered with it (holds a push key for it).
    pub registered: bool,
    /// The GBA push protection, when the trigger carries any.
    pub protection: Option<PushProtection>,
    /// Its time window, when it has one.
    pub window: Option<Window>,
}

named_enum! {
    /// What the device does with a trigger.
    #[non_exhaustive]
    pub enum TriggerOutcome as "a trigger outcome" {
        /// Act on it now.
        Accept = "accept",
        /// Drop it.
        Discard = "discard",
        /// Keep it and act on it once its window opens.
        AcceptWithinWindow = "accept-within-window",
    }
}

named_enum! {
    /// Why the trigger guard decided as it did.
    #[non_exhaustive]
    pub enum TriggerReason as "a trigger reason" {
        /// Valid protection, from a registered server, with a valid key, inside its window.
        Protected = "protected",
        /// The trigger carries no GBA push protection.
        Unprotected = "unprotected",
        /// The GPI's MAC did not verify.
        MacInvalid = "mac-invalid",
        /// The trigger's fields are outside the protection, and the policy requires them covered.
        FieldsUnprotected = "fields-unprotected",
        /// The push key's lifetime had ended.
        KeyExpired = "key-expired",
        /// The device is not registered with the sending server.
        ServerNotRegistered = "server-not-registered",
        /// The trigger's window has closed.
        WindowClosed = "window-closed",
        /// The trigger's window has not opened yet: it is kept until it does.
        WindowNotOpen = "window-not-open",
        /// The policy failed, or does not export the trigger guard (see the verdict's fault); the engine
        /// discarded the trigger. Never sent by a policy.
        PolicyFault = "policy-fault",
    }
}

/// The trigger guard's answer. Like a [`Decision`](crate::Decision), it always exists: when the
/// policy fails or lacks the guard, it is `discard` with reason `policy-fault` and the fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TriggerVerdict {
    /// What to do.
    pub outcome: TriggerOutcome,
    /// Why.
    pub reason: TriggerReason,
    /// Why the policy could not decide, when it could not.
    pub fault: Option<Arc<PolicyFault>>,
}

impl TriggerVerdict {
    /// The fail-closed verdict: discard, because of `fault`.
    pub fn fail_closed(fault: Arc<PolicyFault>) -> TriggerVerdict {
        TriggerVerdict { outcome: TriggerOutcome::Discard, reason: TriggerReason::PolicyFault, fault: Some(fault) }
    }

    /// The policy's answer for `trigger`, unless it makes no sense: keeping a trigger for its window
    /// when it has no window ahead is a fault, and fails closed.
    pub(crate) fn checked(trigger: &Trigger, outcome: TriggerOutcome, reason: TriggerReason) -> TriggerVerdict {
        let window_ahead = trigger.window.is_some_and(Window::is_ahead);
        if outcome == TriggerOutcome::AcceptWithinWindow && !window_ahead {
            return TriggerVerdict::fail_closed(Arc::new(PolicyFault::OutcomeNotAllowed {
                outcome: outcome.name(),
                why: "the trigger has no window that is still to open",
            }));
        }
        TriggerVerdict { outcome, reason, fault: None }
    }
}

impl fmt::Display for TriggerVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.outcome, self.reason)?;
        write_fault(f, self.fault.as_deref())
    }
}

impl Verdict for TriggerVerdict {
    fn fail_closed(fault: Arc<PolicyFault>) -> TriggerVerdict {
        TriggerVerdict::fail_closed(fault)
    }

    fn fault(&self) -> Option<&Arc<PolicyFault>> {
        self.fault.as_ref()
    }

    fn is_fail_closed(&self) -> bool {
        self.reason == TriggerReason::PolicyFault
    }

    fn same_answer(&self, other: &TriggerVerdict) -> bool {
        (self.outcome, self.reason) == (other.outcome, other.reason)
    }
}

/// The trigger guard, as `pathsec check` reports it.
pub const TRIGGER_GUARD: Interface = Interface::of::<wit::TriggerGuard>(
    "trigger_guard",
    "triggers",
    "guarded (exports pathsec:policy/trigger-guard)",
    "no trigger guard: every GBA push trigger is discarded (fail closed)",
);

/// A device's decision on a GBA push trigger, through `decide-trigger`.
pub(crate) enum DecideTrigger {}

impl RelatedDecision for DecideTrigger {
    type Export = wit::TriggerGuard;
    type Request = Trigger;
    type Answer = guard::TriggerVerdict;
    type Verdict = TriggerVerdict;
    type State = ();

    fn call(
        guest: &guard::Guest,
        store: &mut Store<StoreState>,
        _facts: &FactSet,
        trigger: &Trigger,
    ) -> wasmtime::Result<guard::TriggerVerdict> {
        guest.call_decide_trigger(store, lower(trigger))
    }

    fn check(trigger: &Trigger, answer: guard::TriggerVerdict) -> TriggerVerdict {
        let (outcome, reason) = lift(answer);
        TriggerVerdict::checked(trigger, outcome, reason)
    }
}

impl Decider {
    /// Decides what the device does with a trigger it received through GBA push, with the policy's
    /// trigger guard. Never fails: a policy that fails, or does not export the guard, gets the trigger
    /// discarded (reason `policy-fault`, with the fault).
    pub fn decide_trigger(&mut self, facts: &FactSet, trigger: &Trigger) -> TriggerVerdict {
        self.related_here::<DecideTrigger>(facts, trigger)
    }
}

impl Worker {
    /// The trigger guard's verdict on `trigger`, from the active policy on the current lists (not
    /// cached: triggers are rare). See [`Decider::decide_trigger`].
    pub fn decide_trigger(&mut self, trigger: &Trigger) -> TriggerVerdict {
        self.related::<DecideTrigger>(trigger)
    }
}

/// A trigger as the trigger guard takes it.
fn lower(trigger: &Trigger) -> guard::Trigger {
    guard::Trigger {
        naf: trigger.naf.get(),
        registered: trigger.registered,
        protection: trigger.protection.map(|p| guard::PushProtection {
            mac_verified: p.mac_verified,
            fields_covered: p.fields_covered,
            key_expired: p.key_expired,
        }),
        window: trigger.window.map(|w| guard::Window { opens_in: w.opens_in(), closes_in: w.closes_in() }),
    }
}

/// The trigger guard's answer in the library's terms.
fn lift(verdict: guard::TriggerVerdict) -> (TriggerOutcome, TriggerReason) {
    use guard::{TriggerOutcome as WO, TriggerReason as WR};
    let outcome = match verdict.outcome {
        WO::Accept => TriggerOutcome::Accept,
        WO::Discard => TriggerOutcome::Discard,
        WO::AcceptWithinWindow => TriggerOutcome::AcceptWithinWindow,
    };
    let reason = match verdict.reason {
        WR::Protected => TriggerReason::Protected,
        WR::Unprotected => TriggerReason::Unprotected,
        WR::MacInvalid => TriggerReason::MacInvalid,
        WR::FieldsUnprotected => TriggerReason::FieldsUnprotected,
        WR::KeyExpired => TriggerReason::KeyExpired,
        WR::ServerNotRegistered => TriggerReason::ServerNotRegistered,
        WR::WindowClosed => TriggerReason::WindowClosed,
        WR::WindowNotOpen => TriggerReason::WindowNotOpen,
    };
    (outcome, reason)
}
