//! A device's embedding: wasmtime's runtime only (no compiler in the binary) loading a policy
//! precompiled for the device's target, then deciding the device's own flows to each server.
//!
//! ```text
//! pathsec compile --target pulley64 --out reference.cwasm reference.wasm     # where the compiler is
//! cargo run -p pathsec --example device-runtime --no-default-features --features pulley -- \
//!     reference.cwasm examples/serve/facts.toml
//! ```
//!
//! The engine is made for the artifact's target (its header names it): native code for this host, or
//! `pulley64` for wasmtime's interpreter. A signature beside the artifact (`reference.cwasm.sig`) is
//! checked when `PATHSEC_TRUSTED_KEY` names a public key file. Prints each decision, then the load
//! time, the decision latency and the resident memory.

use std::time::Instant;

use pathsec::files::FactsFile;
use pathsec::signing::{PublicKey, TrustedKeys};
use pathsec::{Engine, Event, Flow, LinkState, Role, Runtime};

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            std::process::ExitCode::from(2)
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(artifact), Some(facts)) = (args.next(), args.next()) else {
        return Err("usage: device-runtime POLICY.cwasm FACTS.toml".into());
    };
    let bytes = std::fs::read(&artifact).map_err(|e| format!("cannot read `{artifact}`: {e}"))?;
    // The engine for the artifact's target; a component goes to this host's engine (and, in the device
    // build, is refused: there is no compiler).
    let header = pathsec::wasm::read_header(&artifact, &bytes).ok().map(|(header, _)| header);
    let mut engine = match &header {
        Some(header) => Engine::builder().target(&header.target),
        None => Engine::builder(),
    };
    if let Some(key) = std::env::var_os("PATHSEC_TRUSTED_KEY") {
        let text = std::fs::read_to_string(&key)?;
        engine = engine.trusted_keys(TrustedKeys::new([PublicKey::parse(&key.to_string_lossy(), &text)?]));
    }
    let engine = engine.build()?;

    let started = Instant::now();
    let policy = engine.load_policy_file(&artifact)?; // the artifact, and `<artifact>.sig` if present
    let loaded = started.elapsed();
    let facts = FactsFile::read(&facts)?;
    let runtime = Runtime::builder(policy).lists(facts.builder().build()).build()?; // self-checks
    let ready = started.elapsed();

    let mut worker = runtime.worker();
    let mut flows = Vec::new();
    for device in &facts.devices {
        let id = runtime.device_id(&device.name)?;
        runtime.set_attach(id, device.attach())?;
        if let Some(link) = device.link() {
            runtime.set_link(id, link)?;
        }
        for (server, fqdn) in runtime.lists().servers() {
            for event in [Event::SendData, Event::ReceiveUnprotected] {
                let flow = Flow { device: id, server, role: Role::Device, event };
                println!("{} {} {}: {}", device.name, fqdn, event.kind().name(), worker.decide(&flow));
                flows.push(flow);
            }
        }
    }

    // Latency: each flow decided after a change of its device's access security (a cache miss), then
    // again (from the cache).
    let rounds = 2_000;
    let (mut miss, mut hit) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
    for round in 0..rounds {
        let flow = &flows[round % flows.len()];
        runtime.set_link(flow.device, LinkState { ciphering: round % 2 == 0, integrity: true })?;
        let started = Instant::now();
        std::hint::black_box(worker.decide(flow));
        miss += started.elapsed();
        let started = Instant::now();
        std::hint::black_box(worker.decide(flow));
        hit += started.elapsed();
    }
    println!(
        "target {} ({}); loaded in {:.2} ms, ready (self-checked) in {:.2} ms",
        engine.target(),
        engine.profile(),
        loaded.as_secs_f64() * 1e3,
        ready.as_secs_f64() * 1e3
    );
    println!(
        "decision: {:.2} µs on a miss, {:.3} µs from the cache (mean of {rounds}); resident {} KiB",
        miss.as_secs_f64() * 1e6 / rounds as f64,
        hit.as_secs_f64() * 1e6 / rounds as f64,
        resident_kib().map_or_else(|| "unknown".to_owned(), |kib| kib.to_string())
    );
    Ok(())
}

/// The process's resident set (Linux), in KiB.
fn resident_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|line| line.strip_prefix("VmRSS:")?.trim().strip_suffix(" kB")?.trim().parse().ok())
}
