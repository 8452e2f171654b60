//! A test policy that fails on some traffic: the reference rule, except that it traps (a panic) when
//! the serving network's MCC is 208, and spins past every deadline when it is 262. The self-check
//! never probes those networks, so it loads and runs as a shadow or a canary; the tests show its
//! faults never reach the decisions the active policy returns.

use pathsec_policy::{AccessKind, Facts, PlmnId, Policy};

struct FaultyAbroad;

impl Policy for FaultyAbroad {
    // Only a list step is overridden: the packed exports may decide from the packed words.
    const KEYED: bool = true;

    fn path_a_trusted(facts: &Facts, serving: PlmnId, access: AccessKind) -> bool {
        match serving.mcc {
            208 => panic!("faulty-abroad traps in MCC 208"),
            262 => loop {
                std::hint::spin_loop();
            },
            _ => facts.path_a(serving, access),
        }
    }
}

pathsec_policy::export!(FaultyAbroad);
