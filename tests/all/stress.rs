//! Several threads decide while another swaps policies and changes facts, bounded in time. Zero
//! decisions may fail, and none may rest on facts older than the last update completed before it
//! started.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pathsec::{AccessKind, Action, Attach, Event, Flow, LinkState, PlmnId, Reason, Role, Runtime};

const NETWORKS: usize = 60;
const DEADLINE: Duration = Duration::from_secs(20);

fn network(i: usize) -> PlmnId {
    PlmnId::new(200 + i as u16, 10, 2).expect("valid")
}

#[test]
fn deciding_threads_never_see_stale_facts_or_fail_during_swaps_and_updates() {
    let reference = pathsec_suite::bundled("reference").expect("bundled");
    let twin = pathsec_suite::engine().load_policy("reference-twin", pathsec::bundled::REFERENCE).expect("loads");
    let runtime = Runtime::new(reference.clone()).expect("runtime");
    let home = PlmnId::new(310, 410, 3).expect("valid");
    let server = runtime.server_id(&"mtc.example.com".parse().expect("valid"));
    runtime.update_lists(|lists| {
        lists.trust_path_a(home).trust_path_b(home, server);
        for i in 0..NETWORKS {
            lists.trust_path_a(network(i)).trust_interconnect(network(i));
        }
    });
    // Device i roams in network i, protected.
    let devices: Vec<_> = (0..NETWORKS)
        .map(|i| {
            let device = runtime.device_id(&format!("device-{i}")).expect("room for devices");
            let attach = Attach { serving: Some(network(i)), home, access: AccessKind::ThreeGpp };
            runtime.set_attach(device, attach).expect("known");
            runtime.set_link(device, LinkState { ciphering: true, integrity: true }).expect("known");
            device
        })
        .collect();

    // Updates are monotonic: after `removed` updates, networks 0..removed are out of List 1 for good.
    let removed = AtomicUsize::new(0);
    let done = AtomicBool::new(false);
    let started = Instant::now();
    let (decided, stale, faults) = (AtomicUsize::new(0), AtomicUsize::new(0), AtomicUsize::new(0));

    std::thread::scope(|scope| {
        for reader in 0..3 {
            let (runtime, devices, removed, done) = (&runtime, &devices, &removed, &done);
            let (decided, stale, faults) = (&decided, &stale, &faults);
            scope.spawn(move || {
                let mut worker = runtime.worker();
                let mut i = reader;
                while !done.load(Ordering::SeqCst) && started.elapsed() < DEADLINE {
                    i = (i + 7) % NETWORKS;
                    let flows: Vec<Flow> = (0..4)
                        .map(|k| Flow {
                            device: devices[(i + k) % NETWORKS],
                            server,
                            role: Role::Server,
                            event: Event::SendData,
                        })
                        .collect();
                    let before = removed.load(Ordering::SeqCst);
                    let decisions = if reader == 0 {
                        worker.decide_batch(&flows)
                    } else {
                        flows.iter().map(|f| worker.decide(f)).collect()
                    };
                    for (k, decision) in decisions.iter().enumerate() {
                        decided.fetch_add(1, Ordering::Relaxed);
                        if decision.fault.is_some() {
                            faults.fetch_add(1, Ordering::Relaxed);
                        }
                        let index = (i + k) % NETWORKS;
                        if index < before
                            && (decision.action, decision.reason) != (Action::SecureThenSend, Reason::PathANotTrusted)
                        {
                            stale.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            });
        }
        // The writer: remove one network a step, swap the policy every few steps, stir unrelated facts.
        let other = runtime.device_id("bystander").expect("room for devices");
        for step in 0..NETWORKS {
            runtime.update_lists(|lists| {
                lists.distrust_path_a(network(step));
            });
            removed.store(step + 1, Ordering::SeqCst);
            if step % 5 == 0 {
                let next = if step % 10 == 0 { twin.clone() } else { reference.clone() };
                runtime.swap(next).expect("passes its self-check");
            }
            let serving = Some(network(step % NETWORKS));
            runtime.set_attach(other, Attach { serving, home, access: AccessKind::ThreeGpp }).expect("known");
            std::thread::sleep(Duration::from_millis(2));
        }
        // Let the readers see the final state for a moment.
        std::thread::sleep(Duration::from_millis(50));
        done.store(true, Ordering::SeqCst);
    });

    let decided = decided.load(Ordering::Relaxed);
    assert!(started.elapsed() < DEADLINE, "bounded in time");
    assert_eq!(faults.load(Ordering::Relaxed), 0, "no decision failed");
    assert_eq!(stale.load(Ordering::Relaxed), 0, "no decision rested on facts older than a completed update");
    assert!(decided > 1_000, "only {decided} decisions");
    assert_eq!(runtime.swaps(), (NETWORKS / 5) as u64);
}
