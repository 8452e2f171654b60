//! Following device facts on a real NATS JetStream server (Debian's `nats-server` 2.9, started with
//! JetStream on a loopback port by the test): snapshot then ordered updates, only the node's shards,
//! deletes, resume after a restart from the local snapshot, resync when delete markers may be gone,
//! the server killed mid-stream, the staleness bound, and credentials.

use std::time::Duration;

use async_nats::jetstream;
use pathsec::{AccessKind, Attach, Event, Flow, LinkState, PlmnId, Reason, Role, Runtime};
use pathsec_fleet::feed::{DeviceValue, FeedSettings, FeedStatus, Follower, NatsCredentials, NatsSettings, Publisher};
use pathsec_lab::{NatsAuth, NatsServer};
use tempfile::TempDir;

const WAIT: Duration = Duration::from_secs(20);
const SECURE: LinkState = LinkState { ciphering: true, integrity: true };
const OFF: LinkState = LinkState { ciphering: false, integrity: false };

fn plmn(text: &str) -> PlmnId {
    text.parse().expect("valid PLMN-ID")
}

fn at_home(link: LinkState) -> DeviceValue {
    let home = plmn("310410");
    DeviceValue::new(Attach { serving: Some(home), home, access: AccessKind::ThreeGpp }, Some(link))
}

/// A gateway's runtime: the reference policy trusting 310410 for paths A and B with mtc.example.com.
fn gateway() -> Runtime {
    let runtime = Runtime::new(pathsec_suite::bundled("reference").expect("bundled")).expect("runtime");
    let server = runtime.server_id(&"mtc.example.com".parse().expect("fqdn"));
    runtime.update_lists(|lists| {
        lists.trust_path_a(plmn("310410")).trust_path_b(plmn("310410"), server);
    });
    runtime
}

fn reason(runtime: &Runtime, device: &str) -> Reason {
    let flow = Flow {
        device: runtime.device_id(device).expect("room"),
        server: runtime.server_id(&"mtc.example.com".parse().expect("fqdn")),
        role: Role::Server,
        event: Event::SendData,
    };
    runtime.worker().decide(&flow).reason
}

async fn wait(follower: &mut Follower, what: &str, test: impl Fn(&FeedStatus) -> bool) -> FeedStatus {
    match follower.wait_for(WAIT, test).await {
        Ok(status) => status,
        Err(status) => panic!("{what}: not reached in {WAIT:?}; status {status:?}"),
    }
}

