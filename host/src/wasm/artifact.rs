//! Precompiled policies: a policy's machine code (or Pulley bytecode) for one target and engine
//! profile, in a file a host without a compiler loads (`pathsec compile --target T --out F`, then
//! [`Engine::load_artifact`](crate::Engine::load_artifact)).
//!
//! The file is `pathsec-artifact`, a format byte, the length of a JSON header (4 bytes, little
//! endian), the header, then wasmtime's serialized component. The header names the policy (its
//! component's SHA-256, which reports and logs show as for the component itself), the target, the
//! engine profile, the wasmtime version and the payload's SHA-256, so a host refuses an artifact for
//! another target, profile or wasmtime with an error naming both sides, and a truncated or altered one
//! before any of it runs. The SHA-256 catches corruption; authenticity comes from a signature over the
//! whole file (`<file>.sig`, required when the engine trusts keys) or from where the file is kept.

use serde::{Deserialize, Serialize};
use wasmtime::component::Component;

use crate::wasm::digest;
use crate::wasm::engine::{Engine, LoadError};
use crate::wasm::policy::{Policy, Source};

/// The first bytes of every artifact.
pub(crate) const MAGIC: &[u8; 16] = b"pathsec-artifact";
/// The layout after the magic; a change that old readers cannot read bumps it.
const FORMAT: u8 = 1;
/// The wasmtime this pathsec compiles and runs with (checked against `Cargo.lock` by a test).
pub(crate) const WASMTIME_VERSION: &str = "48.0.8";
/// Longest header read.
const MAX_HEADER: usize = 16 << 10;

/// What an artifact says about itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArtifactHeader {
    /// The policy's name when it was compiled (its file name).
    pub policy: String,
    /// The SHA-256 of the component it was compiled from, in hex.
    pub component_sha256: String,
    /// The component's size in bytes.
    pub component_size: u64,
    /// The target triple the code is for (`x86_64-unknown-linux-gnu`, `pulley64`, ...).
    pub target: String,
    /// The engine settings that shape the code ([`Engine::profile`](crate::Engine::profile)).
    pub profile: String,
    /// The wasmtime version that compiled it; only the same version loads it.
    pub wasmtime: String,
    /// The pathsec version that compiled it (informative).
    pub pathsec: String,
    /// The SHA-256 of the payload (wasmtime's serialized component), in hex.
    pub payload_sha256: String,
    /// The payload's size in bytes.
    pub payload_size: u64,
}

/// Whether `bytes` start like an artifact (the rest may still be refused).
pub fn is_artifact(bytes: &[u8]) -> bool {
    bytes.starts_with(MAGIC)
}

/// Wraps wasmtime's serialized component in an artifact file.
#[cfg(feature = "compiler")]
pub(crate) fn write(engine: &Engine, policy: &str, component: &[u8], payload: &[u8]) -> Vec<u8> {
    let header = ArtifactHeader {
        policy: policy.to_owned(),
        component_sha256: digest::sha256_hex(component),
        component_size: component.len() as u64,
        target: engine.target().to_owned(),
        profile: engine.profile(),
        wasmtime: WASMTIME_VERSION.to_owned(),
        pathsec: env!("CARGO_PKG_VERSION").to_owned(),
        payload_sha256: digest::sha256_hex(payload),
        payload_size: payload.len() as u64,
    };
    let json = serde_json::to_vec(&header).expect("a header serializes");
    let mut file = Vec::with_capacity(MAGIC.len() + 5 + json.len() + payload.len());
    file.extend_from_slice(MAGIC);
    file.push(FORMAT);
    file.extend_from_slice(&u32::try_from(json.len()).expect("a header is small").to_le_bytes());
    file.extend_from_slice(&json);
    file.extend_from_slice(payload);
    file
}

/// Reads an artifact's header and finds its payload, checking the layout and the payload's digest.
pub fn read_header<'a>(name: &str, bytes: &'a [u8]) -> Result<(ArtifactHeader, &'a [u8]), LoadError> {
    let bad = |problem: String| LoadError::BadArtifact { name: name.to_owned(), problem };
    if !is_artifact(bytes) {
        return Err(LoadError::NotArtifact { name: name.to_owned() });
    }
    let rest = &bytes[MAGIC.len()..];
    let Some((&format, rest)) = rest.split_first() else {
        return Err(bad("truncated after its first 16 bytes".to_owned()));
    };
    if format != FORMAT {
        return Err(bad(format!(
            "it is in artifact format {format}, and this host reads format {FORMAT}: compile it again with this host's `pathsec compile`"
        )));
    }
    let (length, rest) = rest.split_at_checked(4).ok_or_else(|| bad("truncated in its header".to_owned()))?;
    let length = u32::from_le_bytes(length.try_into().expect("4 bytes")) as usize;
    if length > MAX_HEADER {
        return Err(bad(format!("its header claims {length} bytes, more than the {MAX_HEADER} a header may have")));
    }
    let (json, payload) = rest.split_at_checked(length).ok_or_else(|| bad("truncated in its header".to_owned()))?;
    let header: ArtifactHeader =
        serde_json::from_slice(json).map_err(|e| bad(format!("its header is not an artifact header: {e}")))?;
    if payload.len() as u64 != header.payload_size {
        return Err(bad(format!(
            "its code is {} bytes, and its header says {}: the file is truncated or was changed after it was compiled",
            payload.len(),
            header.payload_size
        )));
    }
    Ok((header, payload))
}

