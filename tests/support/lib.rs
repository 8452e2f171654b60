//! Support shared by the tests and the benches of pathsec: the native-Rust reference rule, the
//! scenario-case schema, generators and hostile fixtures.

pub mod fixtures;
pub mod generate;
pub mod native;
pub mod timing;

use std::sync::OnceLock;

use pathsec::{Engine, Policy};

/// One engine for a whole test binary, with default limits.
pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| Engine::new().expect("the default engine starts"))
}

/// A bundled policy by name (`reference`, `always-secure`), compiled once per test binary.
pub fn bundled(name: &str) -> Option<Policy> {
    static POLICIES: OnceLock<Vec<(&'static str, Policy)>> = OnceLock::new();
    let policies = POLICIES.get_or_init(|| {
        pathsec::bundled::ALL
            .iter()
            .map(|(name, bytes)| (*name, engine().load_policy(name, bytes).expect("bundled policies load")))
            .collect()
    });
    policies.iter().find(|(n, _)| *n == name).map(|(_, policy)| policy.clone())
}
