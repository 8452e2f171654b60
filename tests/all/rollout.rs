//! Shipping a policy safely: a shadow decides beside the active policy and is only counted; a canary
//! candidate enforces for the devices its selection picks (by the SHA-256 of their names); promoting,
//! rolling back and bad rollouts; the policy directory's rollout plan.

use std::time::Duration;

use pathsec::runtime::{DirectoryEvent, PolicyDirectory, ROLLOUT_FILE, Selection};
use pathsec::vocab::{AccessIntegrity, EndToEnd, TriggerCheck};
use pathsec::{
    AccessKind, Action, Attach, Decision, Engine, Event, Flow, LinkState, MadeBy, PlmnId, Policy, Reason, Role, Runtime,
};
use pathsec_suite::guests::test_guest;

/// The reference policy, and the test policy that differs from it in one method (path A trusted in
/// every network of MCC 208).
pub(crate) fn reference() -> Policy {
    pathsec_suite::bundled("reference").expect("bundled")
}

pub(crate) fn extra_country() -> Policy {
    pathsec_suite::engine().load_policy("extra-country", &test_guest("extra-country")).expect("loads")
}

pub(crate) fn plmn(text: &str) -> PlmnId {
    text.parse().expect("valid PLMN-ID")
}

/// A device's kind: home, serving, link. Kinds 1 and 2 are where the two policies differ (a French
/// serving network not on List 1, every other check passing).
const KINDS: [(&str, &str, bool, bool); 6] = [
    ("310410", "310410", true, true),
    ("310410", "20810", true, true),
    ("20801", "20801", true, true),
    ("310410", "26201", true, true),
    ("20801", "20801", false, true),
    ("310410", "310410", true, false),
];

/// Lists for the traffic: 310410 on List 1; (310410, server) and (20801, server) on List 2; the French
/// and German visited networks on List 3. Then `devices` devices of every kind in turn, four flows each.
pub(crate) fn populate(runtime: &Runtime, devices: usize) -> Vec<Flow> {
    let server = runtime.server_id(&"mtc.example.com".parse().expect("valid"));
    runtime.update_lists(|lists| {
        lists.trust_path_a(plmn("310410")).trust_path_b(plmn("310410"), server).trust_path_b(plmn("20801"), server);
        lists.trust_interconnect(plmn("20810")).trust_interconnect(plmn("26201"));
    });
    let trigger =
        Event::ReceiveTrigger(TriggerCheck { access_integrity: AccessIntegrity::Absent, end_to_end: EndToEnd::Valid });
    let events = [
        (Role::Server, Event::SendData),
        (Role::Server, Event::ReceiveUnprotected),
        (Role::Device, Event::SendData),
        (Role::Device, trigger),
    ];
    let mut flows = Vec::new();
    for index in 0..devices {
        let (home, serving, ciphering, integrity) = KINDS[index % KINDS.len()];
        let device = runtime.device_id(&format!("imsi-{home}{index:09}")).expect("room");
        let attach = Attach { serving: Some(plmn(serving)), home: plmn(home), access: AccessKind::ThreeGpp };
        runtime.set_attach(device, attach).expect("known");
        runtime.set_link(device, LinkState { ciphering, integrity }).expect("known");
        flows.extend(events.iter().map(|&(role, event)| Flow { device, server, role, event }));
    }
    flows
}

/// A runtime on `policy` with [`populate`]'s traffic.
fn traffic(policy: Policy, devices: usize) -> (Runtime, Vec<Flow>) {
    let runtime = Runtime::new(policy).expect("runtime");
    let flows = populate(&runtime, devices);
    (runtime, flows)
}

/// Whether the reference's `decision` on `flow` is one the extra country changes.
fn changed_by_extra_country(runtime: &Runtime, flow: &Flow, decision: &Decision) -> bool {
    let serving = runtime.request(flow).and_then(|request| request.attach.serving);
    decision.reason == Reason::PathANotTrusted && serving.is_some_and(|serving| serving.mcc() == 208)
}

