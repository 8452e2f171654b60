//! Binding and name updates at a mobility anchor (`pathsec:policy/binding-update`): is a location
//! update acted on, and is a requested name granted? An optional export; without it every update is
//! ignored and every name refused.

use std::fmt;
use std::sync::Arc;

use wasmtime::Store;

use super::Interface;
use crate::facts::FactSet;
use crate::runtime::Worker;
use crate::vocab::named::named_enum;
use crate::vocab::{Fqdn, PolicyFault, write_fault};
use crate::wasm::Decider;
use crate::wasm::plug::{RelatedDecision, Verdict};
use crate::wasm::sandbox::StoreState;
use crate::wasm::wit::{self, exports::pathsec::policy::binding_update as binding};

/// A location (binding) update from a mobile node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocationUpdate {
    /// An established security association with the mobile node protects the update.
    pub security_association: bool,
}

named_enum! {
    /// What the anchor does with a location update.
    pub enum LocationOutcome as "a location outcome" {
        /// Update the binding.
        Act = "act",
        /// Leave the binding as it is.
        Ignore = "ignore",
    }
}

named_enum! {
    /// Why the anchor does what it does with a location update.
    #[non_exhaustive]
    pub enum LocationReason as "a location reason" {
        /// A security association protects the update.
        Protected = "protected",
        /// No security association protects the update.
        NoSecurityAssociation = "no-security-association",
        /// The policy failed, or does not export binding updates (see the verdict's fault); the engine
        /// ignored the update. Never sent by a policy.
        PolicyFault = "policy-fault",
    }
}

/// The answer to a location update. When the policy fails or lacks binding updates, the update is
/// ignored with reason `policy-fault` and the fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocationVerdict {
    /// What to do.
    pub outcome: LocationOutcome,
    /// Why.
    pub reason: LocationReason,
    /// Why the policy could not decide, when it could not.
    pub fault: Option<Arc<PolicyFault>>,
}

impl LocationVerdict {
    /// The fail-closed verdict: ignore the update, because of `fault`.
    pub fn fail_closed(fault: Arc<PolicyFault>) -> LocationVerdict {
        LocationVerdict { outcome: LocationOutcome::Ignore, reason: LocationReason::PolicyFault, fault: Some(fault) }
    }

    /// The policy's answer, unless it acts on an update no security association protects: a fault.
    pub(crate) fn checked(
        update: &LocationUpdate,
        outcome: LocationOutcome,
        reason: LocationReason,
    ) -> LocationVerdict {
        if outcome == LocationOutcome::Act && !update.security_association {
            let why = "no security association protects the update";
            return LocationVerdict::fail_closed(Arc::new(PolicyFault::OutcomeNotAllowed { outcome: "act", why }));
        }
        LocationVerdict { outcome, reason, fault: None }
    }
}

impl fmt::Display for LocationVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.outcome, self.reason)?;
        write_fault(f, self.fault.as_deref())
    }
}

/// A subscriber asks for a name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameRequest {
    /// The name asked for.
    pub name: Fqdn,
    /// The operator's domain, under which names are granted.
    pub operator_domain: Fqdn,
    /// No one holds the name now.
    pub name_free: bool,
    /// The subscriber asking.
    pub requester: String,
    /// An established security association protects the request.
    pub security_association: bool,
}

impl NameRequest {
    /// `name` is strictly under `operator_domain`, label by label (`meter.iot.example.com` is under
    /// `iot.example.com`; `iot.example.com` itself and `evil-iot.example.com` are not).
    pub fn under_operator_domain(&self) -> bool {
        let (name, domain) = (self.name.as_str(), self.operator_domain.as_str());
        name.len() > domain.len() + 1 && name.ends_with(domain) && name[..name.len() - domain.len()].ends_with('.')
    }
}

