//! Signed list bundles (issue 15, first part): the lists with a generation, an issuer and a validity
//! period, signed under a signing context of their own; each check that refuses one, and the record of
//! accepted generations that survives a restart.

use pathsec::FactSet;
use pathsec::delivery::{AcceptedGenerations, BundleError, BundleKeys, ListBundle};
use pathsec::signing::SecretKey;

const NOW: u64 = 1_800_000_000;
const DAY: u64 = 86_400;

fn lists() -> FactSet {
    let mut lists = FactSet::builder();
    let server = lists.server("mtc.example.com".parse().expect("fqdn"));
    let (home, visited) = ("310410".parse().expect("plmn"), "20801".parse().expect("plmn"));
    lists.trust_path_a(home).trust_path_a(visited).trust_path_b(home, server);
    lists.trust_interconnect_for(home, visited).trust_access_network("wlan.operator.example");
    lists.build()
}

fn bundle(generation: u64) -> ListBundle {
    ListBundle::new(generation, "ops.example.net", NOW - DAY, NOW + 30 * DAY, &lists())
}

fn keys() -> (SecretKey, BundleKeys) {
    let key = SecretKey::generate().expect("random");
    let trusted = BundleKeys::new([key.public_key()]);
    (key, trusted)
}

fn open(bytes: &[u8], keys: &BundleKeys, accepted: &AcceptedGenerations) -> Result<ListBundle, BundleError> {
    ListBundle::open("lists.json", bytes, keys, NOW, accepted)
}

#[test]
fn a_signed_bundle_opens_with_its_lists_and_survives_reformatting() {
    let (key, trusted) = keys();
    let signed = bundle(7).sign(&key);
    let opened = open(&signed, &trusted, &AcceptedGenerations::in_memory()).expect("valid");
    assert_eq!(opened, bundle(7));
    assert_eq!(opened.facts().lists_digest(), lists().lists_digest(), "the same lists");
    assert_eq!(signed, opened.sign(&key), "deterministic: the same content writes the same file");
    // Any JSON formatting of the same content carries the same signature.
    let value: serde_json::Value = serde_json::from_slice(&signed).expect("JSON");
    let compact = serde_json::to_vec(&value).expect("JSON");
    assert_eq!(open(&compact, &trusted, &AcceptedGenerations::in_memory()), Ok(bundle(7)));
}

#[test]
fn each_check_refuses_with_the_bundle_the_check_and_the_fix() {
    let (key, trusted) = keys();
    let accepted = AcceptedGenerations::in_memory();
    let signed = String::from_utf8(bundle(7).sign(&key)).expect("UTF-8");
    let refused = |text: &str, keys: &BundleKeys| open(text.as_bytes(), keys, &accepted).expect_err(text).to_string();

    let tampered = signed.replacen("\"mnc\": \"01\"", "\"mnc\": \"02\"", 1);
    assert!(refused(&tampered, &trusted).contains("does not match its content"), "a changed list");
    let later = signed.replace("\"generation\": 7", "\"generation\": 8");
    assert!(refused(&later, &trusted).contains("does not match its content"), "a changed generation");

    let (other, _) = keys();
    let untrusted = String::from_utf8(bundle(7).sign(&other)).expect("UTF-8");
    let message = refused(&untrusted, &trusted);
    assert!(message.contains("which this host does not trust for lists"), "{message}");
    assert!(refused(&signed, &BundleKeys::default()).contains("trusts no key for lists"));

    // A policy signature over the very same bytes is no bundle signature: another signing context.
    let unsigned = String::from_utf8(bundle(7).unsigned()).expect("UTF-8");
    assert!(refused(&unsigned, &trusted).contains("is not signed"));
    let policy_signature = key.sign(unsigned.as_bytes()).to_text();
    let as_policy = unsigned.trim_end().trim_end_matches('}').trim_end().to_owned()
        + &format!(",\n  \"signature\": \"{}\"\n}}\n", policy_signature.trim_end());
    assert!(refused(&as_policy, &trusted).contains("does not match its content"), "{as_policy}");

    let early = String::from_utf8(ListBundle::new(7, "ops.example.net", NOW + 1, NOW + DAY, &lists()).sign(&key))
        .expect("UTF-8");
    assert!(refused(&early, &trusted).contains("is valid from 1800000001 (Unix seconds), and it is 1800000000"));
    let late = String::from_utf8(ListBundle::new(7, "ops.example.net", 0, NOW, &lists()).sign(&key)).expect("UTF-8");
    assert!(refused(&late, &trusted).contains("expired at 1800000000"));

    assert!(
        refused(&signed.replace("\"pathsec-list-bundle\": 1", "\"pathsec-list-bundle\": 2"), &trusted)
            .contains("has format version 2, and this host reads version 1")
    );
    assert!(refused(&signed[..signed.len() / 2], &trusted).starts_with("list bundle `lists.json` is malformed"));
    let unknown = refused(&signed.replace("\"issuer\"", "\"extra\": 1, \"issuer\""), &trusted);
    assert!(unknown.contains("unknown field `extra`"), "{unknown}");
    let plmn = refused(&signed.replacen("\"mnc\": \"410\"", "\"mnc\": \"4100\"", 1), &trusted);
    assert!(plmn.contains("field `lists.path-a"), "{plmn}");
}