fn outcome(decision: &Decision) -> (Action, Reason) {
    (decision.action, decision.reason)
}

fn outcomes(decisions: &[Decision]) -> Vec<(Action, Reason)> {
    decisions.iter().map(outcome).collect()
}

/// What `runtime` decides on every flow, one at a time, on a fresh worker.
pub(crate) fn decide_all(runtime: &Runtime, flows: &[Flow]) -> Vec<Decision> {
    let mut worker = runtime.worker();
    flows.iter().map(|flow| worker.decide(flow)).collect()
}

#[test]
fn a_shadow_never_changes_a_returned_decision_and_counts_exactly_the_disagreements() {
    let (plain, flows) = traffic(reference(), 60);
    let wanted = decide_all(&plain, &flows);
    let injected = flows.iter().zip(&wanted).filter(|(flow, d)| changed_by_extra_country(&plain, flow, d)).count();
    assert!(injected > 0 && injected < flows.len(), "the traffic holds both kinds ({injected} of {})", flows.len());

    let file = tempfile::NamedTempFile::new().expect("temp file");
    let log = pathsec::runtime::DecisionLog::to_file(file.path()).expect("log");
    let runtime = Runtime::builder(reference()).decision_log(log).build().expect("runtime");
    assert_eq!(populate(&runtime, 60), flows);
    runtime.start_shadow(extra_country(), 1).expect("the shadow passes its self-check");

    // One worker decides one flow at a time (a miss, then a hit), another in batches (the same).
    let (mut single, mut batch) = (runtime.worker(), runtime.worker());
    for round in 0..2 {
        for (flow, wanted) in flows.iter().zip(&wanted) {
            let got = single.decide(flow);
            assert_eq!(outcome(&got), outcome(wanted), "round {round}: {flow:?}");
            assert_eq!(got.made_by, MadeBy::Active);
        }
        for (chunk, wanted) in flows.chunks(64).zip(wanted.chunks(64)) {
            assert_eq!(outcomes(&batch.decide_batch(chunk)), outcomes(wanted), "round {round}");
        }
    }
    let metrics = runtime.metrics();
    let [shadow] = metrics.shadows.as_slice() else { panic!("one shadow: {:?}", metrics.shadows) };
    assert_eq!(&*shadow.policy, "extra-country");
    assert_eq!(shadow.disagreed, 4 * injected as u64, "every injected disagreement, at misses and hits, both ways");
    assert_eq!(shadow.compared, 4 * flows.len() as u64);
    assert_eq!((shadow.skipped, shadow.faults.total()), (0, 0));
    assert_eq!(shadow.disagreements.iter().map(|d| d.count).sum::<u64>(), shadow.disagreed);
    for disagreement in &shadow.disagreements {
        assert_eq!(disagreement.active.1, Reason::PathANotTrusted, "{disagreement:?}");
        assert_ne!(disagreement.shadow.1, Reason::PathANotTrusted, "{disagreement:?}");
    }
    assert_eq!(metrics.faults.total(), 0);

    // The log has both decisions for every disagreement, and names the shadow.
    runtime.flush_log();
    let text = std::fs::read_to_string(file.path()).expect("log");
    let lines: Vec<serde_json::Value> = text.lines().map(|line| serde_json::from_str(line).expect("JSON")).collect();
    assert_eq!(lines.len(), 4 * flows.len());
    let with_shadow: Vec<_> = lines.iter().filter(|line| line.get("shadow").is_some()).collect();
    assert_eq!(with_shadow.len(), 4 * injected);
    for line in with_shadow {
        assert_eq!(line["reason"], "path-a-not-trusted", "{line}");
        assert_eq!(line["shadow"]["name"], "extra-country", "{line}");
        assert_ne!(line["shadow"]["reason"], "path-a-not-trusted", "{line}");
        assert_eq!(line["request"]["serving"]["mcc"], "208", "{line}");
    }
}

