//! The fleet's scale figures on this machine, against a real `nats-server` (and registry) started on
//! loopback: a million devices' facts in the bucket and the snapshot load time and memory per device;
//! sustained updates per second from one publisher to four following runtimes; publish-to-decision
//! propagation (p50, p99); a policy push reaching four nodes.
//!
//! `cargo run --release -p pathsec-fleet --example fleet_scale [-- --devices 1000000 --updates 200000 --samples 1000]`
//! Results are recorded in `benches/README.md`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pathsec::delivery::{AcceptedGenerations, BundleKeys, BundleStore};
use pathsec::signing::{SecretKey, TrustedKeys};
use pathsec::wasm::ArtifactCache;
use pathsec::{AccessKind, Attach, Engine, Event, Flow, LinkState, PlmnId, Reason, Role, Runtime};
use pathsec_fleet::feed::{DesiredState, DeviceValue, FeedSettings, Follower, NatsSettings, Publisher, Rollout};
use pathsec_fleet::oci::{ContentStore, Node, Registry, RegistrySettings};
use pathsec_lab::{NatsServer, OciRegistry};

const WAIT: Duration = Duration::from_secs(600);

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.replace('_', "").parse().expect("a number"))
        .unwrap_or(default)
}

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn home() -> PlmnId {
    "310410".parse().expect("valid")
}

fn value(ciphering: bool) -> DeviceValue {
    DeviceValue::new(
        Attach { serving: Some(home()), home: home(), access: AccessKind::ThreeGpp },
        Some(LinkState { ciphering, integrity: true }),
    )
}

