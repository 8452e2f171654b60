//! Precompiled artifacts (`Engine::precompile`, `Engine::load_artifact`): for this host, for another
//! architecture, for Pulley; and each way an artifact is refused (another target, profile or wasmtime,
//! truncated, altered, unsigned) with an error naming what differs.

use pathsec::signing::{SecretKey, TrustedKeys};
use pathsec::wasm::{ArtifactHeader, HOST_TARGET, LoadError, PULLEY64, read_header};
use pathsec::{Decider, Engine, Policy};
use pathsec_suite::generate::{self, Rng};

const REFERENCE: &[u8] = pathsec::bundled::REFERENCE;

fn artifact_for(engine: &Engine) -> Vec<u8> {
    engine.precompile("reference.wasm", REFERENCE, None).expect("compiles")
}

fn refused(engine: &Engine, artifact: &[u8]) -> String {
    engine.load_artifact("reference.cwasm", artifact, None).expect_err("refused").to_string()
}

/// The artifact with its header changed by `change` (layout and digests kept consistent).
fn with_header(artifact: &[u8], change: impl FnOnce(&mut ArtifactHeader)) -> Vec<u8> {
    let (mut header, payload) = read_header("a", artifact).expect("an artifact");
    change(&mut header);
    let json = serde_json::to_vec(&header).expect("serializes");
    let mut file = artifact[..17].to_vec();
    file.extend_from_slice(&(json.len() as u32).to_le_bytes());
    file.extend_from_slice(&json);
    file.extend_from_slice(payload);
    file
}

/// Both deciders decide alike over generated requests and fact sets.
fn decide_alike(mut a: Decider, mut b: Decider) {
    let mut rng = Rng::new(17);
    let networks = generate::networks();
    for _ in 0..20 {
        let (facts, servers) = generate::facts(&mut rng, 4, 0.5);
        for _ in 0..50 {
            let request = generate::request(&mut rng, &networks, &servers);
            assert_eq!(a.decide(&facts, &request), b.decide(&facts, &request), "{request:?}");
        }
    }
}

fn compiled() -> Policy {
    pathsec_suite::bundled("reference").expect("bundled")
}

#[test]
fn an_artifact_for_this_host_decides_as_the_component_does() {
    let engine = Engine::new().expect("engine");
    let artifact = artifact_for(&engine);
    let (header, _) = read_header("reference.cwasm", &artifact).expect("reads");
    assert_eq!(header.target, HOST_TARGET);
    assert_eq!(header.profile, engine.profile());
    let loaded = engine.load_artifact("reference.cwasm", &artifact, None).expect("loads");
    // The same policy by its identity: the component's digest, whichever way it was loaded.
    assert_eq!(loaded.digest(), compiled().digest());
    assert_eq!(loaded.size(), REFERENCE.len());
    decide_alike(loaded.decider(), compiled().decider());

    // `load_policy_file` tells an artifact from a component by its first bytes.
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("reference.cwasm"), &artifact).expect("write");
    let from_file = engine.load_policy_file(dir.path().join("reference.cwasm")).expect("loads");
    assert_eq!(from_file.name(), "reference.cwasm");
    assert_eq!(from_file.digest(), compiled().digest());
}

#[test]
fn pulley_bytecode_decides_as_native_code_does() {
    let pulley = Engine::builder().target(PULLEY64).build().expect("a Pulley engine");
    let artifact = artifact_for(&pulley);
    assert_eq!(read_header("r", &artifact).expect("reads").0.target, "pulley64");
    let loaded = pulley.load_artifact("reference.cwasm", &artifact, None).expect("loads on Pulley");
    decide_alike(loaded.decider(), compiled().decider());
    // Native code is not Pulley bytecode, nor the other way round.
    let native = Engine::new().expect("engine");
    let error = refused(&native, &artifact);
    assert_eq!(
        error,
        format!(
            "cannot load precompiled policy `reference.cwasm`: it was compiled for target `pulley64`, and this engine is target `{HOST_TARGET}`: compile it again for this engine (`pathsec compile --target <this target>`, with the same engine settings and pathsec version)"
        )
    );
    assert!(
        refused(&pulley, &artifact_for(&native))
            .contains(&format!("target `{HOST_TARGET}`, and this engine is target `pulley64`"))
    );
}

#[test]
fn an_artifact_for_another_architecture_names_its_target_and_is_refused_here() {
    let aarch64 = Engine::builder().target("aarch64-unknown-linux-gnu").build().expect("a cross engine");
    let artifact = artifact_for(&aarch64);
    let (header, payload) = read_header("r", &artifact).expect("reads");
    assert_eq!(header.target, "aarch64-unknown-linux-gnu");
    // The payload is wasmtime's ELF object for that machine: e_machine 183 is EM_AARCH64.
    assert_eq!(&payload[..4], b"\x7fELF");
    assert_eq!(u16::from_le_bytes([payload[18], payload[19]]), 183);
    let error = refused(&Engine::new().expect("engine"), &artifact);
    assert!(
        error.contains(&format!("target `aarch64-unknown-linux-gnu`, and this engine is target `{HOST_TARGET}`")),
        "{error}"
    );
    // An engine for another architecture compiles only.
    let error = aarch64.load_policy("reference.wasm", REFERENCE).expect_err("cannot run here").to_string();
    assert_eq!(
        error,
        format!(
            "cannot load policy `reference.wasm`: this engine makes code for `aarch64-unknown-linux-gnu`, which cannot run on this host (`{HOST_TARGET}`): use it to precompile (`Engine::precompile`), and load on an engine for this host"
        )
    );
    assert!(matches!(aarch64.load_artifact("r", &artifact, None), Err(LoadError::OtherTarget { .. })));
}

