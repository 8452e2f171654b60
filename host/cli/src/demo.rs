//! `pathsec demo`: a simulated server. The reference policy (or `--policy`) decides a realistic mix of
//! flows through a `Runtime` with its flow cache; mid-run the facts change (a visited network loses
//! its secure interconnect, a network's access security goes off, devices move) and the operator swaps
//! policies. Each phase reports its decisions, cache hit rate and latency percentiles.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use pathsec::{
    AccessKind, Attach, DeviceId, Engine, Event, Flow, LinkState, PlmnId, Role, Runtime, ServerId, Worker,
    runtime::DecisionLog,
    vocab::{AccessIntegrity, EndToEnd, TriggerCheck},
};

use crate::command::{Outcome, Result, human, load_policy};

/// Options of `pathsec demo`.
#[derive(clap::Args)]
pub struct Demo {
    /// The policy to run (default: the bundled `reference` policy).
    #[arg(long)]
    policy: Option<PathBuf>,
    /// Packets per phase.
    #[arg(long, default_value_t = 50_000)]
    packets: usize,
    /// Devices in the simulation.
    #[arg(long, default_value_t = 400)]
    devices: usize,
    /// Append every decision to this JSON-lines audit log (written off the decision path).
    #[arg(long, value_name = "FILE")]
    decision_log: Option<PathBuf>,
}

