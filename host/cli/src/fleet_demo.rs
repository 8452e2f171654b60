//! `pathsec fleet-demo`: a fleet on this machine, on real servers. It starts Debian's docker-registry
//! and nats-server on loopback (installing them if missing), three gateways — each a runtime following
//! its shard of device facts and its group's desired state — and a publisher; rolls out a new policy
//! and list bundle and shows each gateway switch; changes device facts and shows them reach the
//! gateways; stops NATS and shows the staleness bound fail decisions closed, then recover.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use pathsec::delivery::{AcceptedGenerations, BundleKeys, BundleStore, ListBundle};
use pathsec::signing::{SecretKey, TrustedKeys};
use pathsec::wasm::ArtifactCache;
use pathsec::{AccessKind, Attach, Engine, Event, FactSet, Flow, LinkState, PlmnId, Reason, Role, Runtime};
use pathsec_fleet::feed::{DesiredState, DeviceValue, FeedSettings, Follower, NatsSettings, Publisher, Rollout};
use pathsec_fleet::oci::{ContentStore, Node, Registry, RegistrySettings};
use pathsec_lab::{self as lab, NatsServer, OciRegistry};

use crate::command::{Outcome, Result, human};
use crate::registry::block_on;

/// Options of `pathsec fleet-demo`.
#[derive(clap::Args)]
pub struct FleetDemo {
    /// Gateways (each follows its own shard of devices).
    #[arg(long, default_value_t = 3)]
    gateways: usize,
    /// Devices per gateway.
    #[arg(long, default_value_t = 1000)]
    devices: usize,
    /// The staleness bound, in milliseconds.
    #[arg(long, default_value_t = 1500)]
    max_staleness_ms: u64,
}

const SERVER: &str = "mtc.example.com";
const GROUP: &str = "gateways";
const WAIT: Duration = Duration::from_secs(60);

struct Gateway {
    name: String,
    runtime: Runtime,
    follower: Follower,
    rollout: Rollout,
}

impl FleetDemo {
    pub fn run(self) -> Result {
        block_on(self.run_async())?
    }

