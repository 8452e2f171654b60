//! The peer engines decide exactly as the rule of `docs/method.md` (and so as the reference policy and
//! the native rule): the engines bench checks it before it measures, so it compares the same rule in
//! every engine. (It is not a `cargo test` test: `cargo test` does not build the peer engines.)

use pathsec::FactSet;
use pathsec_suite::generate::{self, Rng};
use pathsec_suite::method;

use super::{CedarRule, RegoRule, RegoVmRule};

/// Random requests over the identifier-tripping networks (every role, event and trigger check) and the
/// operator-sized requests of the benches.
fn workloads() -> Vec<(FactSet, Vec<pathsec::Request>)> {
    let mut rng = Rng::new(5);
    let mut loads = Vec::new();
    for p in [0.2, 0.5, 0.9] {
        let (facts, servers) = generate::facts(&mut rng, 4, p);
        let networks = generate::networks();
        let requests = (0..400).map(|_| generate::request(&mut rng, &networks, &servers)).collect();
        loads.push((facts, requests));
    }
    loads.push(generate::sized(&mut rng, 100, 1_000, 30, 100, 500));
    loads
}

/// Panics, naming the request, where a peer decides otherwise than the method.
pub fn check() {
    rego_decides_as_the_method_table();
    rego_bytecode_decides_as_the_method_table();
    cedar_decides_as_the_method_table();
}

fn rego_decides_as_the_method_table() {
    for (facts, requests) in workloads() {
        let mut rego = RegoRule::new(&facts);
        for request in &requests {
            assert_eq!(rego.decide(&facts, request), method::expected(&facts, request), "{request:?}");
        }
    }
}

fn rego_bytecode_decides_as_the_method_table() {
    for (facts, requests) in workloads() {
        let mut rvm = RegoVmRule::new(&facts);
        for request in &requests {
            assert_eq!(rvm.decide(&facts, request), method::expected(&facts, request), "{request:?}");
        }
    }
}

fn cedar_decides_as_the_method_table() {
    for (facts, requests) in workloads() {
        let cedar = CedarRule::new(&facts);
        for request in &requests {
            assert_eq!(cedar.decide(&facts, request), method::expected(&facts, request), "{request:?}");
        }
    }
}
