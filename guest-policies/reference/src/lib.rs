//! The reference `path-secure` policy: the method, exactly — every [`Policy`] default of the SDK.
//!
//! The whole path is secure iff the serving network is known, no registration mismatch stands, access
//! ciphering and integrity are on, the serving network is in List 1, the (home network, server) pair is
//! in List 2, and the serving network is the home network or is in List 3. The first check that fails
//! is the reason. Triggers follow the same lists: a failed access-layer integrity check discards; a
//! trigger without access-layer integrity, or on a path that is not secure, is accepted only with valid
//! end-to-end protection.

use pathsec_policy::Policy;

struct Reference;

impl Policy for Reference {}

pathsec_policy::export!(Reference);
