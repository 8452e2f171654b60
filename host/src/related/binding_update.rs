//! Binding and name updates at a mobility anchor (`pathsec:policy/binding-update`), after 001
//! (WO 2004/105340): is a location update acted on, and which name is granted? An optional export;
//! without it every update is ignored and every name refused.
//!
//! The runtime keeps what the method's home agent keeps (001 steps 7-9): each subscriber's security
//! association with the home addresses it was set up for ([`Runtime::establish_association`]), so a
//! binding update for a home address the association does not belong to is refused
//! ([`Worker::update_binding`]); and the names it granted (its view of the DNS zone), so a name is
//! granted only when free, one name per subscriber, and the decision returns the record to publish
//! ([`Worker::request_name`]: name and address), which the embedder writes to DNS. Both bounded and
//! counted ([`BindingStats`]).

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use wasmtime::Store;

use super::bounded::Recent;
use super::{Interface, Tally};
use crate::facts::FactSet;
use crate::runtime::{Runtime, RuntimeBuilder, Worker};
use crate::sync::Locked;
use crate::vocab::named::named_enum;
use crate::vocab::{Fqdn, PolicyFault, write_fault};
use crate::wasm::Decider;
use crate::wasm::plug::{RelatedDecision, Verdict};
use crate::wasm::sandbox::StoreState;
use crate::wasm::wit::{self, exports::pathsec::policy::binding_update as binding};

/// A location (binding) update from a mobile node, with the facts about its protection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LocationUpdate {
    /// An established security association with the mobile node protects the update.
    pub security_association: bool,
    /// That association belongs to the home address the update is for.
    pub covers_home_address: bool,
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
        /// The association protecting the update belongs to another home address.
        AddressNotCovered = "address-not-covered",
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

    /// The policy's answer, unless it acts on an update no security association for its home address
    /// protects: a fault.
    pub(crate) fn checked(
        update: &LocationUpdate,
        outcome: LocationOutcome,
        reason: LocationReason,
    ) -> LocationVerdict {
        if outcome == LocationOutcome::Act && !(update.security_association && update.covers_home_address) {
            let why = "no security association for the home address protects the update";
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

/// A subscriber asks for a name (001 steps 6-9).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameRequest {
    /// The name asked for, if any.
    pub name: Option<Fqdn>,
    /// The operator's domain, under which names are granted.
    pub operator_domain: Fqdn,
    /// No other subscriber holds `name` now (false without one). [`Worker::request_name`] fills it
    /// from the runtime's zone.
    pub name_free: bool,
    /// The subscriber asking.
    pub requester: String,
    /// An established security association protects the request.
    pub security_association: bool,
    /// The subscriber's telephone number, when the subscriber database has it (the naming rule's
    /// input).
    pub subscriber_number: Option<String>,
    /// The subscriber's name, when the subscriber database has it (the naming rule's input).
    pub subscriber_name: Option<String>,
}

/// Whether `name` is strictly under `domain`, label by label (`meter.iot.example.com` is under
/// `iot.example.com`; `iot.example.com` itself and `evil-iot.example.com` are not).
pub fn strictly_under(name: &Fqdn, domain: &Fqdn) -> bool {
    let (name, domain) = (name.as_str(), domain.as_str());
    name.len() > domain.len() + 1 && name.ends_with(domain) && name[..name.len() - domain.len()].ends_with('.')
}

impl NameRequest {
    /// The name asked for is strictly under the operator's domain ([`strictly_under`]).
    pub fn under_operator_domain(&self) -> bool {
        self.name.as_ref().is_some_and(|name| strictly_under(name, &self.operator_domain))
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
        /// No name was asked that the naming rule allows, and none can be derived.
        NoName = "no-name",
        /// The engine: the runtime's zone holds as many names as it may; a new one is refused rather
        /// than another evicted. Never sent by a policy.
        ZoneFull = "zone-full",
        /// The policy failed, or does not export binding updates (see the verdict's fault); the engine
        /// refused the name. Never sent by a policy.
        PolicyFault = "policy-fault",
    }
}

/// The answer to a name request.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NameOutcome {
    /// Grant a name, bound to this subscriber.
    Grant {
        /// The name: the one asked for, or one the operator's naming rule gives.
        name: Fqdn,
        /// The subscriber the name is bound to: always the requester.
        bound_to: String,
    },
    /// Refuse it.
    Refuse(NameRefusal),
}

/// A name's record to publish in DNS (001 step 9: the home agent configures the DNS server): the
/// embedder writes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameRecord {
    /// The name granted.
    pub name: Fqdn,
    /// The address it points at.
    pub address: IpAddr,
}

