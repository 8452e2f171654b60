//! The decision log and the runtime's metrics: every decision is logged with what it was made on, or
//! counted as dropped or failed — never lost silently, and deciding never waits for the log.

use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, SystemTime};

use pathsec::{
    Action, Engine, Event, Flow, LinkState, Reason, Role, Runtime,
    runtime::{DecisionLog, LogStats, ManualClock},
    vocab::{AccessIntegrity, EndToEnd, TriggerCheck},
};
use pathsec_suite::meter_at_home;
use serde_json::Value;

const SECURE: LinkState = LinkState { ciphering: true, integrity: true };

/// A sink that keeps what it is given, optionally slowly, optionally held shut until opened.
#[derive(Clone, Default)]
struct Sink {
    lines: Arc<Mutex<Vec<u8>>>,
    delay: Duration,
    gate: Option<Arc<(Mutex<bool>, Condvar)>>,
}

impl Sink {
    fn slow(delay: Duration) -> Sink {
        Sink { delay, ..Sink::default() }
    }

    fn shut() -> Sink {
        Sink { gate: Some(Arc::default()), ..Sink::default() }
    }

    fn open(&self) {
        let (open, changed) = &**self.gate.as_ref().expect("a gate");
        *open.lock().expect("gate") = true;
        changed.notify_all();
    }

    /// Every line written, parsed.
    fn lines(&self) -> Vec<Value> {
        let bytes = self.lines.lock().expect("lines").clone();
        String::from_utf8(bytes)
            .expect("UTF-8")
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("`{line}` is not JSON: {e}")))
            .collect()
    }
}

impl Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if let Some(gate) = &self.gate {
            let (open, changed) = &**gate;
            let mut open = open.lock().expect("gate");
            while !*open {
                open = changed.wait(open).expect("gate");
            }
        }
        std::thread::sleep(self.delay);
        self.lines.lock().expect("lines").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn runtime_logging_to(sink: &Sink, capacity: usize) -> Runtime {
    let log = DecisionLog::to_writer(sink.clone(), capacity).expect("log starts");
    let policy = pathsec_suite::bundled("reference").expect("bundled");
    Runtime::builder(policy).decision_log(log).build().expect("runtime")
}

/// Splits the log into decision lines and the sum of its `dropped` lines.
fn entries_and_drops(lines: &[Value]) -> (Vec<&Value>, u64) {
    let dropped = lines.iter().filter_map(|line| line.get("dropped")).map(|n| n.as_u64().expect("a count")).sum();
    (lines.iter().filter(|line| line.get("dropped").is_none()).collect(), dropped)
}

#[test]
fn every_decision_is_logged_with_what_it_was_made_on() {
    let sink = Sink::default();
    let runtime = runtime_logging_to(&sink, 1024);
    let flow = meter_at_home(&runtime, SECURE);
    let mut worker = runtime.worker();
    worker.decide(&flow); // a miss
    worker.decide(&flow); // a hit
    let trigger =
        Event::ReceiveTrigger(TriggerCheck { access_integrity: AccessIntegrity::Absent, end_to_end: EndToEnd::Valid });
    let unknown_device = runtime.device_id("nowhere").expect("room");
    worker.decide_batch(&[
        flow,
        Flow { role: Role::Device, event: trigger, ..flow },
        Flow { device: unknown_device, ..flow },
    ]);
    let stats = runtime.flush_log().expect("a log");
    assert_eq!(stats, LogStats { written: 5, dropped: 0, failed: 0, last_error: None });

    let lines = sink.lines();
    assert_eq!(lines.len(), 5);
    let policy = runtime.policy();
    for line in &lines {
        assert!(line["logged"].as_str().is_some_and(|time| time.ends_with('Z') && time.len() == 27), "{line}");
        assert_eq!(line["policy"]["name"], "reference");
        assert_eq!(line["policy"]["sha256"], policy.digest());
        assert_eq!(line["server"], "mtc.example.com");
        assert_eq!(line["facts"]["lists"], runtime.lists().generation());
    }
    let miss = &lines[0];
    assert_eq!(
        (miss["device"].as_str(), miss["role"].as_str(), miss["event"].as_str()),
        (Some("meter"), Some("server"), Some("send-data"))
    );
    assert_eq!(
        (miss["action"].as_str(), miss["reason"].as_str(), miss["cached"].as_bool()),
        (Some("send-plain"), Some("path-secure"), Some(false))
    );
    assert!(miss["facts"]["device"].as_u64().is_some_and(|generation| generation > 0));
    assert_eq!(lines[1]["cached"], true, "the second decision came from the cache");
    assert_eq!(lines[1]["facts"], miss["facts"], "and was made on the same facts");
    assert_eq!(lines[2]["cached"], true, "the batch's first flow is cached too");
    let received = &lines[3];
    assert_eq!((received["event"].as_str(), received["action"].as_str()), (Some("receive-trigger"), Some("accept")));
    assert_eq!(received["trigger"]["access_integrity"], "absent");
    assert_eq!(received["trigger"]["end_to_end"], "valid");
    assert_eq!((received["cached"].as_bool(), &received["facts"]), (Some(false), &miss["facts"]), "asked in the batch");
    let unknown = &lines[4];
    assert_eq!((unknown["device"].as_str(), unknown["reason"].as_str()), (Some("nowhere"), Some("attach-unknown")));
    assert_eq!(unknown["action"], "secure-then-send");
    assert!(lines.iter().all(|line| line.get("fault").is_none()));

    let metrics = runtime.metrics();
    assert_eq!((metrics.decisions, metrics.cache_hits, metrics.policy_calls, metrics.unknown_facts), (5, 2, 2, 1));
    assert_eq!(metrics.log, Some(stats));
}

