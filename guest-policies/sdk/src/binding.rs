//! [`BindingUpdate`]: binding and name updates at a mobility anchor (`pathsec:policy/binding-update`),
//! with the method's rule (001) as overridable defaults.

use crate::Facts;
use crate::binding_bindings::exports::pathsec::policy::binding_update::{
    GrantedName, LocationOutcome, LocationReason, LocationUpdate, LocationVerdict, NameOutcome, NameRefusal,
    NameRequest,
};

/// A policy's binding updates. Export them with [`export_binding_update!`](crate::export_binding_update),
/// beside [`export!`](crate::export).
pub trait BindingUpdate {
    /// What the anchor does with a location update. Default, the method: act on it only under an
    /// established security association that belongs to the home address being updated.
    fn decide_location(facts: &Facts, update: &LocationUpdate) -> LocationVerdict {
        let _ = facts;
        if !update.security_association {
            LocationVerdict { outcome: LocationOutcome::Ignore, reason: LocationReason::NoSecurityAssociation }
        } else if !update.covers_home_address {
            LocationVerdict { outcome: LocationOutcome::Ignore, reason: LocationReason::AddressNotCovered }
        } else {
            LocationVerdict { outcome: LocationOutcome::Act, reason: LocationReason::Protected }
        }
    }

    /// The operator's naming rule (001 step 9: a name consistent with the subscriber's name or number,
    /// e.g. `matti-virtanen.sonera.net`): the first labels a subscriber's names may have, best first.
    /// Default: the subscriber's name in lowercase with every run of other characters made one `-`,
    /// then its number's digits (`n` and the digits, so a label never starts with one).
    fn name_labels(request: &NameRequest) -> Vec<String> {
        let mut labels = Vec::new();
        if let Some(name) = &request.subscriber_name {
            let mut label = String::new();
            for c in name.chars() {
                if c.is_ascii_alphanumeric() {
                    label.push(c.to_ascii_lowercase());
                } else if !label.is_empty() && !label.ends_with('-') {
                    label.push('-');
                }
            }
            let label = label.trim_end_matches('-').to_owned();
            if !label.is_empty() && label.len() <= 63 {
                labels.push(label);
            }
        }
        if let Some(number) = &request.subscriber_number {
            let digits: String = number.chars().filter(char::is_ascii_digit).collect();
            if !digits.is_empty() && digits.len() <= 62 {
                labels.push(format!("n{digits}"));
            }
        }
        labels
    }

    /// Whether a name is granted, and which. Default, the method: only under an established security
    /// association; the name asked for when it is strictly under the operator's domain, free, and its
    /// first label one the naming rule gives ([`BindingUpdate::name_labels`]) directly under the
    /// domain; else the rule's first name (the host refuses it if another subscriber holds it); bound to
    /// the requester. Refused: outside the domain, taken, or nothing to name the subscriber by.
    fn decide_name(facts: &Facts, request: &NameRequest) -> NameOutcome {
        let _ = facts;
        if !request.security_association {
            return NameOutcome::Refuse(NameRefusal::NoSecurityAssociation);
        }
        let labels = Self::name_labels(request);
        let grant = |name: String| NameOutcome::Grant(GrantedName { name, bound_to: request.requester.clone() });
        if let Some(asked) = &request.name {
            if !request.under_operator_domain {
                return NameOutcome::Refuse(NameRefusal::OutsideOperatorDomain);
            }
            let first = asked.strip_suffix(&request.operator_domain).and_then(|rest| rest.strip_suffix('.'));
            if first.is_some_and(|first| labels.iter().any(|label| label == first)) {
                return if request.name_free {
                    grant(asked.clone())
                } else {
                    NameOutcome::Refuse(NameRefusal::NameTaken)
                };
            }
        }
        match labels.first() {
            Some(label) => grant(format!("{label}.{}", request.operator_domain)),
            None => NameOutcome::Refuse(NameRefusal::NoName),
        }
    }
}
