//! [`TriggerGuard`]: the trigger guard (`pathsec:policy/trigger-guard`), with the method's rule as
//! overridable defaults.

use crate::Facts;
use crate::triggers::exports::pathsec::policy::trigger_guard::{
    Trigger, TriggerOutcome, TriggerReason, TriggerVerdict,
};

/// A policy's trigger guard: may the device act on a trigger that came with GBA push protection?
/// Export it with [`export_trigger_guard!`](crate::export_trigger_guard), beside [`export!`](crate::export).
pub trait TriggerGuard {
    /// Whether the trigger's fields must be inside what the GBA push MAC covers. Default: yes.
    fn fields_must_be_covered() -> bool {
        true
    }

    /// The verdict. Default, the method: a trigger without GBA push protection, with a MAC that did
    /// not verify, from a server the device is not registered with, under an expired push key, with
    /// fields outside the protection (when [`fields_must_be_covered`](Self::fields_must_be_covered)), or
    /// after its window closed is discarded; one whose window has not opened is kept for it; any
    /// other is accepted. The first check that fails is the reason.
    fn decide_trigger(facts: &Facts, trigger: &Trigger) -> TriggerVerdict {
        let _ = facts;
        let discard = |reason| TriggerVerdict { outcome: TriggerOutcome::Discard, reason };
        let Some(protection) = trigger.protection else {
            return discard(TriggerReason::Unprotected);
        };
        if !protection.mac_verified {
            return discard(TriggerReason::MacInvalid);
        }
        if !trigger.registered {
            return discard(TriggerReason::ServerNotRegistered);
        }
        if protection.key_expired {
            return discard(TriggerReason::KeyExpired);
        }
        if !protection.fields_covered && Self::fields_must_be_covered() {
            return discard(TriggerReason::FieldsUnprotected);
        }
        match trigger.window {
            Some(window) if window.closes_in < 0 => discard(TriggerReason::WindowClosed),
            Some(window) if window.opens_in > 0 => {
                TriggerVerdict { outcome: TriggerOutcome::AcceptWithinWindow, reason: TriggerReason::WindowNotOpen }
            }
            _ => TriggerVerdict { outcome: TriggerOutcome::Accept, reason: TriggerReason::Protected },
        }
    }
}