#[test]
fn a_sampled_shadow_sees_every_nth_miss_and_skips_the_rest() {
    let (runtime, flows) = traffic(reference(), 30);
    runtime.start_shadow(extra_country(), 4).expect("shadow");
    let mut worker = runtime.worker();
    flows.iter().for_each(|flow| drop(worker.decide(flow)));
    let metrics = runtime.metrics();
    let shadow = &metrics.shadows[0];
    let seen = flows.len() as u64 / 4;
    assert_eq!((shadow.compared, shadow.skipped), (seen, flows.len() as u64 - seen));
    let error = runtime.start_shadow(extra_country(), 0).unwrap_err().to_string();
    assert!(error.contains("every = 0"), "{error}");
}

#[test]
fn a_failing_shadow_leaves_the_active_path_untouched() {
    // The shadow traps in MCC 208 and runs past its deadline in MCC 262; a short deadline of its own.
    let limits = pathsec::Limits { deadline: Duration::from_millis(20), ..pathsec::Limits::default() };
    let engine = Engine::builder().limits(limits).build().expect("engine");
    let faulty = engine.load_policy("faulty-abroad", &test_guest("faulty-abroad")).expect("loads");
    let (plain, flows) = traffic(reference(), 12);
    let wanted = decide_all(&plain, &flows);
    let (runtime, _) = traffic(reference(), 12);
    runtime.start_shadow(faulty, 1).expect("it passes the self-check");
    assert_eq!(outcomes(&decide_all(&runtime, &flows)), outcomes(&wanted));
    let mut batch = runtime.worker();
    assert_eq!(outcomes(&batch.decide_batch(&flows)), outcomes(&wanted));
    let metrics = runtime.metrics();
    assert_eq!(metrics.faults.total(), 0, "the active policy never faulted");
    let shadow = &metrics.shadows[0];
    assert!(shadow.faults.get(pathsec::vocab::FaultKind::Trap) > 0, "{shadow:?}");
    assert!(shadow.faults.get(pathsec::vocab::FaultKind::Deadline) > 0, "{shadow:?}");
    assert_eq!(shadow.disagreed, 0, "a fault is not a disagreement: {shadow:?}");
}

#[test]
fn canary_selection_is_deterministic_and_within_a_point_of_its_fraction() {
    let names: Vec<String> = (0..100_000).map(|index| format!("imsi-310410{index:09}")).collect();
    for percent in [1.0, 10.0, 50.0] {
        let selection = Selection::percent(percent).expect("valid");
        let chosen = names.iter().filter(|name| selection.selects(name)).count();
        let share = chosen as f64 / names.len() as f64 * 100.0;
        assert!((share - percent).abs() <= 1.0, "{percent}%: {share}%");
        // The same names again, and in another process: the choice is the SHA-256 of the name.
        assert_eq!(names.iter().filter(|name| selection.selects(name)).count(), chosen);
    }
    // `printf %s imsi-310410000000000 | sha256sum` begins 5c2f…: its place is 0.36…, chosen from 37 %.
    let place = {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(b"imsi-310410000000000");
        u64::from_be_bytes(digest[..8].try_into().expect("8 bytes")) as f64 / 2f64.powi(64) * 100.0
    };
    assert!(Selection::percent(place.ceil()).expect("valid").selects("imsi-310410000000000"));
    assert!(!Selection::percent(place.floor()).expect("valid").selects("imsi-310410000000000"));
}

