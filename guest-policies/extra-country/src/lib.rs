//! A test policy: the reference rule with one method changed. Path A — between the device and its
//! serving network — is trusted in every French network (MCC 208), listed in List 1 or not. Every
//! other step is the method's. The shadow, canary, replay and diff tests hold it against the
//! reference: the decisions that change are exactly those the reference refused with
//! `path-a-not-trusted` in a network of MCC 208.

use pathsec_policy::{AccessKind, Facts, PlmnId, Policy};

struct ExtraCountry;

impl Policy for ExtraCountry {
    // `KEYED` stays `false` (the default): the packed exports unpack each request and call `decide`,
    // so the diff and replay tests hold that path against the reference's keyed one.
    fn path_a_trusted(facts: &Facts, serving: PlmnId, access: AccessKind) -> bool {
        serving.mcc == 208 || facts.path_a(serving, access)
    }
}

pathsec_policy::export!(ExtraCountry);
