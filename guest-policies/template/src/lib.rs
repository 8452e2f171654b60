//! A pathsec policy. It starts as the reference rule: every method of `Policy` has the method's rule as
//! its default. Change the one your operator needs — the other overridable steps are
//! `path_b_trusted(facts, home, server)`, `interconnect_trusted(facts, serving, home)`,
//! `access_protected(request)`, `follow_agreement(request, agreement)`, `path(facts, request)`, `decide(facts, request)` and `accept_facts(facts)` — then build and test:
//!
//! ```sh
//! cargo build --release --target wasm32-wasip2 --manifest-path guest-policies/Cargo.toml -p template
//! pathsec test --policy guest-policies/target/wasm32-wasip2/release/template.wasm guest-policies/template/cases
//! ```

use pathsec_policy::{AccessKind, Facts, PlmnId, Policy};

struct MyPolicy;

impl Policy for MyPolicy {
    // Packed requests (batches and single decisions) are decided straight from their words, calling the
    // list steps below. Remove this line if you override a step that takes a `Request` (`path`,
    // `decide`, `access_protected`, `follow_agreement`, `trigger`): the keyed path does not call those,
    // and the host's self-check refuses a policy whose exports disagree.
    const KEYED: bool = true;

    /// Path A — between the device and its serving network — is protected when the serving network is
    /// in List 1.
    fn path_a_trusted(facts: &Facts, serving: PlmnId, access: AccessKind) -> bool {
        facts.path_a(serving, access)
    }
}

pathsec_policy::export!(MyPolicy);
