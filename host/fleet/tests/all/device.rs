//! Configuration delivery to a device (000, FIGS. 15-16) over a real NATS server and registry: a pushed
//! bundle, a trigger and an HTTP GET of the bundle by digest, each fault refused with the lists kept,
//! and a device restarting offline from the last bundle it verified.

use std::sync::Arc;
use std::time::Duration;

use async_nats::HeaderMap;
use pathsec::delivery::{AcceptedGenerations, BundleKeys, BundleStore, ListBundle};
use pathsec::signing::SecretKey;
use pathsec::{FactSet, Runtime};
use pathsec_fleet::device::{ConfigSender, DeliveryStatus, DeviceClient, Listener, Trigger};
use pathsec_fleet::feed::NatsSettings;
use pathsec_fleet::oci::{Registry, RegistrySettings};
use pathsec_lab::{NatsServer, OciRegistry};
use tempfile::TempDir;

const WAIT: Duration = Duration::from_secs(20);

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

fn device_node(dir: &std::path::Path, keys: &BundleKeys) -> (Runtime, Arc<DeviceClient>) {
    let runtime = Runtime::new(pathsec_suite::bundled("reference").expect("bundled")).expect("runtime");
    let accepted = AcceptedGenerations::open(dir.join("accepted")).expect("accepted");
    let store = BundleStore::open(dir.join("bundles")).expect("store");
    let client = Arc::new(DeviceClient::new(runtime.clone(), keys.clone(), accepted, store));
    (runtime, client)
}

async fn wait(listener: &mut Listener, what: &str, test: impl Fn(&DeliveryStatus) -> bool) -> DeliveryStatus {
    match listener.wait_for(WAIT, test).await {
        Ok(status) => status,
        Err(status) => panic!("{what}: not reached in {WAIT:?}: {status:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_takes_pushed_and_pulled_bundles_refuses_bad_ones_and_restarts_offline() {
    let dir = TempDir::new().expect("temp");
    let mut nats = NatsServer::start(&dir.path().join("nats")).expect("nats starts");
    let registry_server = OciRegistry::start(&dir.path().join("registry")).expect("registry starts");
    let key = SecretKey::generate().expect("random");
    let keys = BundleKeys::new([key.public_key()]);
    let (runtime, client) = device_node(&dir.path().join("device"), &keys);
    let mut listener = client.clone().listen(NatsSettings::new(nats.url()), "imsi-310410000000001").expect("listens");
    wait(&mut listener, "subscribed", |status| status.listening).await;
    let sender = ConfigSender::connect(&NatsSettings::new(nats.url())).await.expect("sender");
    let device = "imsi-310410000000001";
    let (start, end) = (now() - 60, now() + 3600);

    // FIG. 15: pushed.
    sender.push(device, &ListBundle::new(1, "ops", start, end, &lists("310410")).sign(&key)).await.expect("push");
    wait(&mut listener, "the push", |status| status.pushed == 1).await;
    assert_eq!(runtime.lists().lists_digest(), lists("310410").lists_digest());

    // A push whose bytes do not match its digest, and an unsigned one: refused, the lists stay.
    let raw = async_nats::connect(nats.url()).await.expect("connect");
    let mut headers = HeaderMap::new();
    headers.insert("Pathsec-Delivery", "push");
    headers.insert("Pathsec-Digest", format!("sha256:{}", "0".repeat(64)).as_str());
    let other = ListBundle::new(2, "ops", start, end, &lists("20801")).sign(&key);
    raw.publish_with_headers(format!("pathsec.config.{device}"), headers, other.clone().into()).await.expect("publish");
    raw.flush().await.expect("flush");
    let status = wait(&mut listener, "the tampered push", |status| status.refused == 1).await;
    assert!(status.last_error.as_deref().is_some_and(|e| e.contains("tampered")));
    sender.push(device, &ListBundle::new(2, "ops", start, end, &lists("20801")).unsigned()).await.expect("push");
    let status = wait(&mut listener, "the unsigned push", |status| status.refused == 2).await;
    assert!(status.last_error.as_deref().is_some_and(|e| e.contains("not signed")), "{status:?}");
    assert_eq!(runtime.lists().lists_digest(), lists("310410").lists_digest());

    // FIG. 16: a trigger, then a GET of the bundle by digest from the registry's blob endpoint.
    let registry = Registry::new(&RegistrySettings::default());
    let pushed =
        registry.push_bundle(&format!("{}/pathsec/lists:2", registry_server.host()), &other).await.expect("push");
    let url = format!("http://{}/v2/pathsec/lists/blobs/{}", registry_server.host(), pushed.layer_digest);
    sender.trigger(device, &Trigger { url: url.clone(), digest: pushed.layer_digest.clone() }).await.expect("trigger");
    let status = wait(&mut listener, "the pull", |status| status.pulled == 1).await;
    assert_eq!(status.generation, Some(2));
    assert_eq!(runtime.lists().lists_digest(), lists("20801").lists_digest());

    // A trigger naming plain HTTP off loopback, one with the wrong digest, and an older generation.
    let not_https = Trigger { url: "http://config.example.net/lists".into(), digest: pushed.layer_digest.clone() };
    sender.trigger(device, &not_https).await.expect("trigger");
    let status = wait(&mut listener, "plain HTTP refused", |status| status.refused == 3).await;
    assert!(status.last_error.as_deref().is_some_and(|e| e.contains("not HTTPS")));
    sender.trigger(device, &Trigger { url, digest: format!("sha256:{}", "1".repeat(64)) }).await.expect("trigger");
    wait(&mut listener, "wrong digest refused", |status| status.refused == 4).await;
    sender.push(device, &ListBundle::new(1, "ops", start, end, &lists("44010")).sign(&key)).await.expect("push");
    let status = wait(&mut listener, "rollback refused", |status| status.refused == 5).await;
    assert!(status.last_error.as_deref().is_some_and(|e| e.contains("generation")), "{status:?}");
    assert_eq!(runtime.lists().lists_digest(), lists("20801").lists_digest());

    // Offline: the messaging server gone, the device restarts from the bundle it kept.
    drop(listener);
    nats.kill();
    let (restarted, client) = device_node(&dir.path().join("device"), &keys);
    let restored = client.restore().expect("verified again").expect("kept");
    assert_eq!(restored.generation, 2);
    assert_eq!(restarted.lists().lists_digest(), lists("20801").lists_digest());
}
