//! Media over a circuit-switched leg (`pathsec:policy/media-security`): how a call's media is
//! protected, and the host's own check before it releases a media key voucher. An optional export;
//! without it no media is released.

use std::fmt;
use std::sync::Arc;

use crate::decision::{PolicyFault, write_fault};
use crate::named::named_enum;

/// The identities of a call's two ends. Compared exactly, as the call signalling wrote them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallParties {
    /// The device's identity.
    pub device: String,
    /// The peer's identity.
    pub peer: String,
}

/// A media key voucher: the key material is for the call between these parties.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Voucher {
    /// The parties the voucher was issued for.
    pub parties: CallParties,
    /// The key it delivers, opaque to pathsec.
    pub key: Vec<u8>,
}

/// A call whose media is about to flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaRequest {
    /// The media crosses a circuit-switched leg.
    pub crosses_cs_leg: bool,
    /// The media passes through a media gateway.
    pub via_gateway: bool,
    /// The packet-switched path is secure at the network layer (as [`Decider::decide`](crate::Decider::decide) found it).
    pub network_path_secure: bool,
    /// The call.
    pub call: CallParties,
    /// The voucher on offer for the call, if any. The policy learns only that there is one; the host
    /// releases it only to a call with the same parties.
    pub voucher: Option<Voucher>,
}

named_enum! {
    /// How a call's media is protected.
    pub enum MediaProtection as "a media protection" {
        /// The network layer protects the whole media path.
        NetworkLayer = "network-layer",
        /// Media-layer security with the key the voucher delivers.
        MediaLayer = "media-layer",
        /// The media cannot be protected and must not flow.
        Refuse = "refuse",
    }
}

named_enum! {
    /// Why a call's media is protected as it is.
    pub enum MediaReason as "a media reason" {
        /// The media stays on a secure packet-switched path end to end.
        PathSecure = "path-secure",
        /// The media crosses a CS leg and a gateway.
        CsLeg = "cs-leg",
        /// The packet-switched path is not secure at the network layer.
        PathNotSecure = "path-not-secure",
        /// Media-layer security is needed and no voucher is on offer.
        NoVoucher = "no-voucher",
        /// The voucher was issued for other parties than the call's: the host withheld it and the
        /// media is refused. Never sent by a policy.
        VoucherMismatch = "voucher-mismatch",
        /// The policy failed, or does not export media security (see the verdict's fault); the engine
        /// refused the media. Never sent by a policy.
        PolicyFault = "policy-fault",
    }
}

/// Media security's answer. It always exists: when the policy fails or lacks media security, or the
/// voucher does not match the call, the media is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaVerdict {
    /// How to protect the media.
    pub protection: MediaProtection,
    /// Why.
    pub reason: MediaReason,
    /// The voucher, released to the call: present only with [`MediaProtection::MediaLayer`].
    pub voucher: Option<Voucher>,
    /// Why the policy could not decide, when it could not.
    pub fault: Option<Arc<PolicyFault>>,
}

impl MediaVerdict {
    /// The fail-closed verdict: refuse the media, because of `fault`.
    pub fn fail_closed(fault: Arc<PolicyFault>) -> MediaVerdict {
        MediaVerdict {
            protection: MediaProtection::Refuse,
            reason: MediaReason::PolicyFault,
            voucher: None,
            fault: Some(fault),
        }
    }

    /// The policy's answer for `request`, checked, with the voucher released when the answer is
    /// media-layer security and the voucher's parties are the call's. Network-layer protection for
    /// media that crosses a CS leg through a gateway, or on a path that is not secure, and media-layer
    /// security without a voucher on offer, make no sense: faults, and the media is refused.
    pub(crate) fn checked(request: &MediaRequest, protection: MediaProtection, reason: MediaReason) -> MediaVerdict {
        let nonsense = match protection {
            MediaProtection::NetworkLayer if request.crosses_cs_leg && request.via_gateway => {
                Some("network-layer security does not reach across a CS leg and a gateway")
            }
            MediaProtection::NetworkLayer if !request.network_path_secure => {
                Some("the packet-switched path is not secure at the network layer")
            }
            MediaProtection::MediaLayer if request.voucher.is_none() => Some("no voucher is on offer for the key"),
            _ => None,
        };
        if let Some(why) = nonsense {
            let fault = PolicyFault::OutcomeNotAllowed { outcome: protection.name(), why };
            return MediaVerdict::fail_closed(Arc::new(fault));
        }
        match (protection, &request.voucher) {
            (MediaProtection::MediaLayer, Some(voucher)) if voucher.parties != request.call => MediaVerdict {
                protection: MediaProtection::Refuse,
                reason: MediaReason::VoucherMismatch,
                voucher: None,
                fault: None,
            },
            (MediaProtection::MediaLayer, voucher) => {
                MediaVerdict { protection, reason, voucher: voucher.clone(), fault: None }
            }
            _ => MediaVerdict { protection, reason, voucher: None, fault: None },
        }
    }
}

impl fmt::Display for MediaVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.protection, self.reason)?;
        if self.voucher.is_some() {
            write!(f, ", voucher released")?;
        }
        write_fault(f, self.fault.as_deref())
    }
}