#[test]
fn log_lines_carry_the_runtimes_clock_not_the_systems() {
    let sink = Sink::default();
    let log = DecisionLog::to_writer(sink.clone(), 64).expect("log starts");
    let clock = ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000));
    let policy = pathsec_suite::bundled("reference").expect("bundled");
    let runtime = Runtime::builder(policy).decision_log(log).clock(clock.clone()).build().expect("runtime");
    assert_eq!(runtime.now(), SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000));
    let flow = meter_at_home(&runtime, SECURE);
    let mut worker = runtime.worker();
    worker.decide(&flow);
    runtime.flush_log().expect("a log");
    clock.advance(Duration::from_secs(90));
    worker.decide(&flow);
    runtime.flush_log().expect("a log");
    let logged: Vec<String> =
        sink.lines().iter().map(|line| line["logged"].as_str().expect("a timestamp").to_owned()).collect();
    assert_eq!(logged, ["2027-01-15T08:00:00.000000Z", "2027-01-15T08:01:30.000000Z"]);
}

#[test]
fn a_swapped_policy_is_named_in_the_entries_decided_on_it() {
    let sink = Sink::default();
    let runtime = runtime_logging_to(&sink, 1024);
    let flow = meter_at_home(&runtime, SECURE);
    let mut worker = runtime.worker();
    worker.decide(&flow);
    runtime.swap(pathsec_suite::bundled("always-secure").expect("bundled")).expect("swaps");
    worker.decide(&flow);
    runtime.flush_log();
    let lines = sink.lines();
    assert_eq!(lines[0]["policy"]["name"], "reference");
    assert_eq!(lines[1]["policy"]["name"], "always-secure");
    assert_eq!(lines[1]["cached"], false, "the swap made the decision fresh");
    assert!(lines[1]["policy"]["generation"].as_u64() > lines[0]["policy"]["generation"].as_u64());
    assert_eq!(lines[1]["reason"], "policy-requires-application-security");
}

/// Two threads decide as fast as they can into a slow sink behind a short queue: many entries must
/// be dropped, and every decision is either a line of the log or counted in a `dropped` line.
#[test]
fn under_overload_every_decision_is_logged_or_counted_as_dropped() {
    let sink = Sink::slow(Duration::from_millis(2));
    let runtime = runtime_logging_to(&sink, 8);
    let flow = meter_at_home(&runtime, SECURE);
    let other = Flow { event: Event::ReceiveUnprotected, ..flow };
    let decided: u64 = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..2)
            .map(|thread| {
                let runtime = runtime.clone();
                scope.spawn(move || {
                    let mut worker = runtime.worker();
                    let mut decided = 0u64;
                    for round in 0..3_000 {
                        if (round + thread) % 3 == 0 {
                            decided += worker.decide_batch(&[flow, other, flow, other]).len() as u64;
                        } else {
                            worker.decide(&flow);
                            decided += 1;
                        }
                    }
                    decided
                })
            })
            .collect();
        threads.into_iter().map(|thread| thread.join().expect("thread")).sum()
    });
    let stats = runtime.flush_log().expect("a log");
    assert!(stats.dropped > 0, "the queue overflowed: {stats:?}");
    assert!(stats.written > 0, "{stats:?}");
    assert_eq!(stats.failed, 0);
    assert_eq!(stats.written + stats.dropped, decided, "every decision is written or counted: {stats:?}");

    let lines = sink.lines();
    let (entries, dropped) = entries_and_drops(&lines);
    assert_eq!(entries.len() as u64, stats.written, "each written decision is one line");
    assert_eq!(dropped, stats.dropped, "the log says what it dropped");
    assert_eq!(runtime.metrics().decisions, decided);
}

