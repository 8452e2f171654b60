//! The reference rule in the engines an operator could pick instead of pathsec, for the peer benches:
//! Rego evaluated by `regorus` (its interpreter and its bytecode VM), Cedar evaluated by `cedar-policy`. Both read the same lists and answer the
//! same requests as `pathsec_suite::native::NativeRule`; `agree.rs` checks that they agree, before the
//! engines bench measures them.
//!
//! Both are given every advantage a careful user would take: the policy parsed and the lists loaded once,
//! and each request's input built ahead of time ([`RegoRule::input`], [`CedarRule::input`]), so a bench
//! times only the evaluation.

pub mod agree;

pub mod cedar;
pub mod rego;

pub use cedar::CedarRule;
pub use rego::{RegoRule, RegoVmRule};

use pathsec::{FactSet, PlmnId, Request};

/// The packed PLMN-ID both languages compare: "310410", "31041".
fn packed(network: PlmnId) -> String {
    network.to_string()
}

/// The request's server FQDN, as the lists name it.
fn server_name(facts: &FactSet, request: &Request) -> String {
    facts
        .server(request.server)
        .map_or_else(|| format!("unknown-server-{}", request.server.get()), |fqdn| fqdn.to_string())
}
