//! Access trust and bootstrap (`pathsec:policy/access-trust`): is the device's access protected, and
//! when application-layer security is needed, how is it set up? An optional export; without it every
//! access is untrusted and no bootstrap method is named.

use std::fmt;
use std::sync::Arc;

use wasmtime::Store;

use super::Interface;
use crate::facts::FactSet;
use crate::runtime::Worker;
use crate::vocab::named::named_enum;
use crate::vocab::{AccessKind, PlmnId, PolicyFault, write_fault};
use crate::wasm::Decider;
use crate::wasm::plug::{RelatedDecision, Verdict};
use crate::wasm::sandbox::StoreState;
use crate::wasm::wit::{self, exports::pathsec::policy::access_trust as trust};

named_enum! {
    /// How application-layer security can be set up.
    #[non_exhaustive]
    pub enum BootstrapMethod as "a bootstrap method" {
        /// GBA push.
        GbaPush = "gba-push",
        /// EAP-AKA through the service layer.
        EapAka = "eap-aka",
        /// A key delivered by the access network's EAP authentication.
        AccessNetworkKey = "access-network-key",
        /// A key provisioned in the device beforehand.
        PreProvisionedKey = "pre-provisioned-key",
    }
}

/// A key held for one bootstrap method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AvailableKey {
    /// The method it serves.
    pub method: BootstrapMethod,
    /// Its lifetime has ended.
    pub expired: bool,
}

/// The access facts of a device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessRequest {
    /// The network the access connects to, when known: its List 1 entry says which access kinds it
    /// vouches for, as for the path decision.
    pub serving: Option<PlmnId>,
    /// How the device reaches the core.
    pub access: AccessKind,
    /// For non-3GPP access: the identifier of the access network, checked against the fact set's
    /// trusted access networks ([`FactSet::trusts_access_network`](crate::FactSet::trusts_access_network)).
    pub access_network: Option<String>,
    /// For untrusted non-3GPP access: the IPsec tunnel to the core is up.
    pub tunnel_up: bool,
    /// The keys held, at most one per method.
    pub keys: Vec<AvailableKey>,
}

impl AccessRequest {
    /// Whether `method` has an unexpired key.
    pub fn has_key(&self, method: BootstrapMethod) -> bool {
        self.keys.iter().any(|key| key.method == method && !key.expired)
    }
}

named_enum! {
    /// Why the access is trusted or not.
    #[non_exhaustive]
    pub enum AccessReason as "an access reason" {
        /// 3GPP access.
        ThreeGpp = "three-gpp",
        /// Trusted non-3GPP access through a listed access network.
        TrustedAccessListed = "trusted-access-listed",
        /// Non-3GPP access through an access network not on the list.
        TrustedAccessNotListed = "trusted-access-not-listed",
        /// Untrusted non-3GPP access through a tunnel that is up.
        TunnelUp = "tunnel-up",
        /// Untrusted non-3GPP access without its tunnel.
        TunnelDown = "tunnel-down",
        /// Wireline access through a network whose List 1 entry vouches for wireline.
        Wireline = "wireline",
        /// The serving network is unknown, or its List 1 entry does not vouch for the access kind.
        NotVouched = "not-vouched",
        /// The policy failed, or does not export access trust (see the verdict's fault); the engine
        /// counted the access untrusted. Never sent by a policy.
        PolicyFault = "policy-fault",
    }
}

/// How application-layer security is set up, if at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Bootstrap {
    /// The access is trusted: nothing to set up on its account.
    NotNeeded,
    /// Set it up with this method.
    Use(BootstrapMethod),
    /// No method has an unexpired key: nothing is sent until one has.
    NoneAvailable,
}

impl fmt::Display for Bootstrap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Bootstrap::NotNeeded => f.write_str("not-needed"),
            Bootstrap::Use(method) => write!(f, "use {method}"),
            Bootstrap::NoneAvailable => f.write_str("none-available"),
        }
    }
}

/// Access trust's answer. It always exists: when the policy fails or lacks access trust, the access is
/// untrusted with reason `policy-fault`, no bootstrap method, and the fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessVerdict {
    /// The access is protected.
    pub trusted: bool,
    /// Why.
    pub reason: AccessReason,
    /// How to set up application-layer security.
    pub bootstrap: Bootstrap,
    /// Why the policy could not decide, when it could not.
    pub fault: Option<Arc<PolicyFault>>,
}

impl AccessVerdict {
    /// The fail-closed verdict: untrusted, nothing to bootstrap with, because of `fault`.
    pub fn fail_closed(fault: Arc<PolicyFault>) -> AccessVerdict {
        AccessVerdict {
            trusted: false,
            reason: AccessReason::PolicyFault,
            bootstrap: Bootstrap::NoneAvailable,
            fault: Some(fault),
        }
    }

    /// The policy's answer, unless it makes no sense: no bootstrap for an untrusted access, or a method
    /// without an unexpired key, is a fault, and fails closed.
    pub(crate) fn checked(
        request: &AccessRequest,
        trusted: bool,
        reason: AccessReason,
        bootstrap: Bootstrap,
    ) -> AccessVerdict {
        let nonsense = match bootstrap {
            Bootstrap::NotNeeded if !trusted => Some(("not-needed", "the access is not trusted")),
            Bootstrap::Use(method) if !request.has_key(method) => {
                Some(("use-method", "the method it names has no unexpired key"))
            }
            _ => None,
        };
        if let Some((outcome, why)) = nonsense {
            return AccessVerdict::fail_closed(Arc::new(PolicyFault::OutcomeNotAllowed { outcome, why }));
        }
        AccessVerdict { trusted, reason, bootstrap, fault: None }
    }
}