#[test]
fn an_older_generation_is_refused_across_a_restart() {
    let (key, trusted) = keys();
    let dir = tempfile::tempdir().expect("temp dir");
    let record = dir.path().join("accepted-lists");
    let mut accepted = AcceptedGenerations::open(&record).expect("no record yet");
    let five = open(&bundle(5).sign(&key), &trusted, &accepted).expect("first");
    accepted.record(&five).expect("written");
    for generation in [5, 4] {
        assert!(matches!(
            open(&bundle(generation).sign(&key), &trusted, &accepted),
            Err(BundleError::Rollback { highest: 5, .. })
        ));
    }
    // A restart reads the record: the rollback stays closed.
    let restarted = AcceptedGenerations::open(&record).expect("the record");
    assert_eq!(restarted.highest("ops.example.net"), Some(5));
    let error = open(&bundle(3).sign(&key), &trusted, &restarted).expect_err("older");
    assert_eq!(
        error.to_string(),
        "list bundle `lists.json` is generation 3 of `ops.example.net`, and generation 5 was accepted already: an older or replayed bundle is refused; fetch the current one"
    );
    assert!(open(&bundle(6).sign(&key), &trusted, &restarted).is_ok());
    // Another issuer keeps its own count.
    let other = ListBundle::new(1, "partner.example.org", NOW - DAY, NOW + DAY, &lists());
    assert!(open(&other.sign(&key), &trusted, &restarted).is_ok());

    std::fs::write(&record, "ops.example.net five\n").expect("write");
    let broken = AcceptedGenerations::open(&record).expect_err("malformed record");
    assert!(broken.to_string().contains("line 1: expected `<issuer> <generation>`"), "{broken}");
}

