//! Configuration delivery to a device (000, FIGS. 15 and 16): the network side sends a device its
//! list bundle on the device's subject, either **pushed** (the bundle itself, with its digest: FIG. 15,
//! where the push message carries the configuration data) or as a **trigger** naming where to fetch
//! it (FIG. 16, where the device then fetches it with an HTTPS GET, here by digest from the registry's
//! blob endpoint). The device checks the digest, then the bundle (signature by a key trusted for lists,
//! validity, generation newer than the last accepted) before it applies it, and keeps it, so a device
//! restarting offline works from the last bundle it verified.
//!
//! Subject `pathsec.config.<device>`; header `Pathsec-Delivery: push` (with `Pathsec-Digest`, the
//! payload the bundle) or `trigger` (the payload `{"url": "…", "digest": "sha256:…"}`).

mod client;
mod sender;

pub use client::{DeliveryError, DeliveryStatus, DeviceClient, Listener};
pub use sender::{ConfigSender, Trigger};

/// The subject a device listens on.
pub fn subject(device: &str) -> String {
    format!("pathsec.config.{device}")
}

/// The header naming the delivery method.
pub(crate) const DELIVERY: &str = "Pathsec-Delivery";
/// The header carrying a pushed bundle's digest.
pub(crate) const DIGEST: &str = "Pathsec-Digest";