impl fmt::Display for AccessVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let trust = if self.trusted { "trusted" } else { "untrusted" };
        write!(f, "{trust} ({}), bootstrap {}", self.reason, self.bootstrap)?;
        write_fault(f, self.fault.as_deref())
    }
}

impl Verdict for AccessVerdict {
    fn fail_closed(fault: Arc<PolicyFault>) -> AccessVerdict {
        AccessVerdict::fail_closed(fault)
    }

    fn fault(&self) -> Option<&Arc<PolicyFault>> {
        self.fault.as_ref()
    }

    fn is_fail_closed(&self) -> bool {
        self.reason == AccessReason::PolicyFault
    }

    fn same_answer(&self, other: &AccessVerdict) -> bool {
        (self.trusted, self.reason, self.bootstrap) == (other.trusted, other.reason, other.bootstrap)
    }
}

/// Access trust, as `pathsec check` reports it.
pub const ACCESS_TRUST: Interface = Interface::of::<wit::AccessTrust>(
    "access_trust",
    "access",
    "decided (exports pathsec:policy/access-trust)",
    "no access trust: every access is untrusted, no bootstrap method (fail closed)",
);

/// Whether a device's access is trusted, and how to bootstrap, through `decide-access`.
pub(crate) enum DecideAccess {}

impl RelatedDecision for DecideAccess {
    type Export = wit::AccessTrust;
    type Request = AccessRequest;
    type Answer = trust::AccessVerdict;
    type Verdict = AccessVerdict;
    type State = ();

    fn call(
        guest: &trust::Guest,
        store: &mut Store<StoreState>,
        facts: &FactSet,
        request: &AccessRequest,
    ) -> wasmtime::Result<trust::AccessVerdict> {
        guest.call_decide_access(store, &lower(request, facts))
    }

    fn check(request: &AccessRequest, answer: trust::AccessVerdict) -> AccessVerdict {
        let (trusted, reason, bootstrap) = lift(answer);
        AccessVerdict::checked(request, trusted, reason, bootstrap)
    }
}

impl Decider {
    /// Decides whether a device's access is trusted and, if not, how to bootstrap application-layer
    /// security, with the policy's access trust. Never fails: a policy that fails, or does not export
    /// it, gets the access untrusted with no bootstrap method (reason `policy-fault`, with the fault).
    pub fn decide_access(&mut self, facts: &FactSet, request: &AccessRequest) -> AccessVerdict {
        self.related_here::<DecideAccess>(facts, request)
    }
}

impl Worker {
    /// Access trust's verdict on `request`, with the current lists' trusted access networks; see
    /// [`Decider::decide_access`].
    pub fn decide_access(&mut self, request: &AccessRequest) -> AccessVerdict {
        self.related::<DecideAccess>(request)
    }
}

fn bootstrap_method(method: BootstrapMethod) -> trust::BootstrapMethod {
    match method {
        BootstrapMethod::GbaPush => trust::BootstrapMethod::GbaPush,
        BootstrapMethod::EapAka => trust::BootstrapMethod::EapAka,
        BootstrapMethod::AccessNetworkKey => trust::BootstrapMethod::AccessNetworkKey,
        BootstrapMethod::PreProvisionedKey => trust::BootstrapMethod::PreProvisionedKey,
    }
}

/// An access request as access trust takes it: whether its access network is listed, from `facts`.
fn lower(request: &AccessRequest, facts: &FactSet) -> trust::AccessRequest {
    trust::AccessRequest {
        serving: request.serving.map(wit::plmn),
        access: wit::access_kind(request.access),
        access_network_listed: request.access_network.as_deref().is_some_and(|id| facts.trusts_access_network(id)),
        tunnel_up: request.tunnel_up,
        keys: request
            .keys
            .iter()
            .map(|key| trust::AvailableKey { method: bootstrap_method(key.method), expired: key.expired })
            .collect(),
    }
}

/// Access trust's answer in the library's terms: (trusted, reason, bootstrap).
fn lift(verdict: trust::AccessVerdict) -> (bool, AccessReason, Bootstrap) {
    use trust::{AccessReason as WR, Bootstrap as WB, BootstrapMethod as WM};
    let reason = match verdict.reason {
        WR::ThreeGpp => AccessReason::ThreeGpp,
        WR::TrustedAccessListed => AccessReason::TrustedAccessListed,
        WR::TrustedAccessNotListed => AccessReason::TrustedAccessNotListed,
        WR::TunnelUp => AccessReason::TunnelUp,
        WR::TunnelDown => AccessReason::TunnelDown,
        WR::Wireline => AccessReason::Wireline,
        WR::NotVouched => AccessReason::NotVouched,
    };
    let bootstrap = match verdict.bootstrap {
        WB::NotNeeded => Bootstrap::NotNeeded,
        WB::NoneAvailable => Bootstrap::NoneAvailable,
        WB::UseMethod(method) => Bootstrap::Use(match method {
            WM::GbaPush => BootstrapMethod::GbaPush,
            WM::EapAka => BootstrapMethod::EapAka,
            WM::AccessNetworkKey => BootstrapMethod::AccessNetworkKey,
            WM::PreProvisionedKey => BootstrapMethod::PreProvisionedKey,
        }),
    };
    (verdict.trusted, reason, bootstrap)
}