/// A sink that never returns until released: deciding goes on regardless.
#[test]
fn a_stuck_sink_never_holds_up_decisions() {
    let sink = Sink::shut();
    let runtime = runtime_logging_to(&sink, 4);
    let flow = meter_at_home(&runtime, SECURE);
    let mut worker = runtime.worker();
    for _ in 0..10_000 {
        assert_eq!(worker.decide(&flow).action, Action::SendPlain);
    }
    let stats = runtime.metrics().log.expect("a log");
    // Nothing is written while the sink is stuck; past the queue and what the writer holds, the rest
    // is counted as dropped.
    assert_eq!(stats.written, 0, "{stats:?}");
    assert!(stats.dropped > 9_000, "{stats:?}");
    sink.open();
    let stats = runtime.flush_log().expect("a log");
    assert_eq!(stats.written + stats.dropped, 10_000, "{stats:?}");
    let lines = sink.lines();
    let (entries, dropped) = entries_and_drops(&lines);
    assert_eq!((entries.len() as u64, dropped), (stats.written, stats.dropped));
}

/// A sink that fails (a full disk): its decisions are counted as failed, with the error.
#[test]
fn a_failing_sink_counts_what_it_lost_with_the_error() {
    struct Full;
    impl Write for Full {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::new(io::ErrorKind::StorageFull, "no space left on device"))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let log = DecisionLog::to_writer(Full, 64).expect("log starts");
    let policy = pathsec_suite::bundled("reference").expect("bundled");
    let runtime = Runtime::builder(policy).decision_log(log).build().expect("runtime");
    let flow = meter_at_home(&runtime, SECURE);
    let mut worker = runtime.worker();
    for _ in 0..5 {
        assert_eq!(worker.decide(&flow).action, Action::SendPlain, "deciding goes on");
    }
    let stats = runtime.flush_log().expect("a log");
    assert_eq!((stats.written, stats.dropped, stats.failed), (0, 0, 5));
    assert_eq!(stats.last_error.as_deref(), Some("no space left on device"));
}

#[test]
fn a_log_file_is_appended_and_a_bad_path_is_named() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("decisions.jsonl");
    std::fs::write(&path, "{\"earlier\":true}\n").expect("write");
    let log = DecisionLog::to_file(&path).expect("opens");
    let runtime = Runtime::builder(pathsec_suite::bundled("reference").expect("bundled"))
        .decision_log(log)
        .build()
        .expect("runtime");
    let flow = meter_at_home(&runtime, SECURE);
    runtime.worker().decide(&flow);
    assert_eq!(runtime.flush_log().map(|stats| stats.written), Some(1));
    let text = std::fs::read_to_string(&path).expect("read");
    assert_eq!(text.lines().count(), 2, "appended after what was there: {text}");

    let missing = dir.path().join("no-such-dir/decisions.jsonl");
    let error = DecisionLog::to_file(&missing).err().expect("refused");
    assert_eq!(
        error.to_string(),
        format!(
            "cannot open the decision log `{}` for appending: check the directory exists and is writable",
            missing.display()
        )
    );
}

#[test]
fn metrics_count_decisions_hits_faults_by_kind_and_swaps() {
    let limits = pathsec::Limits { list_entries: 3, ..pathsec::Limits::default() };
    let engine = Engine::builder().limits(limits).build().expect("engine");
    let reference = engine.load_policy("reference", pathsec::bundled::REFERENCE).expect("loads");
    let runtime = Runtime::new(reference.clone()).expect("runtime");
    let flow = meter_at_home(&runtime, SECURE);
    assert_eq!(runtime.metrics(), pathsec::runtime::Metrics::default());
    {
        let mut worker = runtime.worker();
        worker.decide(&flow);
        worker.decide(&flow);
        worker.decide_batch(&[flow, flow]);
        // A worker's counts outlive it.
    }
    let metrics = runtime.metrics();
    assert_eq!((metrics.decisions, metrics.cache_hits, metrics.policy_calls), (4, 3, 1));

    // Lists longer than the engine allows: decisions fail closed, counted by kind.
    runtime.update_lists(|lists| {
        for mnc in 10..14 {
            lists.trust_interconnect(format!("001{mnc}").parse().expect("valid"));
        }
    });
    let mut worker = runtime.worker();
    let decision = worker.decide(&flow);
    assert_eq!((decision.action, decision.reason), (Action::SecureThenSend, Reason::PolicyFault));
    worker.decide_batch(&[flow, Flow { event: Event::ReceiveUnprotected, ..flow }]);
    let metrics = runtime.metrics();
    assert_eq!(metrics.faults[pathsec::vocab::FaultKind::ListTooLong], 3, "{metrics:?}");
    assert_eq!(metrics.faults.total(), 3);
    let by_kind: Vec<_> = metrics.faults.iter().filter(|&(_, n)| n > 0).collect();
    assert_eq!(by_kind, [(pathsec::vocab::FaultKind::ListTooLong, 3)], "each fault counted under its own kind");
    assert_eq!((metrics.decisions, metrics.policy_calls), (7, 4));

    // A swap the self-check refuses (the lists are too long for it too), then one that passes.
    assert!(runtime.swap(reference.clone()).is_err());
    runtime.replace_lists(|_| {});
    runtime.swap(reference).expect("swaps");
    let metrics = runtime.metrics();
    assert_eq!((metrics.swaps, metrics.swaps_refused), (1, 1));
    assert_eq!(metrics.log, None);
}
