//! The policies built from `guest-policies/`, embedded: `pathsec::bundled` with `pathsec`'s feature
//! `bundled-policies`.

/// The reference policy: the method exactly (Lists 1-3, link state, the trigger rules).
pub const REFERENCE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/reference.wasm"));

/// The strict baseline: application-layer security whatever the path.
pub const ALWAYS_SECURE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/always_secure.wasm"));

/// Every bundled policy, by name.
pub const ALL: &[(&str, &[u8])] = &[("reference", REFERENCE), ("always-secure", ALWAYS_SECURE)];