/// A simulated device: its handle and the network serving it (`None`: unknown).
type Device = (DeviceId, Option<&'static str>);

const HOME: &str = "310410";
/// Visited networks: (network, share of devices in ‰ cumulative order). 31041 is a look-alike of the
/// home network with a 2-digit MNC; 44010 has no secure interconnect; `None` is an unknown network.
const SERVING: &[(Option<&str>, u32)] = &[
    (Some(HOME), 600),
    (Some("20801"), 150),
    (Some("26202"), 60),
    (Some("44010"), 60),
    (Some("23415"), 50),
    (Some("31041"), 50),
    (None, 30),
];
const SERVERS: &[&str] = &["meter.utility.example", "fleet.example.com", "cameras.example.net", "legacy.example.org"];

impl Demo {
    pub fn run(self) -> Result {
        let engine = Engine::new()?;
        let policy = match &self.policy {
            Some(path) => load_policy(&engine, path, None)?.policy,
            None => engine.load_policy("reference", pathsec::bundled::REFERENCE)?,
        };
        let strict = engine.load_policy("always-secure", pathsec::bundled::ALWAYS_SECURE)?;
        let mut builder = Runtime::builder(policy.clone());
        if let Some(path) = &self.decision_log {
            builder = builder.decision_log(DecisionLog::to_file(path)?);
        }
        let runtime = builder.build()?;
        let plmn = |text: &str| text.parse::<PlmnId>();
        let home = plmn(HOME)?;
        let servers: Vec<ServerId> = SERVERS
            .iter()
            .map(|s| s.parse().map(|fqdn| runtime.server_id(&fqdn)))
            .collect::<std::result::Result<_, _>>()?;
        let list1: Vec<PlmnId> = ["310410", "310260", "20801", "26202", "44010", "23415"]
            .into_iter()
            .map(plmn)
            .collect::<std::result::Result<_, _>>()?;
        let list3: Vec<PlmnId> =
            ["20801", "26202", "23415"].into_iter().map(plmn).collect::<std::result::Result<_, _>>()?;
        runtime.replace_lists(|lists| {
            for &network in &list1 {
                lists.trust_path_a(network);
            }
            for &server in &servers[..3] {
                lists.trust_path_b(home, server);
            }
            for &network in &list3 {
                lists.trust_interconnect(network);
            }
        });
        println!(
            "pathsec demo: policy `{}` ({} bytes, sha-256 {}…)",
            policy.name(),
            policy.size(),
            &policy.digest()[..12]
        );
        println!(
            "home network {HOME}; List 1: 310410 310260 20801 26202 44010 23415; List 2: {HOME} with {}; List 3: 20801 26202 23415",
            SERVERS[..3].join(", ")
        );
        println!();

        let mut rng = Rng(0x5eed);
        let devices = self.attach_devices(&runtime, home, &mut rng)?;
        let flows = flows(&devices, &servers, &mut rng);
        examples(&runtime, &devices, &servers);
        text_readings(&runtime, home, &servers)?;

        println!("simulation: {} devices, {} flows, {} packets per phase", devices.len(), flows.len(), self.packets);
        let mut worker = runtime.worker();
        phase("1 steady state", &mut worker, &flows, self.packets, &mut rng);
        let mut lists_files = Vec::new();
        if let Some(path) = &self.decision_log {
            lists_files.push(write_lists(path, 1, &runtime.lists())?);
        }

        // The facts change while traffic flows.
        let france = plmn("20801")?;
        runtime.update_lists(|lists| {
            lists.distrust_interconnect(france);
        });
        for (device, serving) in &devices {
            if *serving == Some("26202") {
                runtime.set_link(*device, LinkState::OFF)?;
            }
        }
        for (device, _) in devices.iter().step_by(25) {
            runtime
                .set_attach(*device, Attach { serving: Some(plmn("44010")?), home, access: AccessKind::ThreeGpp })?;
        }
        println!("  change: List 3 drops 20801; access security off in 26202; every 25th device moves to 44010");
        if let Some(path) = &self.decision_log {
            lists_files.push(write_lists(path, 2, &runtime.lists())?);
        }
        phase("2 after the fact change", &mut worker, &flows, self.packets, &mut rng);

        runtime.swap(strict.clone())?;
        println!("  swap: the operator switches to `{}` (strict baseline) during an incident", strict.name());
        phase("3 strict policy", &mut worker, &flows, self.packets, &mut rng);

        runtime.swap(policy.clone())?;
        println!("  swap: back to `{}`", policy.name());
        phase("4 back to normal", &mut worker, &flows, self.packets, &mut rng);
        println!("swaps: {}, policy now `{}`", runtime.swaps(), runtime.policy().name());
        drop(worker);
        if let (Some(path), Some(log)) = (&self.decision_log, runtime.flush_log()) {
            println!(
                "decision log `{}`: {} written, {} dropped (queue full), {} failed{}",
                path.display(),
                log.written,
                log.dropped,
                log.failed,
                log.last_error.map(|error| format!(" (last error: {error})")).unwrap_or_default()
            );
            let facts: Vec<String> = lists_files.iter().map(|file| format!("--facts {}", file.display())).collect();
            println!(
                "  its lists: {}; what a candidate would change: pathsec replay {} --policy CANDIDATE.wasm {}",
                lists_files.iter().map(|file| format!("`{}`", file.display())).collect::<Vec<_>>().join(", "),
                path.display(),
                facts.join(" ")
            );
        }
        let metrics = runtime.metrics();
        println!(
            "metrics: {} decisions, {} cache hits, {} policy calls, {} on unknown facts, {} policy faults, {} swaps ({} refused)",
            metrics.decisions,
            metrics.cache_hits,
            metrics.policy_calls,
            metrics.unknown_facts,
            metrics.faults.total(),
            metrics.swaps,
            metrics.swaps_refused
        );
        Ok(Outcome::Success)
    }

    /// Devices spread over the serving networks; a few have their access security off.
    fn attach_devices(
        &self,
        runtime: &Runtime,
        home: PlmnId,
        rng: &mut Rng,
    ) -> std::result::Result<Vec<Device>, Box<dyn std::error::Error>> {
        let mut devices = Vec::with_capacity(self.devices);
        for i in 0..self.devices {
            let roll = rng.below(1000) as u32;
            let mut total = 0;
            let serving = SERVING
                .iter()
                .find(|(_, share)| {
                    total += share;
                    roll < total
                })
                .map_or(Some(HOME), |(network, _)| *network);
            let device = runtime.device_id(&format!("imsi-310410{i:09}"))?;
            let serving_id = serving.map(str::parse).transpose()?;
            runtime.set_attach(device, Attach { serving: serving_id, home, access: AccessKind::ThreeGpp })?;
            // A few devices' access security is off (neither ciphering nor integrity: path A is open).
            let on = rng.below(100) >= 2;
            runtime.set_link(device, LinkState { ciphering: on, integrity: on })?;
            devices.push((device, serving));
        }
        Ok(devices)
    }
}

/// Each device talks to one or two servers, mostly sending and receiving data, sometimes triggered.
fn flows(devices: &[(DeviceId, Option<&str>)], servers: &[ServerId], rng: &mut Rng) -> Vec<Flow> {
    let mut flows = Vec::new();
    for (device, _) in devices {
        let server = servers[rng.below(servers.len())];
        for (role, event) in [
            (Role::Server, Event::SendData),
            (Role::Server, Event::ReceiveUnprotected),
            (Role::Server, Event::ReceiveProtected),
            (Role::Server, Event::SendTrigger),
            (Role::Device, Event::SendData),
            (Role::Device, trigger(AccessIntegrity::Verified, EndToEnd::Absent)),
            (Role::Device, trigger(AccessIntegrity::Absent, EndToEnd::Valid)),
        ] {
            flows.push(Flow { device: *device, server, role, event });
        }
    }
    flows
}

fn trigger(access_integrity: AccessIntegrity, end_to_end: EndToEnd) -> Event {
    Event::ReceiveTrigger(TriggerCheck { access_integrity, end_to_end })
}

/// A few flows, decided and explained.
fn examples(runtime: &Runtime, devices: &[(DeviceId, Option<&str>)], servers: &[ServerId]) {
    let mut worker = runtime.worker();
    let pick =
        |network: Option<&str>| devices.iter().find(|(_, serving)| *serving == network).map(|(device, _)| *device);
    let examples: Vec<(&str, Option<DeviceId>, ServerId, Role, Event)> = vec![
        ("meter at home, reading upload", pick(Some(HOME)), servers[0], Role::Server, Event::SendData),
        ("tracker roaming in 20801 (List 3)", pick(Some("20801")), servers[1], Role::Server, Event::SendData),
        (
            "tracker roaming in 44010 (not List 3)",
            pick(Some("44010")),
            servers[1],
            Role::Server,
            Event::ReceiveUnprotected,
        ),
        ("sensor on 31041 (not 310410)", pick(Some("31041")), servers[0], Role::Device, Event::SendData),
        ("pump, serving network unknown", pick(None), servers[0], Role::Server, Event::SendData),
        ("kiosk talking to a server not in List 2", pick(Some(HOME)), servers[3], Role::Device, Event::SendData),
        ("protected data from 44010", pick(Some("44010")), servers[1], Role::Server, Event::ReceiveProtected),
        ("wake-up trigger to a device in 44010", pick(Some("44010")), servers[1], Role::Server, Event::SendTrigger),
        (
            "trigger, integrity failed",
            pick(Some(HOME)),
            servers[0],
            Role::Device,
            trigger(AccessIntegrity::Failed, EndToEnd::Valid),
        ),
        (
            "trigger, no integrity, valid end-to-end",
            pick(Some("44010")),
            servers[1],
            Role::Device,
            trigger(AccessIntegrity::Absent, EndToEnd::Valid),
        ),
    ];
    println!("{:<42} {:<7} {:<20} {:<8} {:<22} decision", "flow", "role", "event", "serving", "server");
    let lists = runtime.lists();
    for (label, device, server, role, event) in examples {
        let Some(device) = device else { continue };
        let decision = worker.decide(&Flow { device, server, role, event });
        let serving = devices.iter().find(|(d, _)| *d == device).and_then(|(_, s)| *s).unwrap_or("unknown");
        let server_name = lists.server(server).map_or("?", |s| s.as_str());
        println!("{label:<42} {role:<7} {:<20} {serving:<8} {server_name:<22} {decision}", event.kind());
    }
    println!();
}

/// Two devices at home that show how 000 words path A: "encryption and/or integrity" (an LTE or
/// NB-IoT user plane has ciphering and no integrity), and a server that was not told a device's access
/// security taking List 1 as its statement that path A is protected (FIG. 12 step 6, FIG. 13 step 3).
fn text_readings(
    runtime: &Runtime,
    home: PlmnId,
    servers: &[ServerId],
) -> std::result::Result<(), Box<dyn std::error::Error>> {
    let attach = Attach { serving: Some(home), home, access: AccessKind::ThreeGpp };
    let lte = runtime.device_id("lte-meter")?;
    runtime.set_attach(lte, attach)?;
    runtime.set_link(lte, LinkState { ciphering: true, integrity: false })?;
    let untold = runtime.device_id("meter-without-link-facts")?;
    runtime.set_attach(untold, attach)?;
    let mut worker = runtime.worker();
    for (label, device, role) in [
        ("LTE meter: ciphering on, integrity off", lte, Role::Device),
        ("meter whose link state the server was not told", untold, Role::Server),
        ("the same meter deciding for itself", untold, Role::Device),
    ] {
        let decision = worker.decide(&Flow { device, server: servers[0], role, event: Event::SendData });
        println!("{label:<48} {role:<7} send-data  {decision}");
    }
    println!();
    Ok(())
}

/// Decides `packets` packets over the flows (a few flows carry most traffic) and reports.
fn phase(name: &str, worker: &mut Worker, flows: &[Flow], packets: usize, rng: &mut Rng) {
    let before = worker.stats();
    let bar = ProgressBar::new(packets as u64).with_message(name.to_owned());
    bar.enable_steady_tick(Duration::from_millis(100));
    bar.set_style(
        ProgressStyle::with_template("  {msg:<26} [{bar:30}] {pos}/{len} packets")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let mut samples = Vec::with_capacity(packets);
    let (mut trusted, mut faults) = (0usize, 0usize);
    for packet in 0..packets {
        // Skewed traffic: half the packets go to the first tenth of the flows.
        let flow =
            if rng.below(2) == 0 { &flows[rng.below(flows.len() / 10 + 1)] } else { &flows[rng.below(flows.len())] };
        let started = Instant::now();
        let decision = worker.decide(flow);
        samples.push(started.elapsed());
        trusted += usize::from(decision.path_trusted());
        faults += usize::from(decision.fault.is_some());
        if packet % 1000 == 0 {
            bar.set_position(packet as u64);
        }
    }
    bar.finish_and_clear();
    samples.sort_unstable();
    let at = |p: f64| samples.get(((samples.len() as f64 - 1.0) * p) as usize).copied().unwrap_or(Duration::ZERO);
    let after = worker.stats();
    let (hits, misses) = (after.hits - before.hits, after.misses - before.misses);
    println!(
        "  phase {name:<24} {packets} decisions: {:.1}% on a trusted network path, cache hit rate {:.1}% ({misses} misses), {faults} faults",
        100.0 * trusted as f64 / packets.max(1) as f64,
        100.0 * hits as f64 / (hits + misses).max(1) as f64,
    );
    println!(
        "    latency p50 {}  p90 {}  p99 {}  max {}",
        nanos(at(0.5)),
        nanos(at(0.9)),
        nanos(at(0.99)),
        human(at(1.0))
    );
}

fn nanos(duration: Duration) -> String {
    format!("{} ns", duration.as_nanos())
}

/// A small deterministic generator, so every run shows the same traffic.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

/// Writes the lists the demo decided on as facts file `<log>.lists-<n>.toml`, for `pathsec replay`.
fn write_lists(
    log: &std::path::Path,
    n: usize,
    lists: &pathsec::FactSet,
) -> std::result::Result<PathBuf, Box<dyn std::error::Error>> {
    let file = PathBuf::from(format!("{}.lists-{n}.toml", log.display()));
    let facts = pathsec::files::FactsFile {
        lists: pathsec::files::ListsFile::from_facts(lists),
        servers: Vec::new(),
        devices: Vec::new(),
    };
    let text =
        format!("# The lists of `pathsec demo` phase {n} ({})\n{}", lists.lists_digest(), toml::to_string(&facts)?);
    std::fs::write(&file, text).map_err(|e| format!("cannot write `{}`: {e}", file.display()))?;
    Ok(file)
}
