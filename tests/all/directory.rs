//! The policy directory and the precompiled-artifact cache: drop a file, it becomes active; a broken
//! one is reported and ignored; a restart loads from the cache without compiling.

use std::time::{Duration, Instant};

use pathsec::{
    Action, Flow, LinkState, Runtime,
    runtime::{DirectoryEvent, PolicyDirectory},
    wasm::{ArtifactCache, Origin},
};
use pathsec_suite::fixtures::{self, BATCH_EMPTY, LOAD_OK, TRAP};

fn private_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    set_mode(dir.path(), 0o700);
    dir
}

#[cfg(unix)]
fn set_mode(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// A runtime on `always-secure` with one device at home on a fully trusted path.
fn runtime() -> (Runtime, Flow) {
    let runtime = Runtime::new(pathsec_suite::bundled("always-secure").expect("bundled")).expect("runtime");
    let flow = pathsec_suite::meter_at_home(&runtime, LinkState { ciphering: true, integrity: true });
    (runtime, flow)
}

fn names(events: &[DirectoryEvent]) -> Vec<String> {
    events
        .iter()
        .map(|event| match event {
            DirectoryEvent::Swapped { file, .. } => format!("swapped {file}"),
            DirectoryEvent::Rejected { file, .. } => format!("rejected {file}"),
            other => format!("{other:?}"),
        })
        .collect()
}

#[test]
fn artifacts_are_compiled_once_and_loaded_from_the_cache_after() {
    let dir = private_dir();
    let engine = pathsec_suite::engine();
    let first = ArtifactCache::open(dir.path()).expect("opens");
    let (compiled, origin) = first.load_policy(engine, "reference.wasm", pathsec::bundled::REFERENCE).expect("loads");
    assert_eq!(origin, Origin::Compiled);
    // A restart: a new cache on the same directory.
    let again = ArtifactCache::open(dir.path()).expect("opens");
    let (cached, origin) = again.load_policy(engine, "reference.wasm", pathsec::bundled::REFERENCE).expect("loads");
    assert_eq!(origin, Origin::Cached);
    assert_eq!(cached.digest(), compiled.digest());
    assert_eq!(cached.digest().len(), 64);
    let (runtime, flow) = runtime();
    runtime.swap(cached).expect("the cached policy passes its self-check");
    assert_eq!(runtime.worker().decide(&flow).action, Action::SendPlain);

    // A corrupt artifact is recompiled, not run.
    for entry in std::fs::read_dir(dir.path()).expect("list") {
        std::fs::write(entry.expect("entry").path(), b"garbage").expect("corrupt it");
    }
    let (_, origin) = again.load_policy(engine, "reference.wasm", pathsec::bundled::REFERENCE).expect("loads");
    assert_eq!(origin, Origin::Compiled);
    let (_, origin) = again.load_policy(engine, "reference.wasm", pathsec::bundled::REFERENCE).expect("loads");
    assert_eq!(origin, Origin::Cached);
}

#[cfg(unix)]
#[test]
fn an_artifact_cache_others_may_write_is_refused() {
    let dir = private_dir();
    set_mode(dir.path(), 0o777);
    let error = ArtifactCache::open(dir.path()).err().expect("refused");
    assert_eq!(
        error.to_string(),
        format!(
            "the artifact cache `{}` is writable by group or others: precompiled code from it would run unchecked: `chmod go-w` it, or choose a private directory",
            dir.path().display()
        )
    );
}

#[test]
fn dropped_policies_are_swapped_in_and_broken_ones_reported() {
    let (runtime, flow) = runtime();
    let mut worker = runtime.worker();
    assert_eq!(worker.decide(&flow).action, Action::SecureThenSend);
    let policies = private_dir();
    let artifacts = private_dir();
    let engine = pathsec_suite::engine();
    let mut directory = PolicyDirectory::open(policies.path(), engine)
        .expect("opens")
        .with_artifacts(ArtifactCache::open(artifacts.path()).expect("opens"));
    assert!(directory.scan(&runtime).expect("scans").is_empty());

    std::fs::write(policies.path().join("reference.wasm"), pathsec::bundled::REFERENCE).expect("drop");
    std::fs::write(policies.path().join("notes.txt"), "not a policy").expect("drop");
    let events = directory.scan(&runtime).expect("scans");
    assert_eq!(names(&events), ["swapped reference.wasm"]);
    assert_eq!(runtime.policy().name(), "reference.wasm");
    assert_eq!(worker.decide(&flow).action, Action::SendPlain, "the swap reached the worker's next decision");

    // Rewriting the same bytes is no change.
    std::fs::write(policies.path().join("reference.wasm"), pathsec::bundled::REFERENCE).expect("touch");
    assert!(directory.scan(&runtime).expect("scans").is_empty());

    std::fs::write(policies.path().join("broken.wasm"), b"\0asm\x0d\0\x01\0garbage").expect("drop");
    let trap = fixtures::policy(LOAD_OK, TRAP, BATCH_EMPTY);
    std::fs::write(policies.path().join("trap.wasm"), &trap).expect("drop");
    let events = directory.scan(&runtime).expect("scans");
    let mut rejected = names(&events);
    rejected.sort();
    assert_eq!(rejected, ["rejected broken.wasm", "rejected trap.wasm"]);
    for event in &events {
        let DirectoryEvent::Rejected { file, error } = event else { unreachable!() };
        match file.as_str() {
            "broken.wasm" => {
                assert!(error.starts_with("cannot load policy `broken.wasm`: invalid component"), "{error}")
            }
            _ => assert!(error.starts_with("policy `trap.wasm` failed its self-check: policy trapped"), "{error}"),
        }
    }
    assert_eq!(runtime.policy().name(), "reference.wasm", "the active policy stays");
    assert_eq!(worker.decide(&flow).action, Action::SendPlain);
    assert!(directory.scan(&runtime).expect("scans").is_empty(), "a broken file is reported once");

    // A restart with the same directories: the policy comes from the artifact cache.
    let (restarted, _) = self::runtime();
    let mut directory = PolicyDirectory::open(policies.path(), engine)
        .expect("opens")
        .with_artifacts(ArtifactCache::open(artifacts.path()).expect("opens"));
    let events = directory.scan(&restarted).expect("scans");
    let origins: Vec<_> = events
        .iter()
        .filter_map(|event| match event {
            DirectoryEvent::Swapped { file, origin, .. } => Some((file.as_str(), origin.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(origins, [("reference.wasm", Origin::Cached)]);
}

#[test]
fn a_dropped_precompiled_artifact_is_swapped_in_and_one_for_another_target_refused() {
    let (runtime, flow) = runtime();
    let mut worker = runtime.worker();
    let policies = private_dir();
    let engine = pathsec_suite::engine();
    let mut directory = PolicyDirectory::open(policies.path(), engine).expect("opens");
    let artifact = engine.precompile("reference.wasm", pathsec::bundled::REFERENCE, None).expect("compiles");
    std::fs::write(policies.path().join("reference.cwasm"), &artifact).expect("drop");
    let events = directory.scan(&runtime).expect("scans");
    let [DirectoryEvent::Swapped { file, origin, .. }] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!((file.as_str(), origin), ("reference.cwasm", &Origin::Precompiled));
    assert_eq!(worker.decide(&flow).action, Action::SendPlain, "the artifact decides as the reference policy");

    let pulley = pathsec::Engine::builder().target(pathsec::wasm::PULLEY64).build().expect("engine");
    let other = pulley.precompile("always-secure.wasm", pathsec::bundled::ALWAYS_SECURE, None).expect("compiles");
    std::fs::write(policies.path().join("always-secure.cwasm"), &other).expect("drop");
    let events = directory.scan(&runtime).expect("scans");
    let [DirectoryEvent::Rejected { file, error }] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(file, "always-secure.cwasm");
    assert!(error.contains("it was compiled for target `pulley64`, and this engine is target `"), "{error}");
    assert_eq!(runtime.policy().name(), "reference.cwasm", "the active policy stays");
}

#[cfg(unix)]
#[test]
fn nothing_outside_the_directory_is_read() {
    let (runtime, _) = runtime();
    let outside = private_dir();
    let policies = private_dir();
    std::fs::write(outside.path().join("reference.wasm"), pathsec::bundled::REFERENCE).expect("write");
    std::os::unix::fs::symlink(outside.path().join("reference.wasm"), policies.path().join("linked.wasm"))
        .expect("link");
    let mut directory = PolicyDirectory::open(policies.path(), pathsec_suite::engine()).expect("opens");
    let events = directory.scan(&runtime).expect("scans");
    assert_eq!(names(&events), ["rejected linked.wasm"]);
    let DirectoryEvent::Rejected { error, .. } = &events[0] else { unreachable!() };
    assert_eq!(error, "`linked.wasm` is a symbolic link: put the policy file itself in the directory");
    assert_eq!(runtime.policy().name(), "always-secure");
}

#[test]
fn a_watch_thread_swaps_in_a_dropped_policy() {
    let (runtime, flow) = runtime();
    let policies = private_dir();
    let directory = PolicyDirectory::open(policies.path(), pathsec_suite::engine()).expect("opens");
    let (sender, receiver) = std::sync::mpsc::channel();
    let watcher = directory
        .watch(runtime.clone(), Duration::from_millis(5), move |event| {
            let _ = sender.send(event.map(|e| names(&[e])).map_err(|e| e.to_string()));
        })
        .expect("watches");
    // Write under a temporary name, then rename: the watcher never sees half a file.
    std::fs::write(policies.path().join(".incoming"), pathsec::bundled::REFERENCE).expect("write");
    std::fs::rename(policies.path().join(".incoming"), policies.path().join("reference.wasm")).expect("rename");
    let event = receiver.recv_timeout(Duration::from_secs(30)).expect("an event");
    assert_eq!(event, Ok(vec!["swapped reference.wasm".to_owned()]));
    let started = Instant::now();
    assert_eq!(runtime.worker().decide(&flow).action, Action::SendPlain);
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(watcher);
}

#[test]
fn a_file_over_the_size_limit_is_reported_without_being_read() {
    let (runtime, _) = runtime();
    let policies = private_dir();
    let mut directory = PolicyDirectory::open(policies.path(), pathsec_suite::engine()).expect("opens");
    // Sparse: 100 MB long, nothing written; reading it would take 100 MB of memory.
    let file = std::fs::File::create(policies.path().join("huge.wasm")).expect("create");
    file.set_len(100 << 20).expect("sparse 100 MB");
    let events = directory.scan(&runtime).expect("scans");
    let [DirectoryEvent::Rejected { file, error }] = events.as_slice() else { panic!("{events:?}") };
    assert_eq!(file, "huge.wasm");
    assert!(error.starts_with("cannot load policy `huge.wasm`: it is 104857600 bytes, more than the limit"), "{error}");
    assert_eq!(runtime.policy().name(), "always-secure");
    assert!(directory.scan(&runtime).expect("scans").is_empty(), "reported once, until it changes");
}
