//! Reviewing a policy before it ships: a decision log replayed with the policy that made it is 100 %
//! identical; replayed with a policy that differs in one method, it reports exactly the decisions that
//! change — and `diff` finds the same difference from the lists alone.

use std::collections::BTreeSet;
use std::io::BufReader;

use pathsec::review::{ListsAtHand, diff, read_log, replay};
use pathsec::runtime::DecisionLog;
use pathsec::{Action, Event, FactSet, Flow, Reason, Role, Runtime};

use crate::rollout::{decide_all, extra_country, plmn, populate, reference};

/// A copy of `lists` (the same content digest).
fn copy(lists: &FactSet) -> FactSet {
    lists.to_builder().build()
}

/// A logged runtime on the reference with the rollout tests' traffic, decided one at a time and in
/// batches, with a list change in between and a device whose facts are unknown; the log's text and the
/// two list generations.
fn logged_traffic() -> (String, Vec<FactSet>) {
    let file = tempfile::NamedTempFile::new().expect("temp file");
    let runtime = Runtime::builder(reference())
        .decision_log(DecisionLog::to_file(file.path()).expect("log"))
        .build()
        .expect("runtime");
    let flows = populate(&runtime, 60);
    let unknown = runtime.device_id("imsi-unknown").expect("room");
    let server = flows[0].server;
    let mut all = flows.clone();
    all.push(Flow { device: unknown, server, role: Role::Server, event: Event::SendData });
    decide_all(&runtime, &all);
    runtime.worker().decide_batch(&all);
    let first = copy(&runtime.lists());
    // Germany joins List 1: the second generation's decisions in 26201 change reason.
    runtime.update_lists(|lists| {
        lists.trust_path_a(plmn("26201"));
    });
    let second = copy(&runtime.lists());
    assert_ne!(first.lists_digest(), second.lists_digest());
    let mut worker = runtime.worker();
    all.iter().for_each(|flow| drop(worker.decide(flow)));
    all.iter().for_each(|flow| drop(worker.decide(flow)));
    drop(worker);
    let stats = runtime.flush_log().expect("a log");
    assert_eq!(stats.dropped, 0);
    (std::fs::read_to_string(file.path()).expect("log"), vec![first, second])
}

fn at_hand(lists: &[FactSet]) -> ListsAtHand {
    let mut hand = ListsAtHand::new();
    for (index, lists) in lists.iter().enumerate() {
        hand.add(&format!("generation {index}"), copy(lists));
    }
    hand
}

#[test]
fn a_log_replayed_with_the_policy_that_made_it_is_identical() {
    let (log, lists) = logged_traffic();
    let report = replay("log", BufReader::new(log.as_bytes()), &reference(), &at_hand(&lists)).expect("replays");
    assert_eq!(report.decisions, 4 * 241);
    assert_eq!(report.changed, 0, "{report:?}");
    assert_eq!(report.engine_decided, 4, "the device with unknown facts, every time");
    assert_eq!(report.identical, report.decisions - 4);
    assert_eq!(report.identical_percent(), 100.0);
    assert!(report.not_replayable.is_empty(), "{report:?}");

    // Without the second generation's lists, its decisions are not replayable and the digest is named.
    let report = replay("log", BufReader::new(log.as_bytes()), &reference(), &at_hand(&lists[..1])).expect("replays");
    assert_eq!(report.not_replayable.get("its lists are not at hand"), Some(&(2 * 240)));
    assert_eq!(report.missing_lists.keys().collect::<Vec<_>>(), [&lists[1].lists_digest().to_string()]);
}

#[test]
fn replay_reports_exactly_the_decisions_a_one_method_change_alters_and_diff_finds_it_from_the_lists() {
    let (log, lists) = logged_traffic();
    // What changes: every logged decision the reference refused for path A in a French network.
    let mut expected = 0;
    read_log("log", BufReader::new(log.as_bytes()), |logged| {
        let serving = logged.facts.and_then(|(attach, ..)| attach.serving);
        if logged.reason == Reason::PathANotTrusted && serving.is_some_and(|serving| serving.mcc() == 208) {
            expected += 1;
        }
    })
    .expect("reads");
    assert!(expected > 0);
    let report = replay("log", BufReader::new(log.as_bytes()), &extra_country(), &at_hand(&lists)).expect("replays");
    assert_eq!(report.changed, expected, "{report:#?}");
    assert_eq!(report.identical + report.changed + report.engine_decided, report.decisions);
    let replayed: BTreeSet<_> = report.changes.iter().map(|change| (change.from, change.to)).collect();
    for change in &report.changes {
        assert_eq!(change.from.1, Reason::PathANotTrusted, "{change:?}");
        assert!(!change.examples.is_empty() && change.examples.len() <= 3);
    }
    assert!(
        replayed
            .contains(&((Action::SecureThenSend, Reason::PathANotTrusted), (Action::SendPlain, Reason::PathSecure)))
    );

    // `diff` finds the same difference from the lists alone: only requests served in MCC 208 change
    // (path-A refusals, and triggers the reference accepted for their end-to-end protection that the
    // candidate accepts for a secure path), and every change the traffic showed is among them.
    for lists in &lists {
        let found = diff(&reference(), &extra_country(), lists, u64::MAX).expect("small lists");
        assert!(found.differing > 0);
        let differences: BTreeSet<_> = found.differences.iter().map(|d| (d.a, d.b)).collect();
        for difference in &found.differences {
            assert!(
                [Reason::PathANotTrusted, Reason::TriggerEndToEndValid].contains(&difference.a.1),
                "{difference:?}"
            );
            for example in &difference.examples {
                assert_eq!(example.serving.map(|serving| serving.mcc()), Some(208), "{example:?}");
            }
        }
        assert!(replayed.is_subset(&differences), "{replayed:?} not within {differences:?}");
        assert_eq!(diff(&reference(), &reference(), lists, u64::MAX).expect("small").differing, 0);
        let error = diff(&reference(), &reference(), lists, 1000).expect_err("over the limit");
        assert!(error.to_string().contains("more than the limit of 1000"), "{error}");
    }
}
