//! The engine's lifecycle: settings checked up front, policies shared by threads, deciders per thread,
//! fact generations.

use std::time::Duration;

use pathsec::{Engine, FactSet, Limits, PlmnId};
use pathsec_suite::generate::{self, Rng};
use pathsec_suite::native::NativeRule;

#[test]
fn limits_are_checked_when_the_engine_is_built() {
    let build = |limits: Limits| Engine::builder().limits(limits).build().expect_err("invalid").to_string();
    assert_eq!(
        build(Limits { deadline: Duration::ZERO, ..Limits::default() }),
        "invalid limit `deadline`: 0ns is outside 1 ms ..= 1 h"
    );
    assert_eq!(
        build(Limits { load_deadline: Duration::from_secs(7200), ..Limits::default() }),
        "invalid limit `load_deadline`: 7200s is outside 1 ms ..= 1 h"
    );
    assert_eq!(
        build(Limits { memory: 1000, ..Limits::default() }),
        "invalid limit `memory`: 1000 bytes is less than one 64 KiB page"
    );
    assert_eq!(
        build(Limits { module_size: 0, ..Limits::default() }),
        "invalid limit `module_size`: must be at least 1"
    );
    assert_eq!(
        build(Limits { list_entries: 0, ..Limits::default() }),
        "invalid limit `list_entries`: must be at least 1"
    );
    assert!(Engine::builder().limits(Limits::default()).build().is_ok());
}

#[test]
fn bundled_policies_import_only_wasi_and_their_types() {
    for (name, bytes) in pathsec::bundled::ALL {
        let policy = pathsec_suite::engine().load_policy(name, bytes).expect("loads");
        assert_eq!(policy.name(), *name);
        assert_eq!(policy.size(), bytes.len());
        for import in policy.imports() {
            assert!(import.starts_with("wasi:") || import == "pathsec:policy/types@0.2.0", "{name} imports {import}");
        }
    }
}

#[test]
fn threads_decide_through_their_own_deciders() {
    let policy = pathsec_suite::bundled("reference").expect("bundled");
    let mut rng = Rng::new(3);
    let (facts, servers) = generate::facts(&mut rng, 4, 0.6);
    let native = NativeRule::new(&facts);
    std::thread::scope(|scope| {
        for seed in 0..4u64 {
            let (policy, facts, servers, native) = (policy.clone(), &facts, &servers, &native);
            scope.spawn(move || {
                let mut decider = policy.decider();
                let mut rng = Rng::new(100 + seed);
                let networks = generate::networks();
                for _ in 0..2_000 {
                    let request = generate::request(&mut rng, &networks, servers);
                    let decision = decider.decide(facts, &request);
                    assert_eq!((decision.action, decision.reason), native.decide(&request));
                }
            });
        }
    });
}

#[test]
fn a_policy_outlives_the_engine_handle_it_came_from() {
    let policy = {
        let engine = Engine::new().expect("engine");
        engine.load_policy("reference", pathsec::bundled::REFERENCE).expect("loads")
    };
    let facts = FactSet::builder().build();
    assert!(policy.decider().prepare(&facts).is_ok());
}

#[test]
fn fact_generations_are_unique_and_keep_server_handles() {
    let home: PlmnId = "310410".parse().expect("valid");
    let mut builder = FactSet::builder();
    let a = builder.server("a.example.com".parse().expect("valid"));
    let b = builder.server("b.example.com".parse().expect("valid"));
    assert_eq!(builder.server("A.example.com.".parse().expect("valid")), a, "interning normalises names");
    builder.trust_path_a(home).trust_path_b(home, a).trust_path_b(home, b).trust_path_a(home);
    let first = builder.build();
    assert_eq!(first.path_a(), &[home], "duplicates collapse");

    let mut next = first.to_builder();
    assert_eq!(next.server("b.example.com".parse().expect("valid")), b, "handles survive generations");
    next.distrust_path_b(home, a);
    let second = next.build();
    assert!(second.generation() > first.generation());
    assert_eq!(second.path_b(), &[(home, b)]);
    assert_eq!(first.path_b().len(), 2, "a built generation never changes");
    assert_eq!(second.server(b).map(|f| f.as_str()), Some("b.example.com"));
}

#[test]
fn the_readme_embedding_example_is_the_compiled_example() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).expect("README");
    let example = std::fs::read_to_string(format!("{root}/host/examples/embedding.rs")).expect("example");
    let code = &example[example.find("use pathsec").expect("the example's code")..];
    assert!(readme.contains(code), "README.md's embedding example differs from host/examples/embedding.rs");
}
