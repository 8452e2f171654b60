//! The reference policy: the method, exactly — every default of the SDK's [`Policy`] and
//! [`TriggerGuard`].
//!
//! The whole path is secure iff the serving network is known, no registration mismatch stands, access
//! ciphering and integrity are on, the serving network is in List 1, the (home network, server) pair is
//! in List 2, and the serving network is the home network or is in List 3. The first check that fails
//! is the reason. Triggers follow the same lists: a failed access-layer integrity check discards; a
//! trigger without access-layer integrity, or on a path that is not secure, is accepted only with valid
//! end-to-end protection.
//!
//! Its trigger guard (GBA push) discards a trigger that comes without valid protection, from a server
//! the device is not registered with, under an expired key, with fields outside the protection, or
//! after its window; it keeps one whose window has not opened, and accepts the rest. Its attach
//! admission rejects a blocked subscription, a server the subscription does not permit, a server out
//! of trigger quota or over its trigger rate, each with a back-off, and allows the rest. Its access
//! trust counts 3GPP access trusted, trusted non-3GPP access only through a listed access network,
//! untrusted non-3GPP access only while its tunnel is up, and wireline never; an untrusted access
//! bootstraps with the first of GBA push, EAP-AKA, the access network's key and a pre-provisioned key
//! that has an unexpired key. Its media security protects media that crosses a CS leg through a
//! gateway, or whose path is not secure, at the media layer under a voucher (refused without one).
//! Its binding updates act on a location update only under a security association, and grant a name
//! only under one, strictly under the operator's domain, when free, bound to the requester.

use pathsec_policy::{AccessTrust, AttachAdmission, BindingUpdate, MediaSecurity, Policy, TriggerGuard};

struct Reference;

impl Policy for Reference {
    // It overrides no step: the packed exports decide straight from the packed words.
    const KEYED: bool = true;
}

impl TriggerGuard for Reference {}

impl AttachAdmission for Reference {}

impl AccessTrust for Reference {}

impl MediaSecurity for Reference {}

impl BindingUpdate for Reference {}

pathsec_policy::export!(Reference);
pathsec_policy::export_trigger_guard!(Reference);
pathsec_policy::export_attach_admission!(Reference);
pathsec_policy::export_access_trust!(Reference);
pathsec_policy::export_media_security!(Reference);
pathsec_policy::export_binding_update!(Reference);
