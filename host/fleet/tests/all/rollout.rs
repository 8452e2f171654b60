//! A policy and list bundle rolled out to a node group through the desired-state bucket: four nodes
//! follow the group's key on a real NATS server and install from a real registry; a bad artifact is
//! refused by every node with its policy kept; an install that fails while the registry is down is
//! retried until it succeeds.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pathsec::delivery::{AcceptedGenerations, BundleKeys, BundleStore, ListBundle};
use pathsec::signing::{SecretKey, TrustedKeys};
use pathsec::wasm::ArtifactCache;
use pathsec::{Engine, FactSet, Runtime};
use pathsec_fleet::feed::{DesiredState, NatsSettings, Publisher, Rollout, RolloutStatus};
use pathsec_fleet::oci::{ContentStore, Node, Registry, RegistrySettings};
use pathsec_lab::{NatsServer, OciRegistry};
use tempfile::TempDir;

const WAIT: Duration = Duration::from_secs(30);

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_secs()
}

fn lists() -> FactSet {
    let mut lists = FactSet::builder();
    let server = lists.server("mtc.example.com".parse().expect("fqdn"));
    let home = "310410".parse().expect("plmn");
    lists.trust_path_a(home).trust_path_b(home, server);
    lists.build()
}

fn node(dir: &std::path::Path, keys: &BundleKeys) -> Arc<Node> {
    Arc::new(Node {
        registry: Registry::new(&RegistrySettings::default()),
        store: ContentStore::open(dir.join("content")).expect("store"),
        artifacts: ArtifactCache::open(dir.join("artifacts")).expect("cache"),
        bundle_keys: keys.clone(),
        accepted: Mutex::new(AcceptedGenerations::open(dir.join("accepted")).expect("accepted")),
        bundles: BundleStore::open(dir.join("bundles")).expect("bundles"),
    })
}