/// The answer to a name request, checked. When the policy fails or lacks binding updates, or grants a
/// name it may not, the name is refused with `policy-fault` and the fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameVerdict {
    /// The answer.
    pub outcome: NameOutcome,
    /// The record to publish, for a name granted by [`Worker::request_name`].
    pub record: Option<NameRecord>,
    /// Why the policy could not decide, when it could not.
    pub fault: Option<Arc<PolicyFault>>,
}

impl NameVerdict {
    /// The fail-closed verdict: refuse the name, because of `fault`.
    pub fn fail_closed(fault: Arc<PolicyFault>) -> NameVerdict {
        NameVerdict { outcome: NameOutcome::Refuse(NameRefusal::PolicyFault), record: None, fault: Some(fault) }
    }

    fn refused(refusal: NameRefusal) -> NameVerdict {
        NameVerdict { outcome: NameOutcome::Refuse(refusal), record: None, fault: None }
    }

    /// The policy's answer, unless it grants a name without a security association, a name not
    /// strictly under the operator's domain, the name asked for while someone holds it, bound to
    /// anyone but the requester, or refuses with an engine's refusal: a fault.
    pub(crate) fn checked(request: &NameRequest, outcome: NameOutcome) -> NameVerdict {
        let why = match &outcome {
            NameOutcome::Grant { name, bound_to } => {
                if !request.security_association {
                    Some("no security association protects the request")
                } else if !strictly_under(name, &request.operator_domain) {
                    Some("the name is not strictly under the operator's domain")
                } else if request.name.as_ref() == Some(name) && !request.name_free {
                    Some("someone holds the name")
                } else if *bound_to != request.requester {
                    Some("a name is bound to the subscriber that asked for it, and no other")
                } else {
                    None
                }
            }
            NameOutcome::Refuse(NameRefusal::ZoneFull | NameRefusal::PolicyFault) => {
                Some("the refusal is the engine's, not a policy's")
            }
            NameOutcome::Refuse(_) => None,
        };
        if let Some(why) = why {
            let outcome = if matches!(outcome, NameOutcome::Grant { .. }) { "grant" } else { "refuse" };
            return NameVerdict::fail_closed(Arc::new(PolicyFault::OutcomeNotAllowed { outcome, why }));
        }
        NameVerdict { outcome, record: None, fault: None }
    }
}