#[test]
fn another_profile_or_wasmtime_is_refused_naming_both() {
    let default = Engine::new().expect("engine");
    let checked = Engine::builder().signals_based_traps(false).build().expect("engine without signal traps");
    let artifact = artifact_for(&checked);
    let error = refused(&default, &artifact);
    assert!(
        error.contains(
            "compiled for engine profile `epoch-interruption, explicit-bounds-checks`, and this engine is engine profile `epoch-interruption, signals-based-traps`"
        ),
        "{error}"
    );
    let loaded = checked.load_artifact("reference.cwasm", &artifact, None).expect("loads on its own profile");
    decide_alike(loaded.decider(), compiled().decider());

    let older = with_header(&artifact_for(&default), |header| header.wasmtime = "47.0.0".to_owned());
    let error = refused(&default, &older);
    assert!(error.contains("compiled for wasmtime `47.0.0`, and this engine is wasmtime `48.0.8`"), "{error}");
}

#[test]
fn truncated_or_altered_artifacts_are_refused_before_they_run() {
    let engine = Engine::new().expect("engine");
    let artifact = artifact_for(&engine);
    // Cut anywhere: in the magic, the header, the code.
    for cut in [0, 5, 16, 17, 19, 40, 300, artifact.len() / 2, artifact.len() - 1] {
        let error = refused(&engine, &artifact[..cut]);
        assert!(
            error.contains("not a precompiled pathsec artifact") || error.contains("truncated"),
            "cut at {cut}: {error}"
        );
    }
    // One bit of the code flipped.
    let mut altered = artifact.clone();
    let last = altered.len() - 100;
    altered[last] ^= 1;
    let error = refused(&engine, &altered);
    assert!(error.contains("does not match the digest in its header"), "{error}");
    // A header that is not one.
    let garbled = with_header(&artifact, |header| header.payload_size += 1);
    assert!(refused(&engine, &garbled).contains("truncated or was changed"));
    // A component is not an artifact.
    assert!(refused(&engine, REFERENCE).contains("not a precompiled pathsec artifact"));
}

#[test]
fn an_engine_that_trusts_keys_loads_only_signed_artifacts() {
    let secret = SecretKey::generate().expect("random");
    let engine = Engine::builder().trusted_keys(TrustedKeys::new([secret.public_key()])).build().expect("engine");
    let artifact = artifact_for(&Engine::new().expect("engine"));
    let unsigned = refused(&engine, &artifact);
    assert!(unsigned.contains("is not signed"), "{unsigned}");
    let signature = secret.sign(&artifact).to_text();
    engine.load_artifact("reference.cwasm", &artifact, Some(&signature)).expect("a signed artifact loads");
    // Altered and its digest recomputed: the header is consistent, the signature is not.
    let mut altered = artifact.clone();
    let at = altered.len() - 100;
    altered[at] ^= 1;
    let (_, payload) = read_header("r", &altered).expect("reads");
    let digest = sha256_hex(payload);
    let forged = with_header(&altered, |header| header.payload_sha256 = digest);
    let error = engine.load_artifact("reference.cwasm", &forged, Some(&signature)).expect_err("refused").to_string();
    assert!(error.contains("does not match its content"), "{error}");
    // A component's signature does not sign its artifact.
    let component_signature = secret.sign(REFERENCE).to_text();
    let error = engine.load_artifact("r", &artifact, Some(&component_signature)).expect_err("refused").to_string();
    assert!(error.contains("does not match its content"), "{error}");
}

#[test]
fn a_target_this_build_cannot_compile_for_is_an_error_naming_the_feature() {
    // aarch64 is built in (`cross-compile`); riscv64 is not: refused when the engine is made, not at
    // the first compilation.
    Engine::builder().target("aarch64-unknown-linux-gnu").build().expect("a cross engine");
    let error = Engine::builder().target("riscv64gc-unknown-linux-gnu").build().expect_err("refused").to_string();
    assert!(error.starts_with("cannot make an engine for target `riscv64gc-unknown-linux-gnu`: "), "{error}");
    assert!(error.contains("riscv64 and s390x are not built into pathsec"), "{error}");
    let error = Engine::builder().target("no-such-arch").build().expect_err("refused").to_string();
    assert!(error.starts_with("cannot make an engine for target `no-such-arch`: "), "{error}");
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}
