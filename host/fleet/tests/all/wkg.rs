//! Interoperability with wasm-pkg-tools' `wkg` (pinned: `lab::WKG_VERSION`, installed into the
//! project's tool directory on first use) through a real registry, both ways: `wkg oci pull` gets a
//! pathsec-pushed policy byte for byte; a policy `wkg oci push`ed is pulled by pathsec — refused by a
//! host requiring signatures until `Registry::sign` adds one, accepted by a host that requires none.

use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

use pathsec::delivery::{AcceptedGenerations, BundleKeys, BundleStore};
use pathsec::signing::{SecretKey, TrustedKeys};
use pathsec::wasm::ArtifactCache;
use pathsec::{Engine, Runtime};
use pathsec_fleet::oci::{ContentStore, Node, Registry, RegistrySettings};
use pathsec_lab::{self as lab, OciRegistry};
use tempfile::TempDir;

fn node(dir: &Path) -> Node {
    Node {
        registry: Registry::new(&RegistrySettings::default()),
        store: ContentStore::open(dir.join("content")).expect("store"),
        artifacts: ArtifactCache::open(dir.join("artifacts")).expect("cache"),
        bundle_keys: BundleKeys::default(),
        accepted: Mutex::new(AcceptedGenerations::in_memory()),
        bundles: BundleStore::open(dir.join("bundles")).expect("bundles"),
    }
}

fn wkg() -> std::path::PathBuf {
    lab::wkg(&lab::tool_cache()).expect("wkg installs into the tool cache")
}

fn run(mut command: Command) -> String {
    let output = command.output().expect("wkg runs");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{command:?}: {text}");
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wkg_and_pathsec_read_each_others_policies() {
    let wkg = wkg();
    let dir = TempDir::new().expect("temp");
    let registry_server = OciRegistry::start(&dir.path().join("registry")).expect("registry starts");
    let host = registry_server.host();
    let key = SecretKey::generate().expect("random");
    let registry = Registry::new(&RegistrySettings::default());

    // pathsec pushes (signed); wkg pulls by digest, byte for byte.
    let pushed = registry
        .push_policy(&format!("{host}/pathsec/reference:1"), pathsec::bundled::REFERENCE, Some(&key))
        .await
        .expect("push");
    let out = dir.path().join("from-wkg.wasm");
    let mut pull = Command::new(&wkg);
    pull.args(["oci", "pull", &pushed.reference, "--insecure", &host, "-o"]).arg(&out);
    run(pull);
    assert_eq!(std::fs::read(&out).expect("written"), pathsec::bundled::REFERENCE);

    // wkg pushes; pathsec pulls by digest.
    let file = dir.path().join("always-secure.wasm");
    std::fs::write(&file, pathsec::bundled::ALWAYS_SECURE).expect("write");
    let tag = format!("{host}/pathsec/from-wkg:1");
    let mut push = Command::new(&wkg);
    push.args(["oci", "push", &tag]).arg(&file).args(["--insecure", &host]);
    run(push);
    let by_digest = registry.resolve(&tag).await.expect("the tag resolves");

    // A host requiring signatures refuses it…
    let strict = Engine::builder().trusted_keys(TrustedKeys::new([key.public_key()])).build().expect("engine");
    let bytes = pathsec::bundled::REFERENCE;
    let initial = strict.load_signed_policy("reference", bytes, Some(&key.sign(bytes).to_text())).expect("signed");
    let strict_runtime = Runtime::new(initial).expect("runtime");
    let strict_node = node(&dir.path().join("strict"));
    let error =
        strict_node.install_policy(&strict, &strict_runtime, &by_digest).await.expect_err("unsigned").to_string();
    assert!(error.contains("not signed"), "{error}");
    assert_eq!(strict_runtime.policy().name(), "reference", "the active policy stays");

    // …until it is signed in place (the manifest re-pushed with the annotation, one layer still)…
    let signed = registry.sign(&tag, &key).await.expect("sign");
    strict_node.install_policy(&strict, &strict_runtime, &signed.reference).await.expect("signed: accepted");
    let layer = signed.layer_digest.strip_prefix("sha256:").expect("sha256");
    assert_eq!(strict_runtime.policy().digest(), layer);
    assert_eq!(strict_runtime.policy().size(), pathsec::bundled::ALWAYS_SECURE.len());

    // …and wkg still reads the signed artifact.
    let again = dir.path().join("signed-from-wkg.wasm");
    let mut pull = Command::new(&wkg);
    pull.args(["oci", "pull", &signed.reference, "--insecure", &host, "-o"]).arg(&again);
    run(pull);
    assert_eq!(std::fs::read(&again).expect("written"), pathsec::bundled::ALWAYS_SECURE);

    // A host requiring no signature takes wkg's unsigned push as it is.
    let open = Engine::new().expect("engine");
    let open_runtime = Runtime::new(open.load_policy("reference", bytes).expect("loads")).expect("runtime");
    node(&dir.path().join("open")).install_policy(&open, &open_runtime, &by_digest).await.expect("accepted");
}
