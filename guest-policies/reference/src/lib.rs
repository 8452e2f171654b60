//! The reference policy: the method, exactly — every default of the SDK's [`Policy`] and
//! [`TriggerGuard`].
//!
//! The rule is `docs/method.md`'s table. The whole path is secure iff the serving network is known and
//! either a standing registration agreement needs no application-layer security, or — with no
//! registration — path A is protected (a node that knows the device's access security needs ciphering
//! or integrity on; a server that was not told takes List 1 as its statement), the serving network's
//! List 1 entry vouches for the device's access kind, the (server's network, server) pair is in List 2,
//! and the serving network is the server's network or is in List 3 for it. The server's network is the
//! device's home unless the facts attach the server elsewhere. The first check that fails is the
//! reason. Triggers (000, FIG. 11 step 6): a failed access-layer integrity check discards; a verified
//! one checks the lists and accepts; otherwise only valid end-to-end protection is accepted.
//!
//! Its trigger guard (GBA push) discards a trigger that comes without valid protection, from a server
//! the device is not registered with, under an expired key, with fields outside the protection, or
//! after its window; it keeps one whose window has not opened, and accepts the rest. Its attach
//! admission rejects a blocked subscription, a server the subscription does not permit, a server out
//! of trigger quota or over its trigger rate, each with a back-off, and allows the rest. Its access
//! trust counts only an access kind the serving network's List 1 entry vouches for, and then 3GPP
//! access trusted, trusted non-3GPP access only through a listed access network, untrusted non-3GPP
//! access only while its tunnel is up, and wireline as its entry vouches; an untrusted access
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
