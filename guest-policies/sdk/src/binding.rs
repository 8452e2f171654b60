//! [`BindingUpdate`]: binding and name updates at a mobility anchor (`pathsec:policy/binding-update`),
//! with the method's rule as overridable defaults.

use crate::Facts;
use crate::binding_bindings::exports::pathsec::policy::binding_update::{
    LocationOutcome, LocationReason, LocationUpdate, LocationVerdict, NameOutcome, NameRefusal, NameRequest,
};

/// A policy's binding updates. Export them with [`export_binding_update!`](crate::export_binding_update),
/// beside [`export!`](crate::export).
pub trait BindingUpdate {
    /// What the anchor does with a location update. Default, the method: act on it only under an
    /// established security association.
    fn decide_location(facts: &Facts, update: &LocationUpdate) -> LocationVerdict {
        let _ = facts;
        if update.security_association {
            LocationVerdict { outcome: LocationOutcome::Act, reason: LocationReason::Protected }
        } else {
            LocationVerdict { outcome: LocationOutcome::Ignore, reason: LocationReason::NoSecurityAssociation }
        }
    }

    /// Whether a name is granted. Default, the method: only under an established security
    /// association, strictly under the operator's domain, when free, and bound to the requester.
    fn decide_name(facts: &Facts, request: &NameRequest) -> NameOutcome {
        let _ = facts;
        if !request.security_association {
            NameOutcome::Refuse(NameRefusal::NoSecurityAssociation)
        } else if !request.under_operator_domain {
            NameOutcome::Refuse(NameRefusal::OutsideOperatorDomain)
        } else if !request.name_free {
            NameOutcome::Refuse(NameRefusal::NameTaken)
        } else {
            NameOutcome::Grant(request.requester.clone())
        }
    }
}