#[test]
fn a_runtime_takes_a_bundle_and_keeps_its_lists_when_one_is_refused() {
    use pathsec::runtime::ManualClock;
    use pathsec::{AccessKind, Action, Attach, Event, Flow, LinkState, Role, Runtime};
    use std::time::{Duration, SystemTime};

    let (key, trusted) = keys();
    let clock = ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(NOW));
    let runtime = Runtime::builder(pathsec_suite::bundled("reference").expect("bundled"))
        .clock(clock.clone())
        .build()
        .expect("runtime");
    let server = runtime.server_id(&"mtc.example.com".parse().expect("fqdn"));
    let device = runtime.device_id("meter-17").expect("room");
    let home = "310410".parse().expect("plmn");
    runtime.set_attach(device, Attach { serving: Some(home), home, access: AccessKind::ThreeGpp }).expect("known");
    runtime.set_link(device, LinkState { ciphering: true, integrity: true }).expect("known");
    let flow = Flow { device, server, role: Role::Server, event: Event::SendData };
    assert_eq!(runtime.worker().decide(&flow).action, Action::SecureThenSend, "empty lists trust nothing");

    let dir = tempfile::tempdir().expect("temp dir");
    let mut accepted = AcceptedGenerations::open(dir.path().join("accepted")).expect("record");
    let (taken, lists) =
        runtime.accept_bundle("lists.json", &bundle(2).sign(&key), &trusted, &mut accepted).expect("valid");
    assert_eq!(taken.generation, 2);
    assert_eq!(lists.lists_digest(), self::lists().lists_digest());
    assert_eq!(runtime.lists().server_id(&"mtc.example.com".parse().expect("fqdn")), Some(server), "handles kept");
    assert_eq!(runtime.worker().decide(&flow).action, Action::SendPlain);

    // A replayed generation and an empty forged one are refused; the lists in force stay.
    let before = runtime.lists().generation();
    assert!(runtime.accept_bundle("old.json", &bundle(2).sign(&key), &trusted, &mut accepted).is_err());
    let empty = ListBundle::new(3, "ops.example.net", NOW - DAY, NOW + DAY, &FactSet::builder().build());
    let (stranger, _) = self::keys();
    assert!(runtime.accept_bundle("forged.json", &empty.sign(&stranger), &trusted, &mut accepted).is_err());
    assert_eq!(runtime.lists().generation(), before);
    assert_eq!(runtime.worker().decide(&flow).action, Action::SendPlain);
    // Past its validity by the runtime's clock, a bundle is refused too.
    clock.advance(Duration::from_secs(31 * DAY));
    assert!(matches!(
        runtime.accept_bundle("late.json", &bundle(4).sign(&key), &trusted, &mut accepted),
        Err(BundleError::Expired { .. })
    ));
    assert_eq!(
        AcceptedGenerations::open(dir.path().join("accepted")).expect("record").highest("ops.example.net"),
        Some(2)
    );
}

#[test]
fn a_node_restarting_offline_decides_on_the_bundle_it_last_verified() {
    use pathsec::Runtime;
    use pathsec::delivery::BundleStore;
    use pathsec::runtime::ManualClock;
    use std::time::{Duration, SystemTime};

    let (key, trusted) = keys();
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(NOW));
    let start = || {
        Runtime::builder(pathsec_suite::bundled("reference").expect("bundled"))
            .clock(clock.clone())
            .build()
            .expect("runtime")
    };
    let store = BundleStore::open(dir.path().join("lists")).expect("store");
    let mut accepted = AcceptedGenerations::open(dir.path().join("accepted")).expect("record");
    assert_eq!(start().restore_bundle(&store, &trusted, &accepted), Ok(None), "nothing kept yet");

    let signed = bundle(9).sign(&key);
    start().accept_bundle("lists.json", &signed, &trusted, &mut accepted).expect("valid");
    store.save(&signed).expect("kept");

    // A restart, offline: the kept bundle is taken again (its generation is the recorded one).
    let accepted = AcceptedGenerations::open(dir.path().join("accepted")).expect("record");
    let restarted = start();
    let restored = restarted.restore_bundle(&store, &trusted, &accepted).expect("valid").expect("kept");
    assert_eq!(restored.generation, 9);
    assert_eq!(restarted.lists().lists_digest(), lists().lists_digest());
    // An older bundle put in its place is not: rollback stays closed.
    store.save(&bundle(8).sign(&key)).expect("kept");
    assert!(matches!(start().restore_bundle(&store, &trusted, &accepted), Err(BundleError::Rollback { .. })));
    // Nor is the right one once expired: the node starts with empty lists and decides securely.
    store.save(&signed).expect("kept");
    clock.advance(Duration::from_secs(31 * DAY));
    let late = start();
    assert!(matches!(late.restore_bundle(&store, &trusted, &accepted), Err(BundleError::Expired { .. })));
    assert!(late.lists().path_a().is_empty());
}
