//! The device build: `pathsec` without the `compiler` feature has no Cranelift in its dependency tree,
//! and its `device-runtime` example, built that way, decides with precompiled artifacts (native and
//! Pulley) exactly as the full build decides with the component, and refuses a component with an
//! error saying how to precompile it.

use std::path::{Path, PathBuf};
use std::process::Command;

use pathsec::files::FactsFile;
use pathsec::wasm::{HOST_TARGET, PULLEY64};
use pathsec::{Engine, Event, Flow, Role, Runtime};

const DEVICE_FEATURES: [&str; 3] = ["--no-default-features", "--features", "pulley"];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_owned()
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(workspace());
    command
}

/// Builds the example the device way, in a target directory of its own (the outer build's is locked
/// while tests run, and its features differ).
fn device_example() -> PathBuf {
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| workspace().join("target"), PathBuf::from).join("device");
    let output = cargo()
        .args(["build", "--locked", "-p", "pathsec", "--example", "device-runtime"])
        .args(DEVICE_FEATURES)
        .arg("--target-dir")
        .arg(&target)
        .output()
        .expect("cargo runs");
    assert!(output.status.success(), "the device build failed:\n{}", String::from_utf8_lossy(&output.stderr));
    target.join("debug/examples/device-runtime")
}

#[test]
fn the_device_build_has_no_compiler_in_its_dependency_tree() {
    let output = cargo()
        .args(["tree", "--locked", "-p", "pathsec", "-e", "normal", "--prefix", "none"])
        .args(DEVICE_FEATURES)
        .output()
        .expect("cargo runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let tree = String::from_utf8_lossy(&output.stdout);
    assert!(tree.lines().any(|line| line.starts_with("wasmtime v")), "{tree}");
    assert!(tree.lines().any(|line| line.starts_with("pulley-interpreter v")), "{tree}");
    // The code generators and what only they use.
    for compiler in [
        "cranelift-codegen",
        "cranelift-frontend",
        "cranelift-native",
        "wasmtime-internal-cranelift",
        "winch",
        "regalloc2",
    ] {
        assert!(!tree.lines().any(|line| line.starts_with(compiler)), "`{compiler}` in the device build:\n{tree}");
    }
    // Cranelift's data-structure crates stay: wasmtime's runtime shares them with the compiler.
    let mut cranelift: Vec<&str> =
        tree.lines().filter(|line| line.starts_with("cranelift-")).filter_map(|line| line.split(' ').next()).collect();
    cranelift.sort_unstable();
    cranelift.dedup();
    assert_eq!(cranelift, ["cranelift-bforest", "cranelift-bitset", "cranelift-entity"], "{tree}");
}

#[test]
fn the_device_example_decides_with_artifacts_as_the_full_build_does() {
    let example = device_example();
    let dir = tempfile::tempdir().expect("temp dir");
    let facts_path = workspace().join("examples/serve/facts.toml");
    let expected = expected_lines(&facts_path);
    for target in [HOST_TARGET, PULLEY64] {
        let engine = Engine::builder().target(target).build().expect("engine");
        let artifact = engine.precompile("reference.wasm", pathsec::bundled::REFERENCE, None).expect("compiles");
        let path = dir.path().join(format!("reference-{target}.cwasm"));
        std::fs::write(&path, artifact).expect("write");
        let output = Command::new(&example).arg(&path).arg(&facts_path).output().expect("the example runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{target}: {}\n{stdout}", String::from_utf8_lossy(&output.stderr));
        let decided: Vec<&str> = stdout.lines().take(expected.len()).collect();
        assert_eq!(decided, expected, "{target}");
        assert!(stdout.contains(&format!("target {target} (")), "{stdout}");
    }

    // A component needs the compiler this build does not have.
    let component = dir.path().join("reference.wasm");
    std::fs::write(&component, pathsec::bundled::REFERENCE).expect("write");
    let output = Command::new(&example).arg(&component).arg(&facts_path).output().expect("the example runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("this build of pathsec has no compiler (the `compiler` feature is off)"), "{stderr}");
    assert!(stderr.contains(&format!("pathsec compile --target {HOST_TARGET} --out reference.wasm.cwasm")), "{stderr}");
}

/// What the example prints for each flow, decided by the full build with the component.
fn expected_lines(facts_path: &Path) -> Vec<String> {
    let facts = FactsFile::read(facts_path).expect("the example's facts");
    let policy = pathsec_suite::bundled("reference").expect("bundled");
    let runtime = Runtime::builder(policy).lists(facts.builder().build()).build().expect("runtime");
    let mut worker = runtime.worker();
    let mut lines = Vec::new();
    for device in &facts.devices {
        let id = runtime.device_id(&device.name).expect("room");
        runtime.set_attach(id, device.attach()).expect("known");
        if let Some(link) = device.link() {
            runtime.set_link(id, link).expect("known");
        }
        for (server, fqdn) in runtime.lists().servers() {
            for event in [Event::SendData, Event::ReceiveUnprotected] {
                let flow = Flow { device: id, server, role: Role::Device, event };
                lines.push(format!("{} {} {}: {}", device.name, fqdn, event.kind().name(), worker.decide(&flow)));
            }
        }
    }
    lines
}