#[test]
fn a_canary_enforces_for_its_devices_and_every_decision_says_which_policy_made_it() {
    let (runtime, flows) = traffic(reference(), 60);
    let (alone, _) = traffic(extra_country(), 60);
    let reference_says = decide_all(&runtime, &flows);
    let extra_says = decide_all(&alone, &flows);
    let selection = Selection::percent(50.0).expect("valid");
    runtime.start_canary(extra_country(), selection.clone()).expect("the candidate passes its self-check");

    let mut worker = runtime.worker();
    let mut candidates = 0;
    for round in 0..2 {
        let got: Vec<Decision> = if round == 0 {
            flows.iter().map(|flow| worker.decide(flow)).collect()
        } else {
            worker.decide_batch(&flows)
        };
        for (index, flow) in flows.iter().enumerate() {
            let name = runtime.device_name(flow.device).expect("named");
            let chosen = selection.selects(&name);
            assert_eq!(
                runtime.enforcing(flow.device).expect("known").name(),
                if chosen { "extra-country" } else { "reference" }
            );
            let (want, by) =
                if chosen { (&extra_says[index], MadeBy::Candidate) } else { (&reference_says[index], MadeBy::Active) };
            assert_eq!((outcome(&got[index]), got[index].made_by), (outcome(want), by), "{name}");
            candidates += usize::from(chosen);
        }
    }
    assert!(candidates > 0 && candidates < 2 * flows.len());
    // Each policy's decisions are counted under its name.
    let metrics = runtime.metrics();
    let counted = |policy: &str| metrics.outcomes.iter().filter(|o| &*o.policy == policy).map(|o| o.count).sum::<u64>();
    assert_eq!(counted("extra-country"), candidates as u64);
    assert_eq!(counted("reference"), 2 * flows.len() as u64 - candidates as u64 + flows.len() as u64);

    // Promote: the candidate decides for everyone, as the active policy.
    assert_eq!(runtime.promote().expect("a canary runs").name(), "reference");
    let promoted = decide_all(&runtime, &flows);
    assert_eq!(outcomes(&promoted), outcomes(&extra_says));
    assert!(promoted.iter().all(|decision| decision.made_by == MadeBy::Active));
    assert!(runtime.rollout().canary.is_none());

    // Roll back: a new canary of the reference, then rolled back.
    runtime.start_canary(reference(), Selection::percent(100.0).expect("valid")).expect("canary");
    assert!(decide_all(&runtime, &flows).iter().all(|decision| decision.made_by == MadeBy::Candidate));
    assert_eq!(runtime.roll_back().expect("a canary runs").name(), "reference");
    assert_eq!(outcomes(&decide_all(&runtime, &flows)), outcomes(&extra_says));
    assert!(runtime.roll_back().unwrap_err().to_string().contains("no canary runs"));
}

/// A device's place is computed only once a canary needs it: devices named before the first canary get
/// theirs when it starts, devices named while it runs (or after it ended) as they are named — and every
/// one is chosen exactly as its name says.
#[test]
fn devices_named_before_and_after_the_first_canary_follow_their_names() {
    let runtime = Runtime::new(reference()).expect("runtime");
    let name = |index: usize| format!("imsi-310410{index:09}");
    let before: Vec<_> = (0..2_000).map(|index| runtime.device_id(&name(index)).expect("room")).collect();
    let selection = Selection::percent(30.0).expect("valid");
    runtime.start_canary(extra_country(), selection.clone()).expect("canary");
    let during: Vec<_> = (2_000..4_000).map(|index| runtime.device_id(&name(index)).expect("room")).collect();
    runtime.roll_back().expect("a canary runs");
    let after: Vec<_> = (4_000..6_000).map(|index| runtime.device_id(&name(index)).expect("room")).collect();
    runtime.start_canary(extra_country(), selection.clone()).expect("canary again");
    let mut chosen = 0;
    for (index, device) in before.iter().chain(&during).chain(&after).enumerate() {
        let selected = selection.selects(&name(index));
        let enforcing = runtime.enforcing(*device).expect("known");
        assert_eq!(enforcing.name(), if selected { "extra-country" } else { "reference" }, "{}", name(index));
        chosen += usize::from(selected);
    }
    assert!((1_500..2_100).contains(&chosen), "{chosen} of 6,000 chosen at 30 %");
}