impl fmt::Display for NameVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.outcome {
            NameOutcome::Grant { name, bound_to } => write!(f, "grant `{name}` (bound to `{bound_to}`)")?,
            NameOutcome::Refuse(refusal) => write!(f, "refuse ({refusal})")?,
        }
        if let Some(record) = &self.record {
            write!(f, ", publish {} -> {}", record.name, record.address)?;
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
        let update = binding::LocationUpdate {
            security_association: update.security_association,
            covers_home_address: update.covers_home_address,
        };
        guest.call_decide_location(store, update)
    }

    fn check(update: &LocationUpdate, answer: binding::LocationVerdict) -> LocationVerdict {
        let outcome = match answer.outcome {
            binding::LocationOutcome::Act => LocationOutcome::Act,
            binding::LocationOutcome::Ignore => LocationOutcome::Ignore,
        };
        let reason = match answer.reason {
            binding::LocationReason::Protected => LocationReason::Protected,
            binding::LocationReason::NoSecurityAssociation => LocationReason::NoSecurityAssociation,
            binding::LocationReason::AddressNotCovered => LocationReason::AddressNotCovered,
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
    type State = BindingState;

    fn call(
        guest: &binding::Guest,
        store: &mut Store<StoreState>,
        _facts: &FactSet,
        request: &NameRequest,
    ) -> wasmtime::Result<binding::NameOutcome> {
        let request = binding::NameRequest {
            name: request.name.as_ref().map(|name| name.as_str().to_owned()),
            operator_domain: request.operator_domain.as_str().to_owned(),
            under_operator_domain: request.under_operator_domain(),
            name_free: request.name.is_some() && request.name_free,
            requester: request.requester.clone(),
            security_association: request.security_association,
            subscriber_number: request.subscriber_number.clone(),
            subscriber_name: request.subscriber_name.clone(),
        };
        guest.call_decide_name(store, &request)
    }

    fn check(request: &NameRequest, answer: binding::NameOutcome) -> NameVerdict {
        let outcome = match answer {
            binding::NameOutcome::Grant(granted) => match granted.name.parse::<Fqdn>() {
                Ok(name) => NameOutcome::Grant { name, bound_to: granted.bound_to },
                Err(_) => {
                    let why = "the name granted is not a valid FQDN";
                    return NameVerdict::fail_closed(Arc::new(PolicyFault::OutcomeNotAllowed {
                        outcome: "grant",
                        why,
                    }));
                }
            },
            binding::NameOutcome::Refuse(refusal) => NameOutcome::Refuse(match refusal {
                binding::NameRefusal::NoSecurityAssociation => NameRefusal::NoSecurityAssociation,
                binding::NameRefusal::OutsideOperatorDomain => NameRefusal::OutsideOperatorDomain,
                binding::NameRefusal::NameTaken => NameRefusal::NameTaken,
                binding::NameRefusal::NoName => NameRefusal::NoName,
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

/// The bounds of a runtime's binding state; see [`RuntimeBuilder::bindings`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BindingLimits {
    /// Subscribers' security associations held at most (default 1,000,000); when full the least
    /// recently used is evicted whole (its subscriber's updates are then refused until it is set up
    /// again).
    pub associations: usize,
    /// Home addresses one association may cover (default 8).
    pub addresses_per_association: usize,
    /// Names the zone holds at most (default 1,000,000); when full a new name is refused
    /// (`zone-full`) rather than another evicted.
    pub names: usize,
}

impl Default for BindingLimits {
    fn default() -> BindingLimits {
        BindingLimits { associations: 1_000_000, addresses_per_association: 8, names: 1_000_000 }
    }
}

/// Why an association is not set up.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AssociationError {
    /// The subscriber is empty or not printable ASCII.
    #[error("`{subscriber}` is not a subscriber identity: write 1 to 128 printable ASCII characters, no spaces")]
    Subscriber {
        /// The identity given, shortened.
        subscriber: String,
    },
    /// No home address, or more than the limit.
    #[error("an association covers 1 to {limit} home addresses; {given} were given")]
    Addresses {
        /// How many were given.
        given: usize,
        /// The limit.
        limit: usize,
    },
}

/// What the binding state has done (counts since the runtime started).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BindingStats {
    /// Associations held now.
    pub associations: u64,
    /// Names in the zone now.
    pub names: u64,
    /// Binding updates refused: no association, or one for another home address.
    pub updates_refused: u64,
    /// Associations evicted whole to make room.
    pub evicted: u64,
    /// Names refused because the zone was full.
    pub refused_zone_full: u64,
    /// Names refused because another subscriber took the name.
    pub refused_taken: u64,
}

struct Bindings {
    /// Each subscriber's association: the home addresses it was set up for.
    associations: Recent<String, Vec<IpAddr>>,
    /// Name → subscriber, and subscriber → its name.
    holders: HashMap<Fqdn, String>,
    names: HashMap<String, Fqdn>,
}

/// The host-held binding state of a runtime: associations and the zone of granted names.
pub(crate) struct BindingState {
    limits: BindingLimits,
    bindings: Mutex<Bindings>,
    stats: Tally<4>,
}

const UPDATES_REFUSED: usize = 0;
const EVICTED: usize = 1;
const ZONE_FULL: usize = 2;
const TAKEN: usize = 3;

impl Default for BindingState {
    fn default() -> BindingState {
        BindingState::new(BindingLimits::default())
    }
}

impl BindingState {
    fn new(limits: BindingLimits) -> BindingState {
        let bindings =
            Bindings { associations: Recent::new(limits.associations), holders: HashMap::new(), names: HashMap::new() };
        BindingState { limits, bindings: Mutex::new(bindings), stats: Tally::default() }
    }

    fn lock(&self) -> MutexGuard<'_, Bindings> {
        // The tables are whole between statements: a panic cannot leave an entry half-made.
        self.bindings.locked()
    }

    fn establish(&self, subscriber: &str, home_addresses: Vec<IpAddr>) -> Result<(), AssociationError> {
        if subscriber.is_empty() || subscriber.len() > 128 || !subscriber.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(AssociationError::Subscriber { subscriber: subscriber.chars().take(80).collect() });
        }
        let limit = self.limits.addresses_per_association;
        if home_addresses.is_empty() || home_addresses.len() > limit {
            return Err(AssociationError::Addresses { given: home_addresses.len(), limit });
        }
        let evicted = self.lock().associations.insert(subscriber.to_owned(), home_addresses);
        for _ in 0..evicted {
            self.stats.add(EVICTED);
        }
        Ok(())
    }

    /// Whether `subscriber` has an association, and whether it covers `home_address` (marking it used).
    fn covers(&self, subscriber: &str, home_address: IpAddr) -> (bool, bool) {
        match self.lock().associations.touch(&subscriber.to_owned()) {
            Some(home_addresses) => (true, home_addresses.contains(&home_address)),
            None => (false, false),
        }
    }

    fn stats(&self) -> BindingStats {
        let all = self.lock();
        BindingStats {
            associations: all.associations.len() as u64,
            names: all.holders.len() as u64,
            updates_refused: self.stats.get(UPDATES_REFUSED),
            evicted: self.stats.get(EVICTED),
            refused_zone_full: self.stats.get(ZONE_FULL),
            refused_taken: self.stats.get(TAKEN),
        }
    }
}

/// A name asked for through [`Worker::request_name`]: the subscriber, what it asked, what the
/// subscriber database says of it, and the address the name is to point at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameAsk {
    /// The subscriber asking.
    pub requester: String,
    /// The name asked for, if any.
    pub name: Option<Fqdn>,
    /// The operator's domain.
    pub operator_domain: Fqdn,
    /// The subscriber's telephone number, when known.
    pub subscriber_number: Option<String>,
    /// The subscriber's name, when known.
    pub subscriber_name: Option<String>,
    /// The address the name is to point at.
    pub address: IpAddr,
}

