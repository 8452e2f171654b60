//! Test-only guests from `guest-policies/` (e.g. the hostile `snoop`), built at test time for
//! `wasm32-wasip2` into the same guest target directory as the bundled policies, so their
//! dependencies are already compiled. The library never embeds them.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

const TARGET: &str = "wasm32-wasip2";

/// The component of test guest `package` (its crate name, e.g. `snoop`), built once per test binary.
///
/// Panics with the build's own message when the guest does not build; the `wasm32-wasip2` target
/// is already installed by `host/bundled/build.rs`, which builds the bundled policies first.
pub fn test_guest(package: &str) -> Vec<u8> {
    /// Built guests, by package name.
    type Built = Vec<(String, Vec<u8>)>;
    static BUILT: OnceLock<Mutex<Built>> = OnceLock::new();
    let built = BUILT.get_or_init(Mutex::default);
    let mut built = built.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((_, bytes)) = built.iter().find(|(name, _)| name == package) {
        return bytes.clone();
    }
    let bytes = build(package).unwrap_or_else(|message| panic!("cannot build test guest `{package}`: {message}"));
    built.push((package.to_owned(), bytes.clone()));
    bytes
}

fn build(package: &str) -> Result<Vec<u8>, String> {
    let guests = Path::new(env!("CARGO_MANIFEST_DIR")).join("guest-policies");
    let target_dir = guest_target_dir()?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(&cargo);
    command
        .args(["build", "--release", "--locked", "--quiet", "--target", TARGET, "-p", package, "--manifest-path"])
        .arg(guests.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir);
    // The test's own build settings are for the host; none may leak into the guest build.
    for name in ["CARGO_ENCODED_RUSTFLAGS", "RUSTFLAGS", "CARGO_TARGET_DIR", "CARGO_BUILD_TARGET", "RUSTC_WRAPPER"] {
        command.env_remove(name);
    }
    let output = command.output().map_err(|e| format!("cannot run `{}`: {e}", cargo.to_string_lossy()))?;
    if !output.status.success() {
        return Err(format!("`cargo build` failed ({}):\n{}", output.status, String::from_utf8_lossy(&output.stderr)));
    }
    let artifact = target_dir.join(TARGET).join("release").join(format!("{}.wasm", package.replace('-', "_")));
    std::fs::read(&artifact).map_err(|e| format!("cannot read `{}`: {e}", artifact.display()))
}

/// `<target>/pathsec-guests`, found from this test binary's path (`<target>/<profile>/deps/<binary>`),
/// the directory `host/bundled/build.rs` builds the bundled policies into.
fn guest_target_dir() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the test binary: {e}"))?;
    exe.ancestors()
        .find(|dir| dir.file_name().is_some_and(|name| name == "deps"))
        .and_then(Path::parent)
        .and_then(Path::parent)
        .map(|target| target.join("pathsec-guests"))
        .ok_or_else(|| format!("`{}` is not in a cargo target directory", exe.display()))
}
