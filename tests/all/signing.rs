//! Signed policies: an engine that trusts keys refuses unsigned, wrongly signed, tampered and
//! untrusted policies with a clear error, and whatever policy a runtime runs stays active.

use pathsec::{
    Action, Engine, LinkState, Runtime,
    runtime::{DirectoryEvent, PolicyDirectory},
    signing::{SecretKey, SignatureError, TrustedKeys},
    wasm::{ArtifactCache, LoadError},
};

const REFERENCE: &[u8] = pathsec::bundled::REFERENCE;
const ALWAYS_SECURE: &[u8] = pathsec::bundled::ALWAYS_SECURE;

fn trusting(key: &SecretKey) -> Engine {
    Engine::builder().trusted_keys(TrustedKeys::new([key.public_key()])).build().expect("engine")
}

fn refusal(engine: &Engine, bytes: &[u8], signature: Option<&str>) -> SignatureError {
    match engine.load_signed_policy("policy.wasm", bytes, signature) {
        Err(LoadError::Signature(refusal)) => refusal,
        Err(other) => panic!("refused for another reason: {other}"),
        Ok(_) => panic!("loaded"),
    }
}

#[test]
fn every_bad_signature_is_refused_and_says_what_to_do() {
    let key = SecretKey::generate().expect("random");
    let engine = trusting(&key);
    let signature = key.sign(REFERENCE).to_text();
    engine.load_signed_policy("policy.wasm", REFERENCE, Some(&signature)).expect("a signed policy loads");

    let unsigned = refusal(&engine, REFERENCE, None);
    assert!(matches!(unsigned, SignatureError::Unsigned { .. }));
    assert!(unsigned.to_string().contains("run `pathsec sign --key <secret key file> policy.wasm`"), "{unsigned}");
    assert!(matches!(engine.load_policy("policy.wasm", REFERENCE), Err(LoadError::Signature(_))));

    // One byte changed after signing (the signature is checked before the bytes are even parsed).
    let mut tampered = REFERENCE.to_vec();
    *tampered.last_mut().expect("bytes") ^= 1;
    let invalid = refusal(&engine, &tampered, Some(&signature));
    assert!(matches!(invalid, SignatureError::Invalid { .. }), "{invalid}");
    assert!(invalid.to_string().contains("does not match its content"), "{invalid}");

    // Another policy's signature.
    let other = refusal(&engine, ALWAYS_SECURE, Some(&signature));
    assert!(matches!(other, SignatureError::Invalid { .. }), "{other}");

    // Signed by a key the host does not trust.
    let stranger = SecretKey::generate().expect("random");
    let untrusted = refusal(&engine, REFERENCE, Some(&stranger.sign(REFERENCE).to_text()));
    let SignatureError::UntrustedKey { key_id, trusted, .. } = &untrusted else { panic!("{untrusted}") };
    assert_eq!(key_id, &stranger.public_key().id());
    assert_eq!(trusted, &[key.public_key().id()]);

    // Not a signature at all.
    let malformed = refusal(&engine, REFERENCE, Some("hello"));
    assert!(malformed.to_string().starts_with("`policy.wasm.sig` is malformed"), "{malformed}");

    // The artifact cache checks before it looks for machine code: a cached artifact is no way around.
    let cache_dir = tempfile::tempdir().expect("dir");
    let cache = ArtifactCache::open(cache_dir.path()).expect("opens");
    cache.load_signed_policy(&engine, "policy.wasm", REFERENCE, Some(&signature)).expect("compiled and cached");
    let cached = cache.load_policy(&engine, "policy.wasm", REFERENCE);
    assert!(matches!(cached, Err(LoadError::Signature(SignatureError::Unsigned { .. }))));

    // Without trusted keys nothing is required.
    pathsec_suite::engine().load_policy("policy.wasm", REFERENCE).expect("no keys, no signature needed");
}

#[test]
fn the_policy_directory_keeps_the_active_policy_until_a_good_signature_arrives() {
    let key = SecretKey::generate().expect("random");
    let engine = trusting(&key);
    let signature = key.sign(REFERENCE).to_text();
    let policy = engine.load_signed_policy("reference.wasm", REFERENCE, Some(&signature)).expect("signed");
    let runtime = Runtime::new(policy).expect("runtime");
    let flow = pathsec_suite::meter_at_home(&runtime, LinkState::OFF);
    let mut worker = runtime.worker();
    assert_eq!(worker.decide(&flow).action, Action::SecureThenSend, "the reference rule: access security is off");

    let policies = tempfile::tempdir().expect("dir");
    let mut directory = PolicyDirectory::open(policies.path(), &engine).expect("opens");
    let wasm = policies.path().join("always-secure.wasm");
    let rejected = |events: Vec<DirectoryEvent>| -> String {
        match events.as_slice() {
            [DirectoryEvent::Rejected { error, .. }] => error.clone(),
            other => panic!("expected one rejection, got {other:?}"),
        }
    };

    // Unsigned: refused, the reference policy stays.
    std::fs::write(&wasm, ALWAYS_SECURE).expect("drop");
    let error = rejected(directory.scan(&runtime).expect("scans"));
    assert!(error.starts_with("policy `always-secure.wasm` is not signed"), "{error}");
    assert_eq!(runtime.policy().name(), "reference.wasm");

    // A signature of other bytes: refused.
    std::fs::write(policies.path().join("always-secure.wasm.sig"), &signature).expect("drop");
    let error = rejected(directory.scan(&runtime).expect("scans"));
    assert!(error.contains("does not match its content"), "{error}");
    assert_eq!(runtime.policy().name(), "reference.wasm");
    assert_eq!(worker.decide(&flow).action, Action::SecureThenSend, "no decision changed");

    // Its own signature arrives: the unchanged policy file is loaded now.
    std::fs::write(policies.path().join("always-secure.wasm.sig"), key.sign(ALWAYS_SECURE).to_text()).expect("drop");
    let events = directory.scan(&runtime).expect("scans");
    assert!(matches!(events.as_slice(), [DirectoryEvent::Swapped { .. }]), "{events:?}");
    assert_eq!(runtime.policy().name(), "always-secure.wasm");

    // Tampered after signing: refused, the signed one stays.
    let mut tampered = ALWAYS_SECURE.to_vec();
    *tampered.last_mut().expect("bytes") ^= 1;
    std::fs::write(&wasm, &tampered).expect("tamper");
    let error = rejected(directory.scan(&runtime).expect("scans"));
    assert!(error.contains("does not match its content"), "{error}");
    assert_eq!(runtime.policy().name(), "always-secure.wasm");
}
