//! The C program `tests/c/flow.c`, built with the system C compiler against `include/pathsec.h` and
//! this crate's libraries, run on components and on precompiled artifacts, linked statically, and run
//! under valgrind memcheck over 100,000 decisions: no leak, no invalid access.
//!
//! valgrind runs the engine with explicit bounds checks (`--explicit-bounds-checks`, artifacts compiled
//! the same way): with wasmtime's signal-based traps, every out-of-bounds check is a fault in a guard
//! page that valgrind would report as an invalid access. Missing `valgrind` is installed from Debian's
//! package, as the fleet tests install their servers.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use pathsec::Engine;

/// Where cargo put this crate's `cdylib` and `staticlib`: beside this test's executable.
fn library_dir() -> PathBuf {
    std::env::current_exe().expect("the test's path").parent().expect("its directory").to_owned()
}

fn header_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("include")
}

fn source() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/flow.c")
}

/// Compiles `flow.c` with `cc`, linked with the shared library (or, `statically`, the static one).
fn build(out: &Path, statically: bool) -> PathBuf {
    let binary = out.join(if statically { "flow-static" } else { "flow" });
    let lib = library_dir();
    let mut cc = Command::new("cc");
    cc.args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-g", "-O1", "-D_POSIX_C_SOURCE=200809L"])
        .arg("-I")
        .arg(header_dir())
        .arg(source())
        .arg("-o")
        .arg(&binary);
    if statically {
        cc.arg(lib.join("libpathsec_ffi.a")).args(["-lpthread", "-ldl", "-lm"]);
    } else {
        cc.arg("-L").arg(&lib).arg("-lpathsec_ffi").arg(format!("-Wl,-rpath,{}", lib.display())).arg("-lpthread");
    }
    let output = cc.output().expect("the system C compiler (`cc`) runs");
    assert!(output.status.success(), "cc failed:\n{}", String::from_utf8_lossy(&output.stderr));
    binary
}

/// The bundled policies as files: components, and artifacts for an engine with or without explicit
/// bounds checks.
fn policies(out: &Path, explicit_bounds_checks: bool) -> [(PathBuf, PathBuf); 2] {
    // For the baseline of this architecture: valgrind's CPU offers fewer features than the host's.
    let engine = Engine::builder()
        .target(pathsec::wasm::HOST_TARGET)
        .signals_based_traps(!explicit_bounds_checks)
        .build()
        .expect("engine");
    let suffix = if explicit_bounds_checks { "checked" } else { "native" };
    [("reference", pathsec::bundled::REFERENCE), ("always-secure", pathsec::bundled::ALWAYS_SECURE)].map(
        |(name, bytes)| {
            let component = out.join(format!("{name}.wasm"));
            std::fs::write(&component, bytes).expect("write the component");
            let artifact = out.join(format!("{name}-{suffix}.cwasm"));
            let compiled = engine.precompile(&format!("{name}.wasm"), bytes, None).expect("precompiles");
            std::fs::write(&artifact, compiled).expect("write the artifact");
            (component, artifact)
        },
    )
}

fn run(command: &mut Command) -> Output {
    let output = command.output().expect("runs");
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[test]
fn the_c_program_walks_the_whole_abi_on_components_and_on_artifacts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let flow = build(dir.path(), false);
    let [(reference, reference_artifact), (always, always_artifact)] = policies(dir.path(), false);
    let output = run(Command::new(&flow).arg(&reference).arg(&always));
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(printed.starts_with("ok: 100000 decisions"), "{printed}");
    run(Command::new(&flow).arg(&reference_artifact).arg(&always_artifact).args(["--decisions", "20000"]));
    // An artifact compiled for explicit bounds checks is refused by the default engine, naming both.
    let [(_, checked), _] = policies(dir.path(), true);
    let refused = Command::new(&flow).arg(&checked).arg(&always).output().expect("runs");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(stderr.contains("explicit-bounds-checks`, and this engine is engine profile"), "{stderr}");
}

#[test]
fn the_static_library_links_into_the_same_program() {
    let dir = tempfile::tempdir().expect("temp dir");
    let flow = build(dir.path(), true);
    let [(reference, _), (always, _)] = policies(dir.path(), false);
    run(Command::new(&flow).arg(&reference).arg(&always).args(["--decisions", "2000"]));
}

#[test]
fn valgrind_finds_no_leak_and_no_invalid_access_over_100000_decisions() {
    pathsec_lab::ensure_packages(&[("/usr/bin/valgrind", "valgrind")]).expect("valgrind installs");
    let dir = tempfile::tempdir().expect("temp dir");
    let flow = build(dir.path(), false);
    let [(_, reference), (_, always)] = policies(dir.path(), true);
    let output = run(Command::new("valgrind")
        .args([
            "--tool=memcheck",
            "--error-exitcode=99",
            "--leak-check=full",
            // Definitely and indirectly lost blocks are leaks; memory still reachable from statics at
            // exit (the handle table, thread-locals) is not.
            "--errors-for-leak-kinds=definite,indirect",
            "--show-leak-kinds=definite,indirect",
            // Policy code is written at run time (and again after a swap frees old code).
            "--smc-check=all-non-file",
        ])
        .arg(&flow)
        .arg(&reference)
        .arg(&always)
        .args(["--explicit-bounds-checks", "--decisions", "100000"]));
    let report = String::from_utf8_lossy(&output.stderr);
    assert!(report.contains("ERROR SUMMARY: 0 errors"), "{report}");
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("ok: 100000 decisions"));
}
