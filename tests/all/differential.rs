//! Paths that must agree: the reference policy in WebAssembly and the native-Rust rule against the rule
//! as `docs/method.md` writes it (the table oracle), on a large generated set of fact combinations; and
//! one decision at a time against batches.

use pathsec::Request;
use pathsec_suite::generate::{self, Rng};
use pathsec_suite::method::MethodTable;
use pathsec_suite::native::NativeRule;

const FACT_SETS: u64 = 48;
const REQUESTS_PER_SET: usize = 2_500;

#[test]
fn reference_policy_and_native_rule_agree_with_the_method_table() {
    let policy = pathsec_suite::bundled("reference").expect("reference is bundled");
    let mut decider = policy.decider();
    let networks = generate::networks();
    let mut compared = 0usize;
    let mut secure = 0usize;
    let table = MethodTable::get();
    for seed in 0..FACT_SETS {
        let mut rng = Rng::new(seed);
        // Sparse to dense lists, so that every check fails and passes often.
        let density = 0.2 + 0.7 * (seed as f64 / FACT_SETS as f64);
        let (facts, servers) = generate::facts(&mut rng, 4, density);
        let native = NativeRule::new(&facts);
        for _ in 0..REQUESTS_PER_SET {
            let request = generate::request(&mut rng, &networks, &servers);
            // The scalar export (`decide-one`, the SDK's keyed rule on the packed words) and `decide`
            // (the request as a record, the SDK's `Policy::decide`).
            let decision = decider.decide(&facts, &request);
            assert!(decision.fault.is_none(), "the reference policy failed on {request:?}: {decision}");
            let wasm = (decision.action, decision.reason);
            let expected = table.decide(&facts, &request);
            assert_eq!(
                wasm,
                (expected.action, expected.reason),
                "seed {seed}, request {request:?}: the table: {expected}"
            );
            assert_eq!(native.decide(&request), wasm, "the native rule: seed {seed}, request {request:?}");
            assert_eq!(decider.decide_record(&facts, &request), decision, "seed {seed}, request {request:?}");
            compared += 1;
            secure += usize::from(decision.path_trusted());
        }
    }
    assert_eq!(compared, FACT_SETS as usize * REQUESTS_PER_SET);
    // A generator that never produced a secure path (or never an insecure one) would prove little.
    assert!(secure > compared / 20 && secure < compared * 9 / 10, "{secure} of {compared} rested on the network");
}

#[test]
fn batches_agree_with_single_decisions() {
    let policy = pathsec_suite::bundled("reference").expect("reference is bundled");
    assert!(policy.has_packed_batch(), "the SDK exports decide-packed, so batches go through it");
    assert!(policy.has_scalar_decision(), "the SDK exports decide-scalar, so single decisions go through it");
    let mut single = policy.decider();
    let mut batched = policy.decider();
    let networks = generate::networks();
    let mut rng = Rng::new(7);
    let (facts, servers) = generate::facts(&mut rng, 6, 0.6);
    for size in [1, 2, 63, 64, 65, 500] {
        let requests: Vec<Request> = (0..size).map(|_| generate::request(&mut rng, &networks, &servers)).collect();
        let batch = batched.decide_batch(&facts, &requests);
        assert_eq!(batch.len(), requests.len());
        for (request, decision) in requests.iter().zip(&batch) {
            assert_eq!(*decision, single.decide(&facts, request), "batch of {size}, request {request:?}");
        }
    }
    assert!(batched.decide_batch(&facts, &[]).is_empty());
}

#[test]
fn every_fact_change_reaches_the_policy() {
    // One decider across generations: each new FactSet must be loaded before it decides.
    let policy = pathsec_suite::bundled("reference").expect("reference is bundled");
    let mut decider = policy.decider();
    let networks = generate::networks();
    let mut rng = Rng::new(99);
    for _ in 0..200 {
        let (facts, servers) = generate::facts(&mut rng, 3, 0.5);
        let native = NativeRule::new(&facts);
        for _ in 0..20 {
            let request = generate::request(&mut rng, &networks, &servers);
            let decision = decider.decide(&facts, &request);
            assert_eq!((decision.action, decision.reason), native.decide(&request));
        }
    }
}