#[test]
fn a_bad_rollout_is_refused_and_the_rollout_in_force_stays() {
    let (runtime, flows) = traffic(reference(), 12);
    runtime.start_canary(extra_country(), Selection::percent(25.0).expect("valid")).expect("canary");
    let before = decide_all(&runtime, &flows);
    let rejecting = pathsec_suite::engine()
        .load_policy(
            "rejects-lists",
            &pathsec_suite::fixtures::policy(
                pathsec_suite::fixtures::LOAD_REJECTS,
                pathsec_suite::fixtures::DECIDE_STRICT,
                "(unreachable)",
            ),
        )
        .expect("loads");
    let error = runtime.start_canary(rejecting.clone(), Selection::percent(50.0).expect("valid")).unwrap_err();
    assert!(error.to_string().contains("candidate policy `rejects-lists` failed its self-check"), "{error}");
    let error = runtime.start_shadow(rejecting, 1).unwrap_err();
    assert!(error.to_string().contains("shadow policy `rejects-lists`"), "{error}");
    for bad in [-0.5, 100.01, f64::NAN] {
        assert!(Selection::percent(bad).unwrap_err().to_string().contains("from 0 to 100"), "{bad}");
    }
    let after = decide_all(&runtime, &flows);
    assert_eq!(
        after.iter().map(|d| (outcome(d), d.made_by)).collect::<Vec<_>>(),
        before.iter().map(|d| (outcome(d), d.made_by)).collect::<Vec<_>>()
    );
    assert_eq!(runtime.rollout().canary.expect("still runs").policy.name(), "extra-country");
}

/// Writes `text` to `dir/file`, with a modification time `age` seconds after the first write so a scan
/// sees the change even within one second.
fn write(dir: &std::path::Path, file: &str, bytes: &[u8], tick: &mut u64) {
    let path = dir.join(file);
    std::fs::write(&path, bytes).expect("write");
    *tick += 1;
    let time = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000 + *tick);
    std::fs::File::options().write(true).open(&path).expect("open").set_modified(time).expect("mtime");
}

fn events(directory: &mut PolicyDirectory, runtime: &Runtime) -> Vec<String> {
    let events = directory.scan(runtime).expect("scan");
    events
        .iter()
        .map(|event| match event {
            DirectoryEvent::Swapped { file, .. } => format!("swapped {file}"),
            DirectoryEvent::Rejected { file, error } => format!("rejected {file}: {error}"),
            DirectoryEvent::RolledOut { file, rollout, .. } => format!("rolled out {file}: {rollout}"),
            other => format!("{other:?}"),
        })
        .collect()
}

