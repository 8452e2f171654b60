//! The related decisions the method's family describes beside the path decision: the trigger guard,
//! attach admission, access trust, media security and binding updates. Each plugs into the `wasm` wing
//! through one trait (`RelatedDecision`) and adds its named methods to [`Decider`] and [`Worker`]; the
//! `wasm` and `runtime` wings name none of them. Uses the vocabulary, the facts, `wasm` and `runtime`.

use crate::wasm::Policy;
use crate::wasm::plug::OptionalExport;
#[cfg(doc)]
use crate::{Decider, Worker};

pub(crate) mod access;
pub(crate) mod admission;
pub(crate) mod binding_update;
pub(crate) mod media;
pub(crate) mod trigger;

pub use access::ACCESS_TRUST;
pub use access::{AccessReason, AccessRequest, AccessVerdict, AvailableKey, Bootstrap, BootstrapMethod};
pub use admission::ATTACH_ADMISSION;
pub use admission::{Admission, AdmissionRequest, AdmissionVerdict, FAIL_CLOSED_BACK_OFF, RejectCause};
pub use binding_update::BINDING_UPDATE;
pub use binding_update::{
    LocationOutcome, LocationReason, LocationUpdate, LocationVerdict, NameOutcome, NameRefusal, NameRequest,
    NameVerdict,
};
pub use media::MEDIA_SECURITY;
pub use media::{CallParties, MediaProtection, MediaReason, MediaRequest, MediaVerdict, Voucher};
pub use trigger::TRIGGER_GUARD;
pub use trigger::{PushProtection, Trigger, TriggerOutcome, TriggerReason, TriggerVerdict, Window};

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
