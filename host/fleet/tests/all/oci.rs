//! Policies and list bundles through a real registry (Debian's `docker-registry` 2.8, started on a
//! loopback port by the test): push, pull by digest, sign in place, install — and every fault the issue
//! names refused with the active policy and lists kept.

use std::sync::Mutex;

use pathsec::delivery::{AcceptedGenerations, BundleKeys, BundleStore, ListBundle};
use pathsec::signing::{SecretKey, TrustedKeys};
use pathsec::wasm::ArtifactCache;
use pathsec::{Engine, FactSet, Runtime};
use pathsec_fleet::oci::{ArtifactKind, ContentStore, Credentials, Node, OciError, Registry, RegistrySettings};
use pathsec_lab::OciRegistry;
use tempfile::TempDir;

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_secs()
}

fn lists(network: &str) -> FactSet {
    let mut lists = FactSet::builder();
    let server = lists.server("mtc.example.com".parse().expect("fqdn"));
    let home = network.parse().expect("plmn");
    lists.trust_path_a(home).trust_path_b(home, server);
    lists.build()
}

fn node(dir: &std::path::Path, keys: &BundleKeys) -> Node {
    Node {
        registry: Registry::new(&RegistrySettings::default()),
        store: ContentStore::open(dir.join("content")).expect("store"),
        artifacts: ArtifactCache::open(dir.join("artifacts")).expect("cache"),
        bundle_keys: keys.clone(),
        accepted: Mutex::new(AcceptedGenerations::open(dir.join("accepted")).expect("accepted")),
        bundles: BundleStore::open(dir.join("bundles")).expect("bundles"),
    }
}

/// A runtime on the bundled always-secure policy, signed with `key` for engines that need it.
fn runtime_signed(engine: &Engine, key: &SecretKey) -> Runtime {
    let bytes = pathsec::bundled::ALWAYS_SECURE;
    let policy = engine.load_signed_policy("always-secure", bytes, Some(&key.sign(bytes).to_text())).expect("bundled");
    Runtime::new(policy).expect("runtime")
}