#[test]
fn the_policy_directory_follows_its_rollout_plan() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut tick = 0;
    write(dir.path(), "reference.wasm", pathsec::bundled::REFERENCE, &mut tick);
    write(dir.path(), "extra-country.wasm", &test_guest("extra-country"), &mut tick);
    let (runtime, flows) = traffic(pathsec_suite::bundled("always-secure").expect("bundled"), 12);
    let ring: Vec<String> =
        flows.iter().step_by(8).map(|flow| runtime.device_name(flow.device).expect("named").to_string()).collect();
    let plan = format!(
        r#"active = "reference.wasm"
[canary]
policy = "extra-country.wasm"
ring = "lab"
[rings]
lab = {ring:?}
"#
    );
    write(dir.path(), ROLLOUT_FILE, plan.as_bytes(), &mut tick);
    let mut directory = PolicyDirectory::open(dir.path(), pathsec_suite::engine()).expect("opens");
    let seen = events(&mut directory, &runtime);
    assert!(seen.iter().any(|event| event.starts_with("rolled out rollout.toml")), "{seen:?}");
    assert!(!seen.iter().any(|event| event.starts_with("swapped")), "{seen:?}");
    let rollout = runtime.rollout();
    assert_eq!(rollout.active.name(), "reference.wasm");
    for flow in &flows {
        let name = runtime.device_name(flow.device).expect("named");
        let want = if ring.contains(&name.to_string()) { "extra-country.wasm" } else { "reference.wasm" };
        assert_eq!(runtime.enforcing(flow.device).expect("known").name(), want);
    }
    assert!(events(&mut directory, &runtime).is_empty(), "nothing changed");

    // A bad plan is refused, naming the field; the rollout in force stays.
    let bad = plan.replace(r#"ring = "lab""#, "percent = 120");
    write(dir.path(), ROLLOUT_FILE, bad.as_bytes(), &mut tick);
    let seen = events(&mut directory, &runtime);
    assert!(seen.iter().any(|e| e.contains("rejected rollout.toml") && e.contains("canary.percent")), "{seen:?}");
    assert_eq!(runtime.rollout().canary.expect("still").policy.name(), "extra-country.wasm");
    let missing = plan.replace("extra-country.wasm", "missing.wasm");
    write(dir.path(), ROLLOUT_FILE, missing.as_bytes(), &mut tick);
    let seen = events(&mut directory, &runtime);
    assert!(seen.iter().any(|e| e.contains("candidate policy `missing.wasm`: not in the directory")), "{seen:?}");
    assert_eq!(runtime.rollout().canary.expect("still").policy.name(), "extra-country.wasm");

    // A policy dropped in is not run while the plan governs.
    write(dir.path(), "stray.wasm", pathsec::bundled::ALWAYS_SECURE, &mut tick);
    let seen = events(&mut directory, &runtime);
    assert!(seen.iter().any(|e| e.contains("rejected stray.wasm") && e.contains("governs this directory")), "{seen:?}");
    assert_eq!(runtime.rollout().active.name(), "reference.wasm");

    // Promote by editing the plan; then remove it: the active policy runs alone.
    let promoted = "active = \"extra-country.wasm\"\n[shadow]\npolicy = \"reference.wasm\"\n";
    write(dir.path(), ROLLOUT_FILE, promoted.as_bytes(), &mut tick);
    let seen = events(&mut directory, &runtime);
    assert!(seen.iter().any(|event| event.starts_with("rolled out")), "{seen:?}");
    let rollout = runtime.rollout();
    assert_eq!(rollout.active.name(), "extra-country.wasm");
    assert!(rollout.canary.is_none());
    assert_eq!(rollout.shadow.expect("a shadow").policy.name(), "reference.wasm");
    std::fs::remove_file(dir.path().join(ROLLOUT_FILE)).expect("remove");
    let seen = events(&mut directory, &runtime);
    assert!(seen.iter().any(|event| event.contains("removed")), "{seen:?}");
    let rollout = runtime.rollout();
    assert_eq!(rollout.active.name(), "extra-country.wasm");
    assert!(rollout.canary.is_none() && rollout.shadow.is_none());
}

#[test]
fn a_canary_candidate_also_makes_its_devices_registration_decisions() {
    use pathsec::exchange::Report;
    use pathsec::runtime::Carried;
    let (runtime, flows) = traffic(reference(), 6);
    let device = runtime.device_name(flows[0].device).expect("named").to_string();
    let report = |sequence| Report {
        device: device.clone(),
        server: "mtc.example.com".parse().expect("valid"),
        home: plmn("310410"),
        serving: plmn("310410"),
        access: AccessKind::ThreeGpp,
        link: LinkState { ciphering: true, integrity: true },
        options: vec!["oscore".parse().expect("option")],
        lists: None,
        sequence,
    };
    let indication = runtime.worker().register(&report(1), Carried::Protected).expect("registers");
    assert!(!indication.application_security, "the reference trusts the path at home");
    // The strict baseline as a canary for every device: its registrations are the candidate's.
    let strict = pathsec_suite::bundled("always-secure").expect("bundled");
    runtime.start_canary(strict, Selection::percent(100.0).expect("valid")).expect("canary");
    let indication = runtime.worker().register(&report(2), Carried::Protected).expect("registers");
    assert!(indication.application_security, "{indication:?}");
    assert_eq!(indication.reason, Reason::PolicyRequiresApplicationSecurity);
}
