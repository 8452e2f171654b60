//! Media over a circuit-switched leg (`pathsec:policy/media-security`): how a call's media is
//! protected, and the host's own check before it releases a media key voucher. An optional export;
//! without it no media is released.

use std::fmt;
use std::sync::Arc;

use wasmtime::Store;

use super::Interface;
use crate::facts::FactSet;
use crate::runtime::Worker;
use crate::vocab::named::named_enum;
use crate::vocab::{PolicyFault, write_fault};
use crate::wasm::Decider;
use crate::wasm::plug::{RelatedDecision, Verdict};
use crate::wasm::sandbox::StoreState;
use crate::wasm::wit::{self, exports::pathsec::policy::media_security as media};

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
    #[non_exhaustive]
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

impl Verdict for MediaVerdict {
    fn fail_closed(fault: Arc<PolicyFault>) -> MediaVerdict {
        MediaVerdict::fail_closed(fault)
    }

    fn fault(&self) -> Option<&Arc<PolicyFault>> {
        self.fault.as_ref()
    }

    fn is_fail_closed(&self) -> bool {
        self.reason == MediaReason::PolicyFault
    }

    fn same_answer(&self, other: &MediaVerdict) -> bool {
        (self.protection, self.reason, self.voucher.is_some())
            == (other.protection, other.reason, other.voucher.is_some())
    }
}

/// Media security, as `pathsec check` reports it.
pub const MEDIA_SECURITY: Interface = Interface::of::<wit::MediaSecurity>(
    "media_security",
    "media",
    "decided (exports pathsec:policy/media-security)",
    "no media security: no call's media is released (fail closed)",
);

/// How a call's media is protected, through `decide-media`.
pub(crate) enum DecideMedia {}

impl RelatedDecision for DecideMedia {
    type Export = wit::MediaSecurity;
    type Request = MediaRequest;
    type Answer = media::MediaVerdict;
    type Verdict = MediaVerdict;
    type State = ();

    fn call(
        guest: &media::Guest,
        store: &mut Store<StoreState>,
        _facts: &FactSet,
        request: &MediaRequest,
    ) -> wasmtime::Result<media::MediaVerdict> {
        guest.call_decide_media(store, &lower(request))
    }

    fn check(request: &MediaRequest, answer: media::MediaVerdict) -> MediaVerdict {
        let (protection, reason) = lift(answer);
        MediaVerdict::checked(request, protection, reason)
    }
}

impl Decider {
    /// Decides how a call's media is protected, with the policy's media security, and releases the
    /// voucher to the call only when its parties are the call's (a mismatch withholds it and refuses
    /// the media). Never fails: a policy that fails, or does not export it, gets the media refused
    /// (reason `policy-fault`, with the fault).
    pub fn decide_media(&mut self, facts: &FactSet, request: &MediaRequest) -> MediaVerdict {
        self.related_here::<DecideMedia>(facts, request)
    }
}

impl Worker {
    /// Media security's verdict on a call, with the voucher released only to its own call; see
    /// [`Decider::decide_media`].
    pub fn decide_media(&mut self, request: &MediaRequest) -> MediaVerdict {
        self.related::<DecideMedia>(request)
    }
}

/// A media request as media security takes it: the voucher only as "one is on offer".
fn lower(request: &MediaRequest) -> media::MediaRequest {
    media::MediaRequest {
        crosses_cs_leg: request.crosses_cs_leg,
        via_gateway: request.via_gateway,
        network_path_secure: request.network_path_secure,
        call: media::CallParties { device: request.call.device.clone(), peer: request.call.peer.clone() },
        voucher_offered: request.voucher.is_some(),
    }
}

/// Media security's answer in the library's terms.
fn lift(verdict: media::MediaVerdict) -> (MediaProtection, MediaReason) {
    use media::{MediaProtection as WP, MediaReason as WR};
    let protection = match verdict.protection {
        WP::NetworkLayer => MediaProtection::NetworkLayer,
        WP::MediaLayer => MediaProtection::MediaLayer,
        WP::Refuse => MediaProtection::Refuse,
    };
    let reason = match verdict.reason {
        WR::PathSecure => MediaReason::PathSecure,
        WR::CsLeg => MediaReason::CsLeg,
        WR::PathNotSecure => MediaReason::PathNotSecure,
        WR::NoVoucher => MediaReason::NoVoucher,
    };
    (protection, reason)
}