    async fn run_async(self) -> Result {
        let started = Instant::now();
        let dir = std::env::temp_dir().join(format!("pathsec-fleet-demo-{}", std::process::id()));
        let _cleanup = Cleanup(dir.clone());
        step("servers", "installing nats-server and docker-registry if missing");
        lab::ensure_installed()?;
        let registry_server = OciRegistry::start(&dir.join("registry"))?;
        let mut nats = NatsServer::start(&dir.join("nats"))?;
        println!(
            "  registry on {} (pid {}), NATS JetStream on {} (pid {})",
            registry_server.host(),
            registry_server.pid().unwrap_or(0),
            nats.url(),
            nats.pid().unwrap_or(0)
        );

        let key = SecretKey::generate()?;
        let engine = Engine::builder().trusted_keys(TrustedKeys::new([key.public_key()])).build()?;
        let registry = Registry::new(&RegistrySettings::default());
        let host = registry_server.host();
        let now = unix_now();
        let strict = registry
            .push_policy(&format!("{host}/pathsec/policy:always-secure"), pathsec::bundled::ALWAYS_SECURE, Some(&key))
            .await?;
        let first_lists =
            ListBundle::new(1, "ops.example.net", now - 60, now + 86_400, &FactSet::builder().build()).sign(&key);
        let first_lists = registry.push_bundle(&format!("{host}/pathsec/lists:1"), &first_lists).await?;
        step("registry", "pushed the always-secure policy and an empty list bundle (generation 1), signed");

        // Devices: most at home with access security on, some roaming, some with access security off.
        let publisher = Publisher::connect(&NatsSettings::new(nats.url())).await?;
        let total = self.gateways * self.devices;
        let bar = bar(total as u64, "publishing device facts");
        for gateway in 0..self.gateways {
            for n in 0..self.devices {
                publisher.put_device(&shard(gateway), &device(gateway, n), &value(n, true)).await?;
                bar.inc(1);
            }
        }
        bar.finish_and_clear();
        step("facts", &format!("published {total} devices' facts, {} per shard", self.devices));

        // The gateways.
        let mut gateways = Vec::new();
        for index in 0..self.gateways {
            let initial = pathsec::bundled::ALWAYS_SECURE;
            let policy = engine.load_signed_policy("always-secure", initial, Some(&key.sign(initial).to_text()))?;
            let runtime = Runtime::new(policy)?;
            let node_dir = dir.join(format!("gw-{index}"));
            let node = Arc::new(Node {
                registry: Registry::new(&RegistrySettings::default()),
                store: ContentStore::open(node_dir.join("content"))?,
                artifacts: ArtifactCache::open(node_dir.join("artifacts"))?,
                bundle_keys: BundleKeys::new([key.public_key()]),
                accepted: Mutex::new(AcceptedGenerations::open(node_dir.join("accepted"))?),
                bundles: BundleStore::open(node_dir.join("bundles"))?,
            });
            let mut settings = FeedSettings::new(NatsSettings::new(nats.url()), [shard(index)]);
            settings.max_staleness = Duration::from_millis(self.max_staleness_ms);
            settings.snapshot = Some(node_dir.join("feed.snapshot"));
            let follower = Follower::start(runtime.clone(), settings)?;
            let rollout = Rollout::start(engine.clone(), runtime.clone(), node, NatsSettings::new(nats.url()), GROUP)?;
            gateways.push(Gateway { name: shard(index), runtime, follower, rollout });
        }
        publisher
            .set_desired(
                GROUP,
                &DesiredState {
                    policy: Some(strict.reference.clone()),
                    lists: Some(first_lists.reference.clone()),
                    ..DesiredState::default()
                },
            )
            .await?;
        let spinner = spinner("gateways take their snapshots and the desired state");
        let snapshot_started = Instant::now();
        for gateway in &mut gateways {
            let devices = self.devices;
            gateway
                .follower
                .wait_for(WAIT, |status| status.current && status.devices == devices)
                .await
                .map_err(|s| format!("{}: no snapshot: {s:?}", gateway.name))?;
            gateway
                .rollout
                .wait_for(WAIT, |status| status.lists.is_some())
                .await
                .map_err(|s| format!("{}: no rollout: {s:?}", gateway.name))?;
        }
        spinner.finish_and_clear();
        step(
            "gateways",
            &format!("{} gateways followed their shards in {}", self.gateways, human(snapshot_started.elapsed())),
        );
        self.tally(&gateways, "always-secure, no lists");

        // The rollout: the reference policy and lists trusting the home network.
        let policy = registry
            .push_policy(&format!("{host}/pathsec/policy:reference"), pathsec::bundled::REFERENCE, Some(&key))
            .await?;
        let lists = ListBundle::new(2, "ops.example.net", now - 60, now + 86_400, &trusted_lists()).sign(&key);
        let lists = registry.push_bundle(&format!("{host}/pathsec/lists:2"), &lists).await?;
        step(
            "rollout",
            &format!("pushed the reference policy ({}) and list bundle generation 2", short(&policy.reference)),
        );
        let rollout_started = Instant::now();
        publisher
            .set_desired(
                GROUP,
                &DesiredState {
                    policy: Some(policy.reference.clone()),
                    lists: Some(lists.reference.clone()),
                    ..DesiredState::default()
                },
            )
            .await?;
        for gateway in &mut gateways {
            let wanted = policy.reference.clone();
            gateway
                .rollout
                .wait_for(WAIT, |status| status.policy.as_deref() == Some(wanted.as_str()))
                .await
                .map_err(|s| format!("{}: no switch: {s:?}", gateway.name))?;
            println!(
                "  {} switched to {} after {}",
                gateway.name,
                short(&policy.reference),
                human(rollout_started.elapsed())
            );
        }
        self.tally(&gateways, "reference policy, lists generation 2");

        // Facts change: a tenth of each shard's devices lose access-layer security.
        let facts_started = Instant::now();
        let mut last = vec![0; self.gateways];
        for (gateway, last) in last.iter_mut().enumerate() {
            for n in (0..self.devices).step_by(10) {
                *last = publisher.put_device(&shard(gateway), &device(gateway, n), &value(n, false)).await?;
            }
        }
        for (gateway, last) in gateways.iter_mut().zip(&last) {
            gateway
                .follower
                .wait_for(WAIT, |status| status.revision >= *last)
                .await
                .map_err(|s| format!("{}: behind: {s:?}", gateway.name))?;
        }
        let changed = last.iter().max().copied().unwrap_or(0);
        step(
            "facts",
            &format!(
                "access security off for a tenth of the devices: every gateway at its shard's last revision (up to {changed}) after {}",
                human(facts_started.elapsed())
            ),
        );
        self.tally(&gateways, "after the fact change");

        // The outage.
        nats.kill();
        let outage = Instant::now();
        step("outage", &format!("NATS killed (pid gone); the staleness bound is {} ms", self.max_staleness_ms));
        for gateway in &mut gateways {
            gateway
                .follower
                .wait_for(WAIT, |status| status.stale)
                .await
                .map_err(|s| format!("{}: never stale: {s:?}", gateway.name))?;
        }
        println!("  every gateway stale after {}: decisions on fed facts fail closed", human(outage.elapsed()));
        self.tally(&gateways, "NATS down, past the staleness bound");
        nats.restart()?;
        let recovery = Instant::now();
        for gateway in &mut gateways {
            gateway
                .follower
                .wait_for(WAIT, |status| status.current && !status.stale)
                .await
                .map_err(|s| format!("{}: never recovered: {s:?}", gateway.name))?;
        }
        step(
            "recovery",
            &format!("NATS restarted: every gateway resumed and current after {}", human(recovery.elapsed())),
        );
        self.tally(&gateways, "recovered");
        for gateway in gateways {
            let status = gateway.follower.status();
            println!(
                "  {}: revision {}, {} devices, {} snapshot(s), {} resume(s), {} updates applied",
                gateway.name, status.revision, status.devices, status.snapshots, status.resumes, status.applied
            );
            gateway.follower.stop().await;
        }
        step("done", &format!("in {}", human(started.elapsed())));
        Ok(Outcome::Success)
    }