async fn all(rollouts: &mut [Rollout], what: &str, test: impl Fn(&RolloutStatus) -> bool + Copy) {
    for rollout in rollouts {
        if let Err(status) = rollout.wait_for(WAIT, test).await {
            panic!("{what}: not reached in {WAIT:?}: {status:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_reaches_every_node_and_a_bad_one_reaches_none() {
    let dir = TempDir::new().expect("temp");
    let nats = NatsServer::start(&dir.path().join("nats")).expect("nats starts");
    let mut registry_server = OciRegistry::start(&dir.path().join("registry")).expect("registry starts");
    let host = registry_server.host();
    let key = SecretKey::generate().expect("random");
    let engine = Engine::builder().trusted_keys(TrustedKeys::new([key.public_key()])).build().expect("engine");
    let keys = BundleKeys::new([key.public_key()]);
    let registry = Registry::new(&RegistrySettings::default());
    let publisher = Publisher::connect(&NatsSettings::new(nats.url())).await.expect("publisher");

    let initial = pathsec::bundled::ALWAYS_SECURE;
    let mut runtimes = Vec::new();
    let mut rollouts = Vec::new();
    for n in 0..4 {
        let policy = engine.load_signed_policy("initial", initial, Some(&key.sign(initial).to_text())).expect("loads");
        let runtime = Runtime::new(policy).expect("runtime");
        let node = node(&dir.path().join(format!("node-{n}")), &keys);
        rollouts.push(
            Rollout::start(engine.clone(), runtime.clone(), node, NatsSettings::new(nats.url()), "gateways")
                .expect("starts"),
        );
        runtimes.push(runtime);
    }

    // A new policy and list bundle: every node switches.
    let policy = registry
        .push_policy(&format!("{host}/pathsec/reference:2"), pathsec::bundled::REFERENCE, Some(&key))
        .await
        .expect("push");
    let bundle = ListBundle::new(1, "ops", now() - 60, now() + 3600, &lists()).sign(&key);
    let lists_ref = registry.push_bundle(&format!("{host}/pathsec/lists:1"), &bundle).await.expect("push").reference;
    let started = Instant::now();
    let desired = DesiredState {
        policy: Some(policy.reference.clone()),
        lists: Some(lists_ref.clone()),
        ..DesiredState::default()
    };
    publisher.set_desired("gateways", &desired).await.expect("set");
    all(&mut rollouts, "the rollout", |status| status.policy.is_some() && status.lists.is_some()).await;
    eprintln!("policy push reached 4 nodes in {:?}", started.elapsed());
    for runtime in &runtimes {
        assert_eq!(runtime.policy().size(), pathsec::bundled::REFERENCE.len());
        assert_eq!(runtime.lists().lists_digest(), lists().lists_digest());
    }

    // A policy of another world: every node refuses it and keeps the reference policy.
    let wrong = registry
        .push_policy(&format!("{host}/pathsec/wrong:1"), &pathsec_suite::fixtures::wrong_world(), Some(&key))
        .await
        .expect("push");
    publisher
        .set_desired(
            "gateways",
            &DesiredState {
                policy: Some(wrong.reference.clone()),
                lists: Some(lists_ref.clone()),
                ..DesiredState::default()
            },
        )
        .await
        .expect("set");
    all(&mut rollouts, "the refusal", |status| status.failures >= 1).await;
    for (runtime, rollout) in runtimes.iter().zip(&rollouts) {
        assert_eq!(runtime.policy().size(), pathsec::bundled::REFERENCE.len(), "{:?}", rollout.status());
        assert!(rollout.status().last_error.is_some_and(|e| e.contains("not installed")));
    }

    // The registry down when the next change comes: the install fails, then is retried until it lands.
    let back = registry.push_policy(&format!("{host}/pathsec/always:3"), initial, Some(&key)).await.expect("push");
    registry_server.kill();
    publisher
        .set_desired(
            "gateways",
            &DesiredState { policy: Some(back.reference.clone()), lists: Some(lists_ref), ..DesiredState::default() },
        )
        .await
        .expect("set");
    all(&mut rollouts, "failing while the registry is down", |status| {
        status.last_error.as_deref().is_some_and(|e| e.contains("registry"))
    })
    .await;
    registry_server.restart().expect("registry restarts");
    let reference = back.reference.as_str();
    all(&mut rollouts, "retried", |status| status.policy.as_deref() == Some(reference)).await;
    for runtime in &runtimes {
        assert_eq!(runtime.policy().size(), initial.len());
    }
}

/// A canary through the desired state: the candidate enforces for its ring on every node, a shadow
/// watches; a bad canary is refused and the rollout in force stays; promotion makes the candidate
/// active everywhere and ends the canary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_rolls_out_through_the_desired_state_and_is_promoted() {
    use pathsec::runtime::{CanaryPlan, Percent, ShadowPlan};
    let dir = TempDir::new().expect("temp");
    let nats = NatsServer::start(&dir.path().join("nats")).expect("nats starts");
    let registry_server = OciRegistry::start(&dir.path().join("registry")).expect("registry starts");
    let host = registry_server.host();
    let key = SecretKey::generate().expect("random");
    let engine = Engine::builder().trusted_keys(TrustedKeys::new([key.public_key()])).build().expect("engine");
    let keys = BundleKeys::new([key.public_key()]);
    let registry = Registry::new(&RegistrySettings::default());
    let publisher = Publisher::connect(&NatsSettings::new(nats.url())).await.expect("publisher");
    let reference = registry
        .push_policy(&format!("{host}/pathsec/reference:1"), pathsec::bundled::REFERENCE, Some(&key))
        .await
        .expect("push")
        .reference;
    let strict = pathsec::bundled::ALWAYS_SECURE;
    let candidate =
        registry.push_policy(&format!("{host}/pathsec/strict:1"), strict, Some(&key)).await.expect("push").reference;

    let mut runtimes = Vec::new();
    let mut rollouts = Vec::new();
    for n in 0..2 {
        let policy = engine.load_signed_policy("initial", strict, Some(&key.sign(strict).to_text())).expect("loads");
        let runtime = Runtime::new(policy).expect("runtime");
        for device in ["meter-lab", "meter-1"] {
            runtime.device_id(device).expect("room");
        }
        let node = node(&dir.path().join(format!("node-{n}")), &keys);
        rollouts.push(
            Rollout::start(engine.clone(), runtime.clone(), node, NatsSettings::new(nats.url()), "gateways")
                .expect("starts"),
        );
        runtimes.push(runtime);
    }
    let enforcing = |runtime: &Runtime, device: &str| {
        runtime.enforcing(runtime.find_device(device).expect("known")).expect("known").size()
    };

    let canary = DesiredState {
        policy: Some(reference.clone()),
        canary: Some(CanaryPlan { policy: candidate.clone(), percent: None, ring: Some("lab".to_owned()) }),
        shadow: Some(ShadowPlan { policy: candidate.clone(), every: 1 }),
        rings: [("lab".to_owned(), vec!["meter-lab".to_owned()])].into(),
        ..DesiredState::default()
    };
    publisher.set_desired("gateways", &canary).await.expect("set");
    all(&mut rollouts, "the canary", |status| status.rollout.is_some()).await;
    for runtime in &runtimes {
        assert_eq!(enforcing(runtime, "meter-lab"), strict.len(), "the ring enforces the candidate");
        assert_eq!(enforcing(runtime, "meter-1"), pathsec::bundled::REFERENCE.len());
        assert_eq!(runtime.rollout().shadow.expect("a shadow").policy.size(), strict.len());
    }

    // A fraction outside 0-100 %: refused by every node; the canary in force stays.
    let bad = DesiredState {
        canary: Some(CanaryPlan { policy: candidate.clone(), percent: Some(Percent::Number(150.0)), ring: None }),
        ..canary.clone()
    };
    publisher.set_desired("gateways", &bad).await.expect("set");
    all(&mut rollouts, "the refusal", |status| status.failures >= 1).await;
    for (runtime, rollout) in runtimes.iter().zip(&rollouts) {
        let error = rollout.status().last_error.expect("an error");
        assert!(error.contains("canary.percent"), "{error}");
        assert_eq!(enforcing(runtime, "meter-lab"), strict.len());
    }

    // Promotion: the candidate is the policy, without a canary or a shadow.
    let promoted = DesiredState { policy: Some(candidate.clone()), ..DesiredState::default() };
    publisher.set_desired("gateways", &promoted).await.expect("set");
    let wanted = candidate.as_str();
    all(&mut rollouts, "the promotion", |status| {
        status.policy.as_deref() == Some(wanted) && status.rollout.as_deref().is_some_and(|r| !r.contains("canary"))
    })
    .await;
    for runtime in &runtimes {
        let rollout = runtime.rollout();
        assert!(rollout.canary.is_none() && rollout.shadow.is_none());
        assert_eq!(enforcing(runtime, "meter-1"), strict.len());
    }
}
