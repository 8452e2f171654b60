//! `pathsec demo`: a simulated server decides a realistic mix of flows through the reference policy.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use pathsec::{
    AccessIntegrity, AccessKind, Attach, Decision, EndToEnd, Engine, Event, FactSet, LinkState, PlmnId, Policy,
    Registration, Request, Role, ServerId, TriggerCheck,
};

use super::Outcome;

/// Options of `pathsec demo`.
#[derive(clap::Args)]
pub struct Demo {
    /// The policy to run (default: the bundled `reference` policy).
    #[arg(long)]
    policy: Option<PathBuf>,
    /// How many decisions the timing run makes.
    #[arg(long, default_value_t = 200_000)]
    decisions: usize,
}

/// One flow of the demo: a device, a server, an event, and what the device's attach and link look like.
struct Flow {
    label: &'static str,
    role: Role,
    event: Event,
    server: ServerId,
    serving: Option<PlmnId>,
    link: LinkState,
}

const SECURE_LINK: LinkState = LinkState { ciphering: true, integrity: true };

impl Demo {
    pub fn run(self) -> Outcome {
        let engine = Engine::new()?;
        let policy = match &self.policy {
            Some(path) => engine.load_policy_file(path)?,
            None => engine.load_policy("reference", pathsec::bundled::REFERENCE)?,
        };
        let plmn = |text: &str| text.parse::<PlmnId>();
        let home = plmn("310410")?;
        let mut facts = FactSet::builder();
        let meters = facts.server("meter.utility.example".parse()?);
        let fleet = facts.server("fleet.example.com".parse()?);
        let legacy = facts.server("legacy.example.org".parse()?);
        for network in ["310410", "310260", "20801", "26202", "44010"] {
            facts.trust_path_a(plmn(network)?);
        }
        facts.trust_path_b(home, meters).trust_path_b(home, fleet);
        facts.trust_interconnect(plmn("20801")?).trust_interconnect(plmn("26202")?);
        let facts = facts.build();

        println!("pathsec demo: policy `{}` ({} bytes)", policy.name(), policy.size());
        println!(
            "home network 310410; List 1: 310410 310260 20801 26202 44010; List 2: meter.utility.example, fleet.example.com; List 3: 20801 26202"
        );
        println!();

        let flows = flows(home, meters, fleet, legacy)?;
        let mut decider = policy.decider();
        println!("{:<44} {:<7} {:<20} {:<8} {:<22} decision", "flow", "role", "event", "serving", "server");
        for flow in &flows {
            let request = request(flow, home);
            let decision = decider.decide(&facts, &request);
            let serving = flow.serving.map_or_else(|| "unknown".to_owned(), |p| p.to_string());
            let server = facts.server(flow.server).map_or("?", |s| s.as_str());
            println!(
                "{:<44} {:<7} {:<20} {:<8} {:<22} {decision}",
                flow.label,
                flow.role,
                flow.event.kind(),
                serving,
                server
            );
        }
        println!();
        timing(&policy, &facts, &flows, home, self.decisions);
        Ok(())
    }
}

fn request(flow: &Flow, home: PlmnId) -> Request {
    Request {
        role: flow.role,
        event: flow.event,
        server: flow.server,
        attach: Attach { serving: flow.serving, home, access: AccessKind::ThreeGpp },
        link: flow.link,
        registration: Registration::None,
    }
}