    /// Each gateway's decisions on sending to every device of its shard, by reason.
    fn tally(&self, gateways: &[Gateway], when: &str) {
        println!("  decisions ({when}):");
        for gateway in gateways {
            let runtime = &gateway.runtime;
            let server = runtime.server_id(&SERVER.parse().expect("a valid FQDN"));
            let mut worker = runtime.worker();
            let mut reasons: BTreeMap<Reason, usize> = BTreeMap::new();
            for n in 0..self.devices {
                let Ok(id) = runtime.device_id(&device_of(&gateway.name, n)) else { continue };
                let flow = Flow { device: id, server, role: Role::Server, event: Event::SendData };
                *reasons.entry(worker.decide(&flow).reason).or_default() += 1;
            }
            let parts: Vec<String> = reasons.iter().map(|(reason, n)| format!("{reason} {n}")).collect();
            println!("    {}: {}", gateway.name, parts.join(", "));
        }
    }
}

fn shard(gateway: usize) -> String {
    format!("gw-{gateway}")
}

fn device(gateway: usize, n: usize) -> String {
    device_of(&shard(gateway), n)
}

fn device_of(shard: &str, n: usize) -> String {
    format!("{shard}-imsi-{:015}", 310_410_000_000_000 + n as u64)
}

fn home() -> PlmnId {
    "310410".parse().expect("valid")
}

/// Device `n`: one in five roams in 20801; the rest are at home.
fn value(n: usize, ciphering: bool) -> DeviceValue {
    let serving = if n % 5 == 4 { "20801".parse().expect("valid") } else { home() };
    let attach = Attach { serving: Some(serving), home: home(), access: AccessKind::ThreeGpp };
    // Access security on, or off altogether (neither ciphering nor integrity: path A is open).
    DeviceValue::new(attach, Some(LinkState { ciphering, integrity: ciphering }))
}

/// Lists 1 and 2 for the home network with mtc.example.com; 20801 not trusted for its interconnect.
fn trusted_lists() -> FactSet {
    let mut lists = FactSet::builder();
    let server = lists.server(SERVER.parse().expect("valid"));
    lists.trust_path_a(home()).trust_path_a("20801".parse().expect("valid")).trust_path_b(home(), server);
    lists.build()
}

fn short(reference: &str) -> String {
    reference
        .split_once('@')
        .map_or(reference.to_owned(), |(name, digest)| format!("{name}@{}", &digest[..digest.len().min(19)]))
}

fn step(what: &str, text: &str) {
    println!("✓ {what:<9} {text}");
}

fn bar(len: u64, message: &str) -> ProgressBar {
    let bar = ProgressBar::new(len).with_message(message.to_owned());
    if let Ok(style) = ProgressStyle::with_template("  {msg} [{bar:30}] {pos}/{len}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

fn spinner(message: &str) -> ProgressBar {
    let spinner = ProgressBar::new_spinner().with_message(message.to_owned());
    spinner.enable_steady_tick(Duration::from_millis(100));
    spinner
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Removes the demo's directory (servers' storage, nodes' caches) at the end.
struct Cleanup(std::path::PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
