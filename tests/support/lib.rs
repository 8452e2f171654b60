//! Support shared by the tests and the benches of pathsec: the rule read from `docs/method.md`, the
//! native-Rust reference rule, the scenario-case schema, generators and hostile fixtures.

pub mod checks;
pub mod fixtures;
pub mod generate;
pub mod guests;
pub mod method;
pub mod native;
pub mod timing;

use std::sync::OnceLock;

use pathsec::{AccessKind, Attach, Engine, Event, Flow, LinkState, Policy, Role, Runtime};

/// One engine for a whole test binary: default limits, but for a deadline of a second. Deadlines
/// are wall-clock time, and a test machine running builds and parallel tests on two cores can hold a
/// thread off for longer than the default 10 ms; a test of what a policy decides must not fail
/// closed for that. The deadline itself is tested with its own engines (`tests/hostile.rs`).
pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let limits = pathsec::Limits { deadline: std::time::Duration::from_secs(1), ..pathsec::Limits::default() };
        Engine::builder().limits(limits).build().expect("the test engine starts")
    })
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

/// Adds device `meter` at home in 310410 and server `mtc.example.com` to `runtime`, both on Lists 1 and
/// 2, with `link` as the device's access security: the whole path is secure exactly when `link` has
/// ciphering and integrity on. Answers the server's flow sending data to the device.
pub fn meter_at_home(runtime: &Runtime, link: LinkState) -> Flow {
    let home = "310410".parse().expect("valid");
    let server = runtime.server_id(&"mtc.example.com".parse().expect("valid"));
    runtime.update_lists(|lists| {
        lists.trust_path_a(home).trust_path_b(home, server);
    });
    let device = runtime.device_id("meter").expect("room for devices");
    runtime.set_attach(device, Attach { serving: Some(home), home, access: AccessKind::ThreeGpp }).expect("known");
    runtime.set_link(device, link).expect("known");
    Flow { device, server, role: Role::Server, event: Event::SendData }
}

/// Every file under `dir`, its subfolders included (a folder that cannot be listed fails the test).
pub fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list `{}`: {e}", dir.display())) {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            found.extend(files_under(&path));
        } else {
            found.push(path);
        }
    }
    found
}