impl Runtime {
    /// Sets up `subscriber`'s security association with the anchor (001 step 7: after the AKA re-run)
    /// for `home_addresses`; replaces one it had.
    pub fn establish_association(&self, subscriber: &str, home_addresses: Vec<IpAddr>) -> Result<(), AssociationError> {
        self.related_state::<DecideName>().establish(subscriber, home_addresses)
    }

    /// What the binding state has done.
    pub fn binding_stats(&self) -> BindingStats {
        self.related_state::<DecideName>().stats()
    }
}

impl RuntimeBuilder {
    /// The binding state's bounds (default [`BindingLimits::default`]).
    pub fn bindings(self, limits: BindingLimits) -> RuntimeBuilder {
        self.related_state::<DecideName>(BindingState::new(limits))
    }
}

impl Worker {
    /// A binding update from `subscriber` for `home_address`: the runtime says whether an association
    /// protects it and whether that association belongs to the home address, and the policy decides
    /// (acting without both is a fault).
    pub fn update_binding(&mut self, subscriber: &str, home_address: IpAddr) -> LocationVerdict {
        let state = self.runtime().related_state::<DecideName>();
        let (security_association, covers_home_address) = state.covers(subscriber, home_address);
        let verdict = self.related::<DecideLocation>(&LocationUpdate { security_association, covers_home_address });
        if verdict.outcome != LocationOutcome::Act {
            state.stats.add(UPDATES_REFUSED);
        }
        verdict
    }

    /// A name request (001 steps 6-9): the runtime says whether an association protects it and
    /// whether the name asked is free in its zone; the policy decides with the operator's naming rule;
    /// a name granted is checked against the zone again (another subscriber's name is refused,
    /// `name-taken`), recorded for the requester (its previous name released), and returned with the
    /// record to publish. A full zone refuses new names (`zone-full`).
    pub fn request_name(&mut self, ask: &NameAsk) -> NameVerdict {
        let state = self.runtime().related_state::<DecideName>();
        // Both read under one lock: the association and the zone as they are together.
        let (security_association, name_free) = {
            let all = state.lock();
            let free = |name: &Fqdn| all.holders.get(name).is_none_or(|holder| *holder == ask.requester);
            (all.associations.contains_key(&ask.requester), ask.name.as_ref().is_some_and(free))
        };
        let request = NameRequest {
            name: ask.name.clone(),
            operator_domain: ask.operator_domain.clone(),
            name_free,
            requester: ask.requester.clone(),
            security_association,
            subscriber_number: ask.subscriber_number.clone(),
            subscriber_name: ask.subscriber_name.clone(),
        };
        let mut verdict = self.related::<DecideName>(&request);
        let NameOutcome::Grant { name, .. } = &verdict.outcome else { return verdict };
        let mut all = state.lock();
        match all.holders.get(name) {
            Some(holder) if *holder != ask.requester => {
                state.stats.add(TAKEN);
                return NameVerdict::refused(NameRefusal::NameTaken);
            }
            Some(_) => {}
            None if all.holders.len() >= state.limits.names && !all.names.contains_key(&ask.requester) => {
                state.stats.add(ZONE_FULL);
                return NameVerdict::refused(NameRefusal::ZoneFull);
            }
            None => {}
        }
        if let Some(previous) = all.names.insert(ask.requester.clone(), name.clone())
            && previous != *name
        {
            all.holders.remove(&previous);
        }
        all.holders.insert(name.clone(), ask.requester.clone());
        verdict.record = Some(NameRecord { name: name.clone(), address: ask.address });
        verdict
    }
}