fn flows(home: PlmnId, meters: ServerId, fleet: ServerId, legacy: ServerId) -> Result<Vec<Flow>, pathsec::PlmnIdError> {
    let france = Some("20801".parse()?);
    let japan = Some("44010".parse()?);
    let two_digit = Some("31041".parse()?);
    let trigger = |access_integrity, end_to_end| Event::ReceiveTrigger(TriggerCheck { access_integrity, end_to_end });
    let flow = |label, role, event, server, serving, link| Flow { label, role, event, server, serving, link };
    let at_home = Some(home);
    Ok(vec![
        flow("meter at home, reading upload", Role::Server, Event::SendData, meters, at_home, SECURE_LINK),
        flow(
            "meter at home, unprotected reading",
            Role::Server,
            Event::ReceiveUnprotected,
            meters,
            at_home,
            SECURE_LINK,
        ),
        flow("tracker roaming in France (List 3)", Role::Server, Event::SendData, fleet, france, SECURE_LINK),
        flow("tracker roaming in Japan (not List 3)", Role::Server, Event::SendData, fleet, japan, SECURE_LINK),
        flow(
            "tracker in Japan, unprotected upload",
            Role::Server,
            Event::ReceiveUnprotected,
            fleet,
            japan,
            SECURE_LINK,
        ),
        flow("sensor on 31041 (not 310410)", Role::Device, Event::SendData, meters, two_digit, SECURE_LINK),
        flow(
            "camera at home, ciphering off",
            Role::Device,
            Event::SendData,
            meters,
            at_home,
            LinkState { ciphering: false, integrity: true },
        ),
        flow("pump, serving network unknown", Role::Server, Event::SendData, meters, None, SECURE_LINK),
        flow("kiosk talking to a server not in List 2", Role::Device, Event::SendData, legacy, at_home, SECURE_LINK),
        flow("protected data from roaming tracker", Role::Server, Event::ReceiveProtected, fleet, japan, SECURE_LINK),
        flow("wake-up trigger to meter at home", Role::Server, Event::SendTrigger, meters, at_home, SECURE_LINK),
        flow("wake-up trigger to tracker in Japan", Role::Server, Event::SendTrigger, fleet, japan, SECURE_LINK),
        flow(
            "meter gets trigger, integrity verified",
            Role::Device,
            trigger(AccessIntegrity::Verified, EndToEnd::Absent),
            meters,
            at_home,
            SECURE_LINK,
        ),
        flow(
            "meter gets trigger, integrity failed",
            Role::Device,
            trigger(AccessIntegrity::Failed, EndToEnd::Valid),
            meters,
            at_home,
            SECURE_LINK,
        ),
        flow(
            "tracker gets trigger, no integrity, e2e ok",
            Role::Device,
            trigger(AccessIntegrity::Absent, EndToEnd::Valid),
            fleet,
            japan,
            SECURE_LINK,
        ),
        flow(
            "tracker gets trigger, no integrity, no e2e",
            Role::Device,
            trigger(AccessIntegrity::Absent, EndToEnd::Absent),
            fleet,
            japan,
            SECURE_LINK,
        ),
    ])
}

/// Decides the flows over and over, one call per decision and in batches of 64, and prints latency.
fn timing(policy: &Policy, facts: &FactSet, flows: &[Flow], home: PlmnId, decisions: usize) {
    let requests: Vec<Request> = flows.iter().map(|flow| request(flow, home)).collect();
    let mut decider = policy.decider();
    let mut faults = 0usize;
    let mut samples = Vec::with_capacity(decisions);
    for request in requests.iter().cycle().take(decisions) {
        let started = Instant::now();
        let decision: Decision = decider.decide(facts, request);
        samples.push(started.elapsed());
        faults += usize::from(decision.fault.is_some());
    }
    samples.sort_unstable();
    let percentile = |p: f64| samples.get(((samples.len() as f64 - 1.0) * p) as usize).copied().unwrap_or_default();

    let batch: Vec<Request> = requests.iter().cycle().take(64).copied().collect();
    let rounds = (decisions / 64).max(1);
    let started = Instant::now();
    for _ in 0..rounds {
        faults += decider.decide_batch(facts, &batch).iter().filter(|d| d.fault.is_some()).count();
    }
    let per_batched = started.elapsed() / (rounds * 64) as u32;

    println!("timing: {decisions} single decisions through the policy (no cache)");
    println!(
        "  p50 {}  p90 {}  p99 {}  max {}",
        nanos(percentile(0.5)),
        nanos(percentile(0.9)),
        nanos(percentile(0.99)),
        nanos(percentile(1.0))
    );
    println!("  batches of 64: {} per decision", nanos(per_batched));
    println!("  policy faults: {faults}");
}

fn nanos(duration: Duration) -> String {
    format!("{} ns", duration.as_nanos())
}