named_enum! {
    /// Why a name is refused.
    #[non_exhaustive]
    pub enum NameRefusal as "a name refusal" {
        /// No security association protects the request.
        NoSecurityAssociation = "no-security-association",
        /// The name is not under the operator's domain.
        OutsideOperatorDomain = "outside-operator-domain",
        /// Someone holds the name.
        NameTaken = "name-taken",
        /// The policy failed, or does not export binding updates (see the verdict's fault); the engine
        /// refused the name. Never sent by a policy.
        PolicyFault = "policy-fault",
    }
}

/// The answer to a name request.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NameOutcome {
    /// Grant the name, bound to this subscriber.
    Grant {
        /// The subscriber the name is bound to: always the requester.
        bound_to: String,
    },
    /// Refuse it.
    Refuse(NameRefusal),
}

/// The answer to a name request, checked. When the policy fails or lacks binding updates, or grants a
/// name it may not, the name is refused with `policy-fault` and the fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameVerdict {
    /// The answer.
    pub outcome: NameOutcome,
    /// Why the policy could not decide, when it could not.
    pub fault: Option<Arc<PolicyFault>>,
}

impl NameVerdict {
    /// The fail-closed verdict: refuse the name, because of `fault`.
    pub fn fail_closed(fault: Arc<PolicyFault>) -> NameVerdict {
        NameVerdict { outcome: NameOutcome::Refuse(NameRefusal::PolicyFault), fault: Some(fault) }
    }

    /// The policy's answer, unless it grants a name without a security association, outside the
    /// operator's domain, that someone holds, or bound to anyone but the requester: a fault.
    pub(crate) fn checked(request: &NameRequest, outcome: NameOutcome) -> NameVerdict {
        if let NameOutcome::Grant { bound_to } = &outcome {
            let why = if !request.security_association {
                Some("no security association protects the request")
            } else if !request.under_operator_domain() {
                Some("the name is not under the operator's domain")
            } else if !request.name_free {
                Some("someone holds the name")
            } else if *bound_to != request.requester {
                Some("a name is bound to the subscriber that asked for it, and no other")
            } else {
                None
            };
            if let Some(why) = why {
                return NameVerdict::fail_closed(Arc::new(PolicyFault::OutcomeNotAllowed { outcome: "grant", why }));
            }
        }
        NameVerdict { outcome, fault: None }
    }
}

impl fmt::Display for NameVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.outcome {
            NameOutcome::Grant { bound_to } => write!(f, "grant (bound to `{bound_to}`)")?,
            NameOutcome::Refuse(refusal) => write!(f, "refuse ({refusal})")?,
        }
        write_fault(f, self.fault.as_deref())
    }
}

impl Verdict for LocationVerdict {
    fn fail_closed(fault: Arc<PolicyFault>) -> LocationVerdict {
        LocationVerdict::fail_closed(fault)
    }

    fn fault(&self) -> Option<&Arc<PolicyFault>> {
        self.fault.as_ref()
    }
    fn is_fail_closed(&self) -> bool {
        self.reason == LocationReason::PolicyFault
    }

    fn same_answer(&self, other: &LocationVerdict) -> bool {
        (self.outcome, self.reason) == (other.outcome, other.reason)
    }
}

impl Verdict for NameVerdict {
    fn fail_closed(fault: Arc<PolicyFault>) -> NameVerdict {
        NameVerdict::fail_closed(fault)
    }

    fn fault(&self) -> Option<&Arc<PolicyFault>> {
        self.fault.as_ref()
    }
    fn is_fail_closed(&self) -> bool {
        self.outcome == NameOutcome::Refuse(NameRefusal::PolicyFault)
    }

    fn same_answer(&self, other: &NameVerdict) -> bool {
        self.outcome == other.outcome
    }
}

/// Binding updates, as `pathsec check` reports them.
pub const BINDING_UPDATE: Interface = Interface::of::<wit::BindingUpdate>(
    "binding_update",
    "bindings",
    "decided (exports pathsec:policy/binding-update)",
    "no binding updates: every update is ignored, every name refused (fail closed)",
);

/// What a mobility anchor does with a location update, through `decide-location`.
pub(crate) enum DecideLocation {}

