//! The strict baseline: application-layer security whatever the path.
//!
//! No path counts as secure, so sends are always secured first, unprotected data is always discarded
//! (and security established so the peer re-sends), protected data is accepted, and a trigger is
//! accepted only on valid end-to-end protection. It ignores the lists, so it is also what an operator
//! runs while no list can be trusted.

use pathsec_policy::{Facts, Policy, Reason, Request};

struct AlwaysSecure;

impl Policy for AlwaysSecure {
    fn path(_facts: &Facts, _request: &Request) -> Result<(), Reason> {
        Err(Reason::PolicyRequiresApplicationSecurity)
    }
}

pathsec_policy::export!(AlwaysSecure);
