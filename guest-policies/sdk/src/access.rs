//! [`AccessTrust`]: access trust and bootstrap (`pathsec:policy/access-trust`), with the method's rule
//! as overridable defaults.

use crate::access_bindings::exports::pathsec::policy::access_trust::{
    AccessReason, AccessRequest, AccessVerdict, Bootstrap, BootstrapMethod,
};
use crate::{AccessKind, Facts};

/// A policy's access trust: is the device's access protected, and if not, how is application-layer
/// security set up? Export it with [`export_access_trust!`](crate::export_access_trust), beside
/// [`export!`](crate::export).
pub trait AccessTrust {
    /// The bootstrap methods in the order they are tried. Default: GBA push, EAP-AKA through the
    /// service layer, the access network's EAP key, a pre-provisioned key.
    fn bootstrap_preference() -> &'static [BootstrapMethod] {
        &[
            BootstrapMethod::GbaPush,
            BootstrapMethod::EapAka,
            BootstrapMethod::AccessNetworkKey,
            BootstrapMethod::PreProvisionedKey,
        ]
    }

    /// The verdict. Default: the serving network's List 1 entry must vouch for the access kind (the
    /// same definition [`Policy::path_a_trusted`](crate::Policy::path_a_trusted) reads); then 3GPP
    /// access is trusted; trusted non-3GPP access only through a listed access network; untrusted
    /// non-3GPP access only while its IPsec tunnel to the core is up; wireline as its entry vouches. A
    /// trusted access needs no bootstrap; otherwise the first method in
    /// [`bootstrap_preference`](Self::bootstrap_preference) with an unexpired key, or none.
    fn decide_access(facts: &Facts, request: &AccessRequest) -> AccessVerdict {
        let vouched = request.serving.is_some_and(|serving| facts.path_a(serving, request.access));
        let (trusted, reason) = match request.access {
            _ if !vouched => (false, AccessReason::NotVouched),
            AccessKind::ThreeGpp => (true, AccessReason::ThreeGpp),
            AccessKind::TrustedNonThreeGpp if request.access_network_listed => {
                (true, AccessReason::TrustedAccessListed)
            }
            AccessKind::TrustedNonThreeGpp => (false, AccessReason::TrustedAccessNotListed),
            AccessKind::UntrustedNonThreeGpp if request.tunnel_up => (true, AccessReason::TunnelUp),
            AccessKind::UntrustedNonThreeGpp => (false, AccessReason::TunnelDown),
            AccessKind::Wireline => (true, AccessReason::Wireline),
        };
        let bootstrap = if trusted {
            Bootstrap::NotNeeded
        } else {
            let usable =
                |method: &BootstrapMethod| request.keys.iter().any(|key| key.method == *method && !key.expired);
            match Self::bootstrap_preference().iter().find(|method| usable(method)) {
                Some(method) => Bootstrap::UseMethod(*method),
                None => Bootstrap::NoneAvailable,
            }
        };
        AccessVerdict { trusted, reason, bootstrap }
    }
}