impl RelatedDecision for DecideLocation {
    type Export = wit::BindingUpdate;
    type Request = LocationUpdate;
    type Answer = binding::LocationVerdict;
    type Verdict = LocationVerdict;
    type State = ();

    fn call(
        guest: &binding::Guest,
        store: &mut Store<StoreState>,
        _facts: &FactSet,
        update: &LocationUpdate,
    ) -> wasmtime::Result<binding::LocationVerdict> {
        guest.call_decide_location(store, binding::LocationUpdate { security_association: update.security_association })
    }

    fn check(update: &LocationUpdate, answer: binding::LocationVerdict) -> LocationVerdict {
        let outcome = match answer.outcome {
            binding::LocationOutcome::Act => LocationOutcome::Act,
            binding::LocationOutcome::Ignore => LocationOutcome::Ignore,
        };
        let reason = match answer.reason {
            binding::LocationReason::Protected => LocationReason::Protected,
            binding::LocationReason::NoSecurityAssociation => LocationReason::NoSecurityAssociation,
        };
        LocationVerdict::checked(update, outcome, reason)
    }
}

/// Whether a requested name is granted, and to whom, through `decide-name`.
pub(crate) enum DecideName {}

impl RelatedDecision for DecideName {
    type Export = wit::BindingUpdate;
    type Request = NameRequest;
    type Answer = binding::NameOutcome;
    type Verdict = NameVerdict;
    type State = ();

    fn call(
        guest: &binding::Guest,
        store: &mut Store<StoreState>,
        _facts: &FactSet,
        request: &NameRequest,
    ) -> wasmtime::Result<binding::NameOutcome> {
        let request = binding::NameRequest {
            name: request.name.as_str().to_owned(),
            operator_domain: request.operator_domain.as_str().to_owned(),
            under_operator_domain: request.under_operator_domain(),
            name_free: request.name_free,
            requester: request.requester.clone(),
            security_association: request.security_association,
        };
        guest.call_decide_name(store, &request)
    }

    fn check(request: &NameRequest, answer: binding::NameOutcome) -> NameVerdict {
        let outcome = match answer {
            binding::NameOutcome::Grant(bound_to) => NameOutcome::Grant { bound_to },
            binding::NameOutcome::Refuse(refusal) => NameOutcome::Refuse(match refusal {
                binding::NameRefusal::NoSecurityAssociation => NameRefusal::NoSecurityAssociation,
                binding::NameRefusal::OutsideOperatorDomain => NameRefusal::OutsideOperatorDomain,
                binding::NameRefusal::NameTaken => NameRefusal::NameTaken,
            }),
        };
        NameVerdict::checked(request, outcome)
    }
}

impl Decider {
    /// Decides whether a mobility anchor acts on a location (binding) update, with the policy's binding
    /// updates. Never fails: a policy that fails, or does not export them, gets the update ignored
    /// (reason `policy-fault`, with the fault).
    pub fn decide_location(&mut self, facts: &FactSet, update: &LocationUpdate) -> LocationVerdict {
        self.related_here::<DecideLocation>(facts, update)
    }

    /// Decides whether a requested name is granted, and to whom it is bound, with the policy's binding
    /// updates. Never fails: a policy that fails, does not export them, or grants a name it may not,
    /// gets the name refused (`policy-fault`, with the fault).
    pub fn decide_name(&mut self, facts: &FactSet, request: &NameRequest) -> NameVerdict {
        self.related_here::<DecideName>(facts, request)
    }
}

impl Worker {
    /// What the anchor does with a location update; see [`Decider::decide_location`].
    pub fn decide_location(&mut self, update: &LocationUpdate) -> LocationVerdict {
        self.related::<DecideLocation>(update)
    }

    /// Whether a requested name is granted; see [`Decider::decide_name`].
    pub fn decide_name(&mut self, request: &NameRequest) -> NameVerdict {
        self.related::<DecideName>(request)
    }
}