/// Loads an artifact into `engine`: the header checked against the engine, the signature (when the
/// engine trusts keys) and the payload's digest checked, then the code loaded and the policy checked
/// to implement `path-secure` as a component would be.
pub(crate) fn load(engine: &Engine, name: &str, bytes: &[u8], signature: Option<&str>) -> Result<Policy, LoadError> {
    let (header, payload) = read_header(name, bytes)?;
    check_fits(engine, name, &header)?;
    engine.trusted_keys().check(name, bytes, signature)?;
    load_checked(engine, name, header, payload)
}

/// Loads an artifact from the artifact cache, made from the component whose SHA-256 is `component`
/// (whose signature the cache checked): no artifact signature is needed.
pub(crate) fn load_cached(engine: &Engine, name: &str, bytes: &[u8], component: &str) -> Result<Policy, LoadError> {
    let (header, payload) = read_header(name, bytes)?;
    check_fits(engine, name, &header)?;
    if header.component_sha256 != component {
        let problem = format!("it was compiled from component {}, not this one", header.component_sha256);
        return Err(LoadError::BadArtifact { name: name.to_owned(), problem });
    }
    load_checked(engine, name, header, payload)
}

fn load_checked(engine: &Engine, name: &str, header: ArtifactHeader, payload: &[u8]) -> Result<Policy, LoadError> {
    if digest::sha256_hex(payload) != header.payload_sha256 {
        return Err(LoadError::BadArtifact {
            name: name.to_owned(),
            problem: "its code does not match the digest in its header: the file was changed after it was compiled (or is corrupt): compile it again".to_owned(),
        });
    }
    let component = deserialize(engine, payload).map_err(|e| LoadError::BadArtifact {
        name: name.to_owned(),
        problem: format!("wasmtime refused it: {e:#}"),
    })?;
    let source = Source { size: header.component_size as usize, digest: header.component_sha256 };
    Policy::from_component(engine, name, source, component)
}

/// Refuses an artifact made for another wasmtime, target or engine profile than `engine`'s.
fn check_fits(engine: &Engine, name: &str, header: &ArtifactHeader) -> Result<(), LoadError> {
    let mismatch = |what: &'static str, artifact: &str, host: &str| {
        Err(LoadError::ArtifactMismatch {
            name: name.to_owned(),
            what,
            artifact: artifact.to_owned(),
            host: host.to_owned(),
        })
    };
    if header.wasmtime != WASMTIME_VERSION {
        return mismatch("wasmtime", &header.wasmtime, WASMTIME_VERSION);
    }
    if header.target != engine.target() {
        return mismatch("target", &header.target, engine.target());
    }
    if header.profile != engine.profile() {
        return mismatch("engine profile", &header.profile, &engine.profile());
    }
    Ok(())
}

/// Loads machine code compiled by pathsec.
#[allow(unsafe_code)]
pub(crate) fn deserialize(engine: &Engine, payload: &[u8]) -> wasmtime::Result<Component> {
    // SAFETY: `Component::deserialize` runs the payload's machine code unchecked. Payloads come from
    // `precompile_component` of an engine of this target and profile (the header says so, and
    // `check_fits` held it against this engine), are what their header's digest names, and come from
    // a source the embedder trusts: a signed artifact when the engine trusts keys, else the embedder's
    // own storage (`ArtifactCache::open` refuses a directory others may write). wasmtime checks its own
    // header, version and settings once more, and refuses a mismatch.
    unsafe { Component::deserialize(engine.wasmtime(), payload) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wasmtime_version_is_the_locked_one() {
        let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.lock")).expect("Cargo.lock");
        let locked = lock
            .split("[[package]]")
            .find(|package| package.contains("\nname = \"wasmtime\"\n"))
            .and_then(|package| package.lines().find_map(|line| line.strip_prefix("version = \"")))
            .and_then(|version| version.strip_suffix('"'))
            .expect("wasmtime is locked");
        assert_eq!(locked, WASMTIME_VERSION, "update `WASMTIME_VERSION` with the wasmtime upgrade");
    }

    #[test]
    fn bad_layouts_are_refused_by_name() {
        let refused = |bytes: &[u8]| read_header("p.cwasm", bytes).expect_err("refused").to_string();
        assert!(refused(b"\0asm\x0d\0\x01\0").contains("not a precompiled"));
        assert!(refused(MAGIC).contains("truncated"));
        let mut file = MAGIC.to_vec();
        file.push(9);
        assert!(refused(&file).contains("format 9"));
        file[16] = FORMAT;
        file.extend_from_slice(&100u32.to_le_bytes());
        file.extend_from_slice(b"{}");
        assert!(refused(&file).contains("truncated in its header"));
        let mut file = MAGIC.to_vec();
        file.push(FORMAT);
        file.extend_from_slice(&u32::MAX.to_le_bytes());
        assert!(refused(&file).contains("more than the"));
    }
}