fn settings(server: &NatsServer, shards: &[&str]) -> FeedSettings {
    let mut settings = FeedSettings::new(NatsSettings::new(server.url()), shards.iter().copied());
    settings.max_staleness = Duration::from_millis(600);
    settings
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_follows_its_shards_snapshot_then_updates_in_order() {
    let dir = TempDir::new().expect("temp");
    let server = NatsServer::start(&dir.path().join("nats")).expect("nats starts");
    let publisher = Publisher::connect(&NatsSettings::new(server.url())).await.expect("publisher");
    for n in 0..100 {
        publisher.put_device("gw-1", &format!("dev-{n}"), &at_home(SECURE)).await.expect("put");
        publisher.put_device("gw-2", &format!("other-{n}"), &at_home(SECURE)).await.expect("put");
    }
    publisher.put_device("gw-1", "dev-0", &at_home(OFF)).await.expect("put");
    let runtime = gateway();
    let mut follower = Follower::start(runtime.clone(), settings(&server, &["gw-1"])).expect("starts");
    let status = wait(&mut follower, "the snapshot", |status| status.current).await;
    assert_eq!((status.devices, status.snapshots, status.resumes), (100, 1, 0), "{status:?}");
    assert_eq!(reason(&runtime, "dev-0"), Reason::AccessNotProtected, "the last value of a key");
    assert_eq!(reason(&runtime, "dev-1"), Reason::PathSecure);
    assert_eq!(reason(&runtime, "other-1"), Reason::AttachUnknown, "another shard's device is not followed");

    // Updates, in order; a delete clears the facts; the revision is reported.
    let revision = publisher.put_device("gw-1", "dev-1", &at_home(OFF)).await.expect("put");
    let last = publisher.put_device("gw-1", "dev-1", &at_home(SECURE)).await.expect("put");
    publisher.delete_device("gw-1", "dev-2").await.expect("delete");
    let status = wait(&mut follower, "the updates", |status| status.devices == 99).await;
    assert!(status.revision > last && last > revision);
    assert_eq!(reason(&runtime, "dev-1"), Reason::PathSecure, "the later of two updates wins");
    assert_eq!(runtime.fed_revision(runtime.device_id("dev-1").expect("room")), Some(last));
    assert_eq!(reason(&runtime, "dev-2"), Reason::AttachUnknown, "deleted");
    assert_eq!(runtime.feed_revision(), status.revision);

    // A value that does not read clears the device: decisions on it fail closed.
    publisher.devices().put("gw-1.dev-3", "{\"home\":\"31041O\"}".into()).await.expect("put");
    let status = wait(&mut follower, "the bad value", |status| status.bad_values == 1).await;
    assert!(status.last_error.as_deref().is_some_and(|e| e.contains("gw-1.dev-3")), "{status:?}");
    assert_eq!(reason(&runtime, "dev-3"), Reason::AttachUnknown);
    follower.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_stream_the_feed_resyncs_and_loses_nothing_and_staleness_acts_and_recovers() {
    let dir = TempDir::new().expect("temp");
    let mut server = NatsServer::start(&dir.path().join("nats")).expect("nats starts");
    let url = server.url();
    let runtime = gateway();
    let publisher = Publisher::connect(&NatsSettings::new(&url)).await.expect("publisher");
    publisher.put_device("gw-1", "dev-0", &at_home(SECURE)).await.expect("put");
    let mut follower = Follower::start(runtime.clone(), settings(&server, &["gw-1"])).expect("starts");
    wait(&mut follower, "the snapshot", |status| status.current).await;

    // A publisher writing 2,000 updates over 200 devices while the server is killed and restarted.
    let writer = tokio::spawn(async move {
        let mut written = 0;
        for n in 0..2000u32 {
            let link = if n % 3 == 0 { OFF } else { SECURE };
            loop {
                match publisher.put_device("gw-1", &format!("dev-{}", n % 200), &at_home(link)).await {
                    Ok(_) => break,
                    Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                }
            }
            if n % 7 == 0 {
                loop {
                    if publisher.delete_device("gw-1", &format!("dev-{}", (n + 3) % 200)).await.is_ok() {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            written += 1;
        }
        written
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    server.kill();
    // Past the staleness bound: decisions on fed facts fail closed with their own reason.
    let status = wait(&mut follower, "stale", |status| status.stale).await;
    assert!(!status.connected);
    assert_eq!(reason(&runtime, "dev-0"), Reason::FactsStale, "{status:?}");
    server.restart().expect("nats restarts");
    assert_eq!(writer.await.expect("writer"), 2000);

    // Every device ends at the bucket's latest value, deletes included.
    let client = async_nats::connect(&url).await.expect("connect");
    let kv = jetstream::new(client).get_key_value("pathsec-devices").await.expect("bucket");
    let mut expected = Vec::new();
    for n in 0..200 {
        expected.push((n, kv.entry(format!("gw-1.dev-{n}")).await.expect("entry")));
    }
    let last = expected.iter().filter_map(|(_, entry)| entry.as_ref().map(|entry| entry.revision)).max().expect("some");
    let status =
        wait(&mut follower, "caught up after the restart", |status| status.current && status.revision >= last).await;
    assert!(!status.stale, "recovered: {status:?}");
    assert!(status.resumes >= 1, "resumed from its position: {status:?}");
    for (n, entry) in expected {
        let device = format!("dev-{n}");
        let id = runtime.device_id(&device).expect("room");
        match entry {
            Some(entry) if entry.operation == async_nats::jetstream::kv::Operation::Put => {
                let value: DeviceValue = serde_json::from_slice(&entry.value).expect("json");
                let want = if value.ciphering == Some(true) { Reason::PathSecure } else { Reason::AccessNotProtected };
                assert_eq!(reason(&runtime, &device), want, "{device}");
                assert_eq!(runtime.fed_revision(id), Some(entry.revision), "{device}");
            }
            _ => assert_eq!(reason(&runtime, &device), Reason::AttachUnknown, "{device} was deleted"),
        }
    }
    follower.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_resumes_from_the_local_snapshot_or_resyncs_when_it_is_too_old() {
    let dir = TempDir::new().expect("temp");
    let server = NatsServer::start(&dir.path().join("nats")).expect("nats starts");
    let publisher = Publisher::connect(&NatsSettings::new(server.url())).await.expect("publisher");
    for n in 0..50 {
        publisher.put_device("gw-1", &format!("dev-{n}"), &at_home(SECURE)).await.expect("put");
    }
    let snapshot = dir.path().join("gw-1.snapshot");
    let mut settings = settings(&server, &["gw-1"]);
    settings.snapshot = Some(snapshot.clone());
    let mut follower = Follower::start(gateway(), settings.clone()).expect("starts");
    wait(&mut follower, "the snapshot", |status| status.current && status.devices == 50).await;
    follower.stop().await;

    // While it is away: an update and a delete.
    publisher.put_device("gw-1", "dev-1", &at_home(OFF)).await.expect("put");
    publisher.delete_device("gw-1", "dev-2").await.expect("delete");

    // Restarted with its snapshot: the facts apply at once, then it resumes from its position.
    let runtime = gateway();
    let mut follower = Follower::start(runtime.clone(), settings.clone()).expect("starts");
    assert_eq!(reason(&runtime, "dev-5"), Reason::PathSecure, "decides before it connects");
    let status = wait(&mut follower, "resumed", |status| status.current && status.devices == 49).await;
    assert_eq!((status.restored, status.snapshots, status.resumes), (true, 0, 1), "{status:?}");
    assert_eq!(reason(&runtime, "dev-1"), Reason::AccessNotProtected);
    assert_eq!(reason(&runtime, "dev-2"), Reason::AttachUnknown);
    follower.stop().await;

    // Away longer than the bucket keeps delete markers: the delete marker is purged, so a resume
    // could not see it; the follower re-snapshots and still ends without the device.
    publisher.delete_device("gw-1", "dev-3").await.expect("delete");
    let client = async_nats::connect(server.url()).await.expect("connect");
    let stream = jetstream::new(client).get_stream("KV_pathsec-devices").await.expect("stream");
    stream.purge().filter("$KV.pathsec-devices.gw-1.dev-3").await.expect("purge the marker");
    settings.resume_within = Duration::from_secs(1);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let runtime = gateway();
    let mut follower = Follower::start(runtime.clone(), settings).expect("starts");
    let status = wait(&mut follower, "resynced", |status| status.current && status.devices == 48).await;
    assert_eq!((status.snapshots, status.resumes), (1, 0), "{status:?}");
    assert_eq!(reason(&runtime, "dev-3"), Reason::AttachUnknown);
    assert_eq!(reason(&runtime, "dev-4"), Reason::PathSecure);
    follower.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_user_password_and_nkey() {
    let dir = TempDir::new().expect("temp");
    let auth = NatsAuth::User { user: "gateway".into(), password: "s3cret".into() };
    let server = NatsServer::start_with(&dir.path().join("user"), &auth).expect("nats starts");
    let good = NatsCredentials::User { user: "gateway".into(), password: "s3cret".into() };
    let bad = NatsCredentials::User { user: "gateway".into(), password: "wrong".into() };
    let with = |credentials: NatsCredentials| NatsSettings { url: server.url(), credentials };
    let error = Publisher::connect(&with(bad)).await.err().expect("refused").to_string();
    assert!(error.contains("cannot connect") && error.contains("credentials"), "{error}");
    let publisher = Publisher::connect(&with(good.clone())).await.expect("accepted");
    publisher.put_device("gw-1", "dev-0", &at_home(SECURE)).await.expect("put");
    let runtime = gateway();
    let mut settings = settings(&server, &["gw-1"]);
    settings.nats = with(good);
    let mut follower = Follower::start(runtime.clone(), settings).expect("starts");
    wait(&mut follower, "followed with a password", |status| status.devices == 1).await;
    follower.stop().await;

    let key = nkeys::KeyPair::new_user();
    let auth = NatsAuth::Nkey { public: key.public_key() };
    let server = NatsServer::start_with(&dir.path().join("nkey"), &auth).expect("nats starts");
    let seed = NatsCredentials::Nkey { seed: key.seed().expect("a seed") };
    let publisher =
        Publisher::connect(&NatsSettings { url: server.url(), credentials: seed }).await.expect("nkey accepted");
    publisher.put_device("gw-1", "dev-0", &at_home(SECURE)).await.expect("put");
    let other = nkeys::KeyPair::new_user();
    let stranger = NatsCredentials::Nkey { seed: other.seed().expect("a seed") };
    assert!(Publisher::connect(&NatsSettings { url: server.url(), credentials: stranger }).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registration_outcome_one_server_made_is_followed_by_every_gateway() {
    use pathsec::Registration;
    use pathsec::runtime::FedAgreement;
    use pathsec::vocab::{Agreement, RegistrationSource};
    use pathsec_fleet::feed::AgreementValue;

    let dir = TempDir::new().expect("temp");
    let server = NatsServer::start(&dir.path().join("nats")).expect("nats starts");
    let publisher = Publisher::connect(&NatsSettings::new(server.url())).await.expect("publisher");
    publisher.put_device("gw-1", "dev-0", &at_home(SECURE)).await.expect("put");
    let home = plmn("310410");
    let expires =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_secs() + 3600;
    let outcome = AgreementValue::new(&FedAgreement {
        registration: Registration::Agreed(Agreement {
            source: RegistrationSource::NetworkView,
            application_security: true,
            accept_plain_unciphered: false,
        }),
        attach: Attach { serving: Some(home), home, access: AccessKind::ThreeGpp },
        link: SECURE,
        expires,
    });
    let mtc = "mtc.example.com".parse().expect("fqdn");
    // The server that made it writes it under the device's key and its own name.
    publisher.put_agreement("gw-1", "dev-0", &mtc, &outcome).await.expect("put");

    let snapshot = dir.path().join("gw-1.snapshot");
    let mut settings = settings(&server, &["gw-1"]);
    settings.snapshot = Some(snapshot);
    let gateways: Vec<Runtime> = (0..2).map(|_| gateway()).collect();
    let mut followers: Vec<Follower> =
        gateways.iter().map(|runtime| Follower::start(runtime.clone(), settings.clone()).expect("starts")).collect();
    for follower in &mut followers {
        wait(follower, "the snapshot", |status| status.current && status.applied == 2).await;
    }
    for runtime in &gateways {
        assert_eq!(reason(runtime, "dev-0"), Reason::RegistrationRequiresApplicationSecurity);
    }

    // A restart from the local snapshot follows it before it connects.
    let first = followers.remove(0);
    first.stop().await;
    let restarted = gateway();
    let _follower = Follower::start(restarted.clone(), settings.clone()).expect("starts");
    assert_eq!(reason(&restarted, "dev-0"), Reason::RegistrationRequiresApplicationSecurity);

    // Withdrawn: the lists decide again.
    publisher.withdraw_agreement("gw-1", "dev-0", &mtc).await.expect("delete");
    let follower = &mut followers[0];
    wait(follower, "the withdrawal", |status| status.applied == 3).await;
    assert_eq!(reason(&gateways[1], "dev-0"), Reason::PathSecure);
}

/// A server's back-off holds at every gateway: one gateway rejects a device, and another — sharing the
/// back-off bucket on the real server — refuses the device's early re-attach without asking its policy;
/// a gateway that starts later gets the back-off from the bucket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_back_off_holds_across_gateways() {
    use pathsec::related::{Admission, AdmissionRequest, ExternalId, RejectCause};
    use pathsec_fleet::feed::{BACK_OFF_BUCKET, BackOffShare};
    let dir = TempDir::new().expect("temp dir");
    let mut server = NatsServer::start(dir.path()).expect("nats-server");
    let nats = NatsSettings::new(server.url());
    // The first gateway lists `unlisted.example.com` in no List 2 pair: its reference rejects for an
    // hour. The others list it, so their policy would admit: a refusal there is the shared back-off.
    let unlisted: pathsec::Fqdn = "unlisted.example.com".parse().expect("fqdn");
    let listing = || {
        let runtime = gateway();
        let server = runtime.server_id(&unlisted);
        runtime.update_lists(|lists| {
            lists.trust_path_b(plmn("310410"), server);
        });
        runtime
    };
    let (first, second) = (gateway(), listing());
    let _first_share = BackOffShare::start(first.clone(), &nats, BACK_OFF_BUCKET).await.expect("share");
    let _second_share = BackOffShare::start(second.clone(), &nats, BACK_OFF_BUCKET).await.expect("share");
    let attach = |runtime: &Runtime| AdmissionRequest {
        server: runtime.server_id(&unlisted),
        external_id: ExternalId::parse("meter@m2m.example.com").expect("valid"),
        attachment_block_enabled: true,
        server_named: false,
        server_permitted: true,
        proposed_name: None,
    };
    let rejected = first.worker().admit(&attach(&first));
    assert!(matches!(rejected.admission, Admission::Reject { cause: RejectCause::NotPermitted, .. }), "{rejected}");
    let refused_elsewhere = |runtime: &Runtime| {
        let verdict = runtime.worker().admit(&attach(runtime));
        matches!(verdict.admission, Admission::Reject { cause: RejectCause::BackingOff, .. }) && !verdict.asked
    };
    let deadline = tokio::time::Instant::now() + WAIT;
    while !refused_elsewhere(&second) {
        assert!(tokio::time::Instant::now() < deadline, "the second gateway never got the back-off");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A gateway that starts now reads it from the bucket.
    let third = listing();
    let _third_share = BackOffShare::start(third.clone(), &nats, BACK_OFF_BUCKET).await.expect("share");
    while !refused_elsewhere(&third) {
        assert!(tokio::time::Instant::now() < deadline, "the late gateway never got the back-off");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(third.admission_stats().back_offs_imported, 1);
    assert_eq!(second.admission_stats().back_offs_recorded, 0, "the refusals were the shared back-off's");

    // The server dies: a back-off recorded meanwhile is published once it is back.
    server.kill();
    let other = |runtime: &Runtime| AdmissionRequest {
        external_id: ExternalId::parse("camera@m2m.example.com").expect("valid"),
        ..attach(runtime)
    };
    assert!(matches!(first.worker().admit(&other(&first)).admission, Admission::Reject { .. }));
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.restart().expect("restarts");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let verdict = second.worker().admit(&other(&second));
        if matches!(verdict.admission, Admission::Reject { cause: RejectCause::BackingOff, .. }) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the back-off recorded during the outage never arrived: {verdict}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
