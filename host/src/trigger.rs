//! The trigger guard (`pathsec:policy/trigger-guard`): may a device act on a trigger that arrived
//! with GBA push protection? An optional export; without it every trigger is discarded.

use std::fmt;
use std::sync::Arc;

use crate::decision::{PolicyFault, write_fault};
use crate::facts::ServerId;
use crate::named::named_enum;

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
