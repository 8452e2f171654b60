//! Builds the bundled policies (`guest-policies/`, for `wasm32-wasip2`) so this crate can embed them.
//!
//! Makes sure the `wasm32-wasip2` target is installed (rustup does not install targets on its own),
//! builds the guest workspace in release mode into `<target>/pathsec-guests`, and copies the
//! components into `OUT_DIR` for `include_bytes!`. A crate of its own with no dependencies, so cargo
//! runs this at the start of a build, beside the engine's compilation, not after it.

use std::env;
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";
/// The guests the library embeds: (crate artifact name, file name in `OUT_DIR`).
const BUNDLED: &[&str] = &["reference", "always_secure"];

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    if let Err(message) = build() {
        // A build script reports failure by exiting non-zero; cargo shows what it printed.
        eprintln!("error: cannot build the bundled policies: {message}");
        std::process::exit(1);
    }
}

fn build() -> Result<(), String> {
    let manifest_dir = PathBuf::from(var("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(var("OUT_DIR")?);
    let guests = manifest_dir.join("../../guest-policies");
    let wit = manifest_dir.join("../../wit");
    if !guests.join("Cargo.toml").is_file() {
        return Err(format!(
            "`{}` not found: build from the pathsec repository, or turn off `pathsec`'s `bundled-policies` feature",
            guests.display()
        ));
    }
    for dir in [&guests, &wit] {
        println!("cargo::rerun-if-changed={}", dir.display());
    }

    let rustc = env::var_os("RUSTC").unwrap_or_else(|| OsString::from("rustc"));
    ensure_target(&rustc)?;

    let target_dir = shared_target_dir(&out_dir);
    let cargo = env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut command = Command::new(&cargo);
    command
        .args(["build", "--release", "--locked", "--target", TARGET])
        // The bundled policies only: not the operator's own, which may sit in the same workspace
        // half-written, nor the template (the CLI's tests build a policy made from it).
        .args(["-p", "reference", "-p", "always-secure", "--manifest-path"])
        .arg(guests.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir);
    // The outer build's settings are for the host; none of them may leak into the guest build.
    for name in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        command.env_remove(name);
    }
    command.env("RUSTC", &rustc);
    let status = command.status().map_err(|e| format!("cannot run `{}`: {e}", cargo.to_string_lossy()))?;
    if !status.success() {
        return Err(format!("`cargo build --target {TARGET}` of `{}` failed ({status})", guests.display()));
    }

    let built = target_dir.join(TARGET).join("release");
    for name in BUNDLED {
        let from = built.join(format!("{name}.wasm"));
        let to = out_dir.join(format!("{name}.wasm"));
        fs::copy(&from, &to).map_err(|e| format!("cannot copy `{}`: {e}", from.display()))?;
    }
    Ok(())
}

/// Installs the wasm target through rustup when the toolchain's sysroot lacks it.
fn ensure_target(rustc: &OsString) -> Result<(), String> {
    let output = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .map_err(|e| format!("cannot run `{}`: {e}", rustc.to_string_lossy()))?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    if sysroot.join("lib/rustlib").join(TARGET).is_dir() {
        return Ok(());
    }
    let status = Command::new("rustup").args(["target", "add", TARGET]).status().map_err(|e| {
        format!(
            "the `{TARGET}` target is missing and rustup cannot run ({e}): install it with `rustup target add {TARGET}`"
        )
    })?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`rustup target add {TARGET}` failed ({status}): install the target by hand and build again"))
    }
}

/// `<target>/pathsec-guests`: one guest build shared by every profile of the host, so `cargo test`,
/// `cargo clippy` and `cargo bench` do not each rebuild the guests.
fn shared_target_dir(out_dir: &Path) -> PathBuf {
    // OUT_DIR is `<target>[/<triple>]/<profile>/build/pathsec-<hash>/out`.
    out_dir
        .ancestors()
        .find(|dir| dir.file_name().is_some_and(|name| name == "build"))
        .and_then(Path::parent)
        .and_then(Path::parent)
        .map(|target| target.join("pathsec-guests"))
        .unwrap_or_else(|| out_dir.join("pathsec-guests"))
}

fn var(name: &str) -> Result<String, String> {
    env::var(name).map_err(|_| format!("cargo did not set `{name}`"))
}