fn gateway(engine: &Engine) -> Runtime {
    let runtime =
        Runtime::new(engine.load_policy("reference", pathsec::bundled::REFERENCE).expect("bundled")).expect("runtime");
    let server = runtime.server_id(&"mtc.example.com".parse().expect("fqdn"));
    runtime.update_lists(|lists| {
        lists.trust_path_a(home()).trust_path_b(home(), server);
    });
    runtime
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let devices = arg("--devices", 1_000_000);
    let updates = arg("--updates", 200_000);
    let samples = arg("--samples", 1000);
    let dir = tempfile::TempDir::new().expect("temp");
    let nats = NatsServer::start(&dir.path().join("nats")).expect("nats starts");
    let settings = NatsSettings::new(nats.url());
    let publisher = Publisher::connect(&settings).await.expect("publisher");
    let engine = Engine::new().expect("engine");
    println!(
        "machine: {} cores; nats-server {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        nats.url()
    );

    // 1. A million devices: bulk load, then one runtime's snapshot.
    let names: Vec<String> = (0..devices).map(|n| format!("imsi-{:015}", 310_410_000_000_000u64 + n as u64)).collect();
    let started = Instant::now();
    publisher.put_devices(names.iter().map(|name| ("big", name.as_str(), value(true))), 4096).await.expect("bulk load");
    let load = started.elapsed();
    println!(
        "bulk load: {devices} devices in {} ({:.0} puts/s, one publisher, 4096 in flight)",
        ms(load),
        devices as f64 / load.as_secs_f64()
    );
    // The runtime's own share: the same devices' facts applied directly, no feed.
    let before = rss_bytes();
    {
        let runtime = gateway(&engine);
        for (n, name) in names.iter().enumerate() {
            let id = runtime.device_id(name).expect("room");
            runtime.apply_fed(id, value(true).facts(), n as u64 + 1).expect("issued");
        }
        let after = rss_bytes();
        println!(
            "runtime alone: {:.0} bytes/device (RSS delta {:.1} MiB for {devices} devices' names, slots and facts)",
            after.saturating_sub(before) as f64 / devices as f64,
            after.saturating_sub(before) as f64 / (1 << 20) as f64
        );
    }
    let before = rss_bytes();
    let runtime = gateway(&engine);
    let started = Instant::now();
    let mut follower = Follower::start(runtime.clone(), FeedSettings::new(settings.clone(), ["big"])).expect("starts");
    follower.wait_for(WAIT, |status| status.current && status.devices == devices).await.expect("snapshot");
    let snapshot = started.elapsed();
    let after = rss_bytes();
    println!(
        "snapshot: {devices} devices applied in {} ({:.0} devices/s); memory {:.0} bytes/device (runtime + follower, RSS delta {:.1} MiB)",
        ms(snapshot),
        devices as f64 / snapshot.as_secs_f64(),
        after.saturating_sub(before) as f64 / devices as f64,
        after.saturating_sub(before) as f64 / (1 << 20) as f64
    );
    follower.stop().await;
    drop(runtime);

    // 2. Four runtimes following one shard; sustained updates from one publisher.
    let hot = 10_000;
    let hot_names: Vec<String> = (0..hot).map(|n| format!("hot-{n}")).collect();
    publisher.put_devices(hot_names.iter().map(|name| ("hot", name.as_str(), value(true))), 1024).await.expect("load");
    let runtimes: Vec<Runtime> = (0..4).map(|_| gateway(&engine)).collect();
    let mut followers: Vec<Follower> = runtimes
        .iter()
        .map(|runtime| Follower::start(runtime.clone(), FeedSettings::new(settings.clone(), ["hot"])).expect("starts"))
        .collect();
    for follower in &mut followers {
        follower.wait_for(WAIT, |status| status.current && status.devices == hot).await.expect("snapshot");
    }
    let started = Instant::now();
    let last = publisher
        .put_devices((0..updates).map(|n| ("hot", hot_names[n % hot].as_str(), value(n % 2 == 0))), 1024)
        .await
        .expect("updates");
    let published = started.elapsed();
    for follower in &mut followers {
        follower.wait_for(WAIT, |status| status.revision >= last).await.expect("caught up");
    }
    let all = started.elapsed();
    println!(
        "sustained: {updates} updates published in {} ({:.0}/s); all 4 runtimes applied them in {} ({:.0} updates/s each)",
        ms(published),
        updates as f64 / published.as_secs_f64(),
        ms(all),
        updates as f64 / all.as_secs_f64()
    );

    // 3. Publish-to-decision: one update at a time, until all four runtimes decide on it.
    let server = runtimes[0].server_id(&"mtc.example.com".parse().expect("fqdn"));
    let device = runtimes[0].device_id("hot-0").expect("room");
    let flow = Flow { device, server, role: Role::Server, event: Event::SendData };
    let mut worker = runtimes[0].worker();
    let mut latencies = Vec::with_capacity(samples);
    for n in 0..samples {
        let ciphering = n % 2 == 1;
        let started = Instant::now();
        let revision = publisher.put_device("hot", "hot-0", &value(ciphering)).await.expect("put");
        for follower in &mut followers {
            follower.wait_for(WAIT, |status| status.revision >= revision).await.expect("applied");
        }
        latencies.push(started.elapsed());
        let want = if ciphering { Reason::PathSecure } else { Reason::AccessCipheringOff };
        assert_eq!(worker.decide(&flow).reason, want, "the decision follows the update");
    }
    latencies.sort();
    println!(
        "propagation (publish, acknowledged, applied by all 4, decided): p50 {}, p99 {}, max {} over {samples} updates",
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.99)),
        ms(*latencies.last().expect("samples"))
    );
    for follower in followers {
        follower.stop().await;
    }

    // 4. A policy push reaching four nodes.
    let registry_server = OciRegistry::start(&dir.path().join("registry")).expect("registry starts");
    let key = SecretKey::generate().expect("random");
    let signing = Engine::builder().trusted_keys(TrustedKeys::new([key.public_key()])).build().expect("engine");
    let registry = Registry::new(&RegistrySettings::default());
    let host = registry_server.host();
    let reference = registry
        .push_policy(&format!("{host}/p/reference:1"), pathsec::bundled::REFERENCE, Some(&key))
        .await
        .expect("push")
        .reference;
    let always = registry
        .push_policy(&format!("{host}/p/always:1"), pathsec::bundled::ALWAYS_SECURE, Some(&key))
        .await
        .expect("push")
        .reference;
    let mut rollouts = Vec::new();
    for n in 0..4 {
        let bytes = pathsec::bundled::ALWAYS_SECURE;
        let policy = signing.load_signed_policy("initial", bytes, Some(&key.sign(bytes).to_text())).expect("loads");
        let runtime = Runtime::new(policy).expect("runtime");
        let node_dir = dir.path().join(format!("node-{n}"));
        let node = Arc::new(Node {
            registry: Registry::new(&RegistrySettings::default()),
            store: ContentStore::open(node_dir.join("content")).expect("store"),
            artifacts: ArtifactCache::open(node_dir.join("artifacts")).expect("cache"),
            bundle_keys: BundleKeys::default(),
            accepted: Mutex::new(AcceptedGenerations::in_memory()),
            bundles: BundleStore::open(node_dir.join("bundles")).expect("bundles"),
        });
        rollouts.push(Rollout::start(signing.clone(), runtime, node, settings.clone(), "g").expect("starts"));
    }
    for (what, target) in [
        ("new to every node (pull + compile)", &reference),
        ("another new one", &always),
        ("back to the first (content store + artifact cache)", &reference),
    ] {
        let started = Instant::now();
        publisher
            .set_desired("g", &DesiredState { policy: Some(target.clone()), lists: None, ..DesiredState::default() })
            .await
            .expect("set");
        for rollout in &mut rollouts {
            rollout
                .wait_for(WAIT, |status| status.policy.as_deref() == Some(target.as_str()))
                .await
                .expect("installed");
        }
        println!("policy push reaching 4 nodes, {what}: {}", ms(started.elapsed()));
    }
}
