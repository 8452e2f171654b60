//! Binding and name updates at a mobility anchor (`pathsec:policy/binding-update`): is a location
//! update acted on, and is a requested name granted? An optional export; without it every update is
//! ignored and every name refused.

use std::fmt;
use std::sync::Arc;

use crate::decision::{PolicyFault, write_fault};
use crate::fqdn::Fqdn;
use crate::named::named_enum;

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