fn runtime(engine: &Engine) -> Runtime {
    let policy = engine.load_policy("always-secure", pathsec::bundled::ALWAYS_SECURE).expect("bundled");
    Runtime::new(policy).expect("runtime")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_policy_is_pushed_pulled_by_digest_and_installed_once_per_cache() {
    let dir = TempDir::new().expect("temp");
    let registry_server = OciRegistry::start(&dir.path().join("registry")).expect("registry starts");
    let key = SecretKey::generate().expect("random");
    let engine = Engine::builder().trusted_keys(TrustedKeys::new([key.public_key()])).build().expect("engine");
    let registry = Registry::new(&RegistrySettings::default());
    let tag = format!("{}/pathsec/reference:1", registry_server.host());
    let pushed = registry.push_policy(&tag, pathsec::bundled::REFERENCE, Some(&key)).await.expect("push");
    assert!(pushed.reference.contains("@sha256:"), "{pushed:?}");

    // By tag: refused, a node pulls by digest only.
    let store = ContentStore::open(dir.path().join("peek")).expect("store");
    assert!(matches!(registry.pull(&tag, &store).await, Err(OciError::NoDigest { .. })));

    let pulled = registry.pull(&pushed.reference, &store).await.expect("pull");
    assert_eq!((pulled.kind, pulled.bytes.as_slice()), (ArtifactKind::Policy, pathsec::bundled::REFERENCE));
    assert!(pulled.signature.is_some() && !pulled.from_store);

    // Two nodes sharing one directory: the first pulls and compiles, the second neither.
    let shared = dir.path().join("node");
    let keys = BundleKeys::default();
    let first = runtime_signed(&engine, &key);
    let installed = node(&shared, &keys).install_policy(&engine, &first, &pushed.reference).await.expect("install");
    assert!(!installed.from_store && !installed.precompiled);
    assert_eq!(first.policy().digest(), hex_of(&pushed.layer_digest));
    let second = runtime_signed(&engine, &key);
    let installed = node(&shared, &keys).install_policy(&engine, &second, &pushed.reference).await.expect("install");
    assert!(installed.from_store && installed.precompiled, "{installed:?}");

    // Even with the registry gone.
    let mut registry_server = registry_server;
    registry_server.kill();
    let third = runtime_signed(&engine, &key);
    node(&shared, &keys).install_policy(&engine, &third, &pushed.reference).await.expect("from the store");
    assert_eq!(third.policy().digest(), hex_of(&pushed.layer_digest));
}

fn hex_of(digest: &str) -> &str {
    digest.strip_prefix("sha256:").expect("sha256")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_are_refused_and_the_active_policy_stays() {
    let dir = TempDir::new().expect("temp");
    let mut registry_server = OciRegistry::start(&dir.path().join("registry")).expect("registry starts");
    let host = registry_server.host();
    let key = SecretKey::generate().expect("random");
    let engine = Engine::builder().trusted_keys(TrustedKeys::new([key.public_key()])).build().expect("engine");
    let registry = Registry::new(&RegistrySettings::default());
    let node = node(&dir.path().join("node"), &BundleKeys::default());
    let runtime = runtime_signed(&engine, &key);
    let active = runtime.policy().digest().to_owned();
    let refused = |error: OciError, needle: &str| {
        let text = error.to_string();
        assert!(text.contains(needle), "{text}");
        assert_eq!(runtime.policy().digest(), active, "the active policy stays after: {text}");
    };

    // Unsigned, to a host that requires signatures; then signed in place and accepted.
    let unsigned = registry
        .push_policy(&format!("{host}/pathsec/unsigned:1"), pathsec::bundled::REFERENCE, None)
        .await
        .expect("push");
    refused(node.install_policy(&engine, &runtime, &unsigned.reference).await.expect_err("unsigned"), "not signed");
    let signed = registry.sign(&format!("{host}/pathsec/unsigned:1"), &key).await.expect("sign");
    assert_ne!(signed.manifest_digest, unsigned.manifest_digest);
    assert_eq!(signed.layer_digest, unsigned.layer_digest, "one layer, the same");

    // Another world.
    let other = registry
        .push_policy(&format!("{host}/pathsec/other:1"), &pathsec_suite::fixtures::wrong_world(), Some(&key))
        .await
        .expect("push");
    refused(
        node.install_policy(&engine, &runtime, &other.reference).await.expect_err("another world"),
        "pulled but not installed",
    );

    // A digest the registry does not hold.
    let missing = format!("{host}/pathsec/unsigned@sha256:{}", "0".repeat(64));
    refused(
        node.install_policy(&engine, &runtime, &missing).await.expect_err("no such manifest"),
        "pulling the manifest",
    );

    // A tampered blob: the registry's stored layer is changed on disk.
    let tampered = registry
        .push_policy(&format!("{host}/pathsec/tampered:1"), pathsec::bundled::ALWAYS_SECURE, Some(&key))
        .await
        .expect("push");
    let data = registry_server
        .storage()
        .join("docker/registry/v2/blobs/sha256")
        .join(&hex_of(&tampered.layer_digest)[..2])
        .join(hex_of(&tampered.layer_digest))
        .join("data");
    let mut bytes = std::fs::read(&data).expect("the stored blob");
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&data, bytes).expect("tamper");
    refused(node.install_policy(&engine, &runtime, &tampered.reference).await.expect_err("tampered"), "digest");

    // A bundle where a policy is asked for.
    let bundle = ListBundle::new(1, "ops", now() - 60, now() + 3600, &lists("310410")).sign(&key);
    let pushed = registry.push_bundle(&format!("{host}/pathsec/lists:1"), &bundle).await.expect("push");
    refused(node.install_policy(&engine, &runtime, &pushed.reference).await.expect_err("wrong kind"), "a list bundle");

    // The registry gone: refused, then back.
    registry_server.kill();
    refused(node.install_policy(&engine, &runtime, &signed.reference).await.expect_err("registry down"), "registry");
    registry_server.restart().expect("registry restarts");
    node.install_policy(&engine, &runtime, &signed.reference).await.expect("signed in place, accepted");
    assert_eq!(runtime.policy().digest(), hex_of(&signed.layer_digest));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_bundles_from_the_registry_are_checked_before_they_apply() {
    let dir = TempDir::new().expect("temp");
    let registry_server = OciRegistry::start(&dir.path().join("registry")).expect("registry starts");
    let host = registry_server.host();
    let key = SecretKey::generate().expect("random");
    let keys = BundleKeys::new([key.public_key()]);
    let engine = Engine::new().expect("engine");
    let registry = Registry::new(&RegistrySettings::default());
    let node = node(&dir.path().join("node"), &keys);
    let runtime = runtime(&engine);
    let push = |bytes: Vec<u8>, tag: &'static str| {
        let registry = &registry;
        let host = host.clone();
        async move { registry.push_bundle(&format!("{host}/pathsec/lists:{tag}"), &bytes).await.expect("push").reference }
    };
    let (start, end) = (now() - 60, now() + 3600);
    let second = push(ListBundle::new(2, "ops", start, end, &lists("310410")).sign(&key), "2").await;
    let installed = node.install_bundle(&runtime, &second).await.expect("applies");
    assert_eq!(installed.generation, Some(2));
    let digest = runtime.lists().lists_digest();
    assert_eq!(digest, lists("310410").lists_digest());

    let older = push(ListBundle::new(1, "ops", start, end, &lists("20801")).sign(&key), "1").await;
    let expired = push(ListBundle::new(3, "ops", now() - 7200, now() - 3600, &lists("20801")).sign(&key), "3").await;
    let unsigned = push(ListBundle::new(4, "ops", start, end, &lists("20801")).unsigned(), "4").await;
    let stranger = SecretKey::generate().expect("random");
    let untrusted = push(ListBundle::new(5, "ops", start, end, &lists("20801")).sign(&stranger), "5").await;
    for (reference, check) in
        [(older, "generation"), (expired, "expired"), (unsigned, "not signed"), (untrusted, "does not trust")]
    {
        let error = node.install_bundle(&runtime, &reference).await.expect_err(check).to_string();
        assert!(error.to_lowercase().contains(check), "{check}: {error}");
        assert_eq!(runtime.lists().lists_digest(), digest, "the lists in force stay after: {error}");
    }

    // A restart: the node starts from the bundle it kept, and generation 2 cannot come back as new.
    let restarted = runtime_from_store(&engine, &dir.path().join("node"), &keys);
    assert_eq!(restarted.lists().lists_digest(), digest);
    let again = node.install_bundle(&restarted, &second).await.expect_err("rollback");
    assert!(again.to_string().contains("generation"), "{again}");
}

fn runtime_from_store(engine: &Engine, dir: &std::path::Path, keys: &BundleKeys) -> Runtime {
    let runtime = runtime(engine);
    let accepted = AcceptedGenerations::open(dir.join("accepted")).expect("accepted");
    let store = BundleStore::open(dir.join("bundles")).expect("bundles");
    runtime.restore_bundle(&store, keys, &accepted).expect("restores").expect("a bundle was kept");
    runtime
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_asking_for_credentials_gets_them() {
    let dir = TempDir::new().expect("temp");
    let htpasswd = dir.path().join("htpasswd");
    let hash = bcrypt::hash("s3cret", 5).expect("bcrypt");
    std::fs::write(&htpasswd, format!("ci:{hash}\n")).expect("write");
    let registry_server = OciRegistry::start_with(&dir.path().join("registry"), Some(&htpasswd)).expect("starts");
    let tag = format!("{}/pathsec/reference:1", registry_server.host());
    let with = |credentials: Credentials| Registry::new(&RegistrySettings { credentials, insecure: Vec::new() });

    let anonymous = with(Credentials::Anonymous).push_policy(&tag, pathsec::bundled::REFERENCE, None).await;
    let error = anonymous.expect_err("no credentials").to_string();
    assert!(error.contains("check the registry is up, the reference and the credentials"), "{error}");
    let wrong = with(Credentials::Basic { user: "ci".into(), password: "wrong".into() });
    assert!(wrong.push_policy(&tag, pathsec::bundled::REFERENCE, None).await.is_err());

    let good = with(Credentials::Basic { user: "ci".into(), password: "s3cret".into() });
    let pushed = good.push_policy(&tag, pathsec::bundled::REFERENCE, None).await.expect("push with credentials");
    let store = ContentStore::open(dir.path().join("store")).expect("store");
    let pulled = good.pull(&pushed.reference, &store).await.expect("pull with credentials");
    assert_eq!(pulled.bytes, pathsec::bundled::REFERENCE);
    let elsewhere = ContentStore::open(dir.path().join("elsewhere")).expect("store");
    assert!(with(Credentials::Anonymous).pull(&pushed.reference, &elsewhere).await.is_err(), "anonymous pulls refused");
}

/// A content store that cannot be made says why once: the cause is in the message, not also its
/// source (the rollout's status shows the message alone; the CLI prints the chain).
#[test]
fn a_store_that_cannot_be_made_says_why_once() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a directory").unwrap();
    let error = ContentStore::open(file.join("store")).expect_err("under a file");
    assert!(matches!(error, OciError::Io { .. }), "{error}");
    let chain = pathsec_suite::checks::cause_once(&error);
    assert_eq!(chain.len(), 1, "{chain:?}");
    assert!(chain[0].contains("Not a directory"), "{chain:?}");
}
