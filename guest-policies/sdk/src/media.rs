//! [`MediaSecurity`]: media over a circuit-switched leg (`pathsec:policy/media-security`), with the
//! method's rule as overridable defaults.

use crate::Facts;
use crate::media_bindings::exports::pathsec::policy::media_security::{
    MediaProtection, MediaReason, MediaRequest, MediaVerdict,
};

/// A policy's media security: how is a call's media protected? Export it with
/// [`export_media_security!`](crate::export_media_security), beside [`export!`](crate::export).
pub trait MediaSecurity {
    /// The verdict. Default, the method: media that crosses a CS leg through a gateway, or whose
    /// packet-switched path is not secure, needs media-layer security with the voucher's key — refused
    /// when no voucher is on offer; media on a secure packet-switched path end to end rests on the
    /// network layer.
    fn decide_media(facts: &Facts, request: &MediaRequest) -> MediaVerdict {
        let _ = facts;
        let reason = if request.crosses_cs_leg && request.via_gateway {
            MediaReason::CsLeg
        } else if !request.network_path_secure {
            MediaReason::PathNotSecure
        } else {
            return MediaVerdict { protection: MediaProtection::NetworkLayer, reason: MediaReason::PathSecure };
        };
        if request.voucher_offered {
            MediaVerdict { protection: MediaProtection::MediaLayer, reason }
        } else {
            MediaVerdict { protection: MediaProtection::Refuse, reason: MediaReason::NoVoucher }
        }
    }
}
