//! `Decider`: one policy instance in its own store, deciding requests for one thread.
//!
//! Every call into the policy runs under an epoch deadline and the store's memory cap. Any failure
//! (trap, deadline, memory) makes that decision fail closed with a [`PolicyFault`], drops the
//! instance (a trap poisons the store) and the next decision starts from a fresh one.

use std::sync::Arc;
use std::time::Instant;

use wasmtime::{Store, Trap};

use crate::bindings::{self, PathSecure};
use crate::decision::{Decision, PolicyFault};
use crate::facts::FactSet;
use crate::limits::{self, Limits};
use crate::policy::Policy;
use crate::request::Request;
use crate::sandbox::{self, StoreState};

/// Decides requests with one instance of a [`Policy`]. Not shared: make one per thread with
/// [`Policy::decider`].
pub struct Decider {
    policy: Policy,
    decide_ticks: u64,
    load_ticks: u64,
    live: Option<Live>,
}

/// A running instance and what it has loaded.
struct Live {
    store: Store<StoreState>,
    bindings: PathSecure,
    /// The fact generation the instance holds.
    loaded: Option<u64>,
    /// The generation the policy rejected, and why; decisions on it fail closed without asking again.
    rejected: Option<(u64, Arc<PolicyFault>)>,
}

impl Decider {
    pub(crate) fn new(policy: Policy) -> Decider {
        let limits = policy.engine().limits();
        let decide_ticks = limits::ticks(limits.deadline);
        let load_ticks = limits::ticks(limits.load_deadline);
        Decider { policy, decide_ticks, load_ticks, live: None }
    }

    /// The policy this decider runs.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Makes the instance and loads `facts` now, instead of on the first decision. An error says why
    /// decisions on these facts would fail closed.
    pub fn prepare(&mut self, facts: &FactSet) -> Result<(), Arc<PolicyFault>> {
        self.ready(facts).map(|_| ())
    }

    /// Decides one request. Never fails: a failing policy yields the fail-closed decision with the
    /// fault attached.
    pub fn decide(&mut self, facts: &FactSet, request: &Request) -> Decision {
        let event = request.event.kind();
        let ticks = self.decide_ticks;
        let live = match self.ready(facts) {
            Ok(live) => live,
            Err(fault) => return Decision::fail_closed(event, fault),
        };
        arm(&mut live.store, ticks);
        let started = Instant::now();
        let answer = live.bindings.pathsec_policy_decide().call_decide(&mut live.store, bindings::request(request));
        match answer {
            Ok(answer) => checked(event, answer),
            Err(error) => Decision::fail_closed(event, self.fault(error, started, self.limits().deadline)),
        }
    }

    /// Decides many requests in one call into the policy; one decision per request, in order.
    pub fn decide_batch(&mut self, facts: &FactSet, requests: &[Request]) -> Vec<Decision> {
        let fail_all = |fault: Arc<PolicyFault>| {
            requests.iter().map(|r| Decision::fail_closed(r.event.kind(), Arc::clone(&fault))).collect()
        };
        if requests.is_empty() {
            return Vec::new();
        }
        let limit = self.limits().batch_deadline(requests.len());
        let ticks = limits::ticks(limit);
        let live = match self.ready(facts) {
            Ok(live) => live,
            Err(fault) => return fail_all(fault),
        };
        let lowered: Vec<_> = requests.iter().map(bindings::request).collect();
        arm(&mut live.store, ticks);
        let started = Instant::now();
        let answer = live.bindings.pathsec_policy_decide().call_decide_batch(&mut live.store, &lowered);
        match answer {
            Ok(answers) if answers.len() == requests.len() => {
                requests.iter().zip(answers).map(|(request, answer)| checked(request.event.kind(), answer)).collect()
            }
            Ok(answers) => {
                fail_all(Arc::new(PolicyFault::BatchLength { expected: requests.len(), got: answers.len() }))
            }
            Err(error) => fail_all(self.fault(error, started, limit)),
        }
    }

    fn limits(&self) -> &Limits {
        self.policy.engine().limits()
    }

    /// The instance, made if needed, with `facts` loaded.
    fn ready(&mut self, facts: &FactSet) -> Result<&mut Live, Arc<PolicyFault>> {
        let generation = facts.generation();
        let mut live = match self.live.take() {
            Some(live) => live,
            None => self.instantiate()?,
        };
        if live.loaded != Some(generation) {
            if let Some((rejected, fault)) = &live.rejected
                && *rejected == generation
            {
                let fault = Arc::clone(fault);
                self.live = Some(live);
                return Err(fault);
            }
            arm(&mut live.store, self.load_ticks);
            let started = Instant::now();
            match live.bindings.pathsec_policy_decide().call_load(&mut live.store, &bindings::facts(facts)) {
                Ok(Ok(())) => {
                    live.loaded = Some(generation);
                    live.rejected = None;
                }
                Ok(Err(message)) => {
                    let fault = Arc::new(PolicyFault::FactsRejected { generation, message });
                    live.loaded = None;
                    live.rejected = Some((generation, Arc::clone(&fault)));
                    self.live = Some(live);
                    return Err(fault);
                }
                Err(error) => {
                    self.live = Some(live);
                    return Err(self.fault(error, started, self.limits().load_deadline));
                }
            }
        }
        Ok(self.live.insert(live))
    }

    fn instantiate(&self) -> Result<Live, Arc<PolicyFault>> {
        let engine = self.policy.engine();
        let mut store = sandbox::store(engine.wasmtime(), engine.limits());
        store.set_epoch_deadline(self.load_ticks);
        let started = Instant::now();
        match self.policy.pre().instantiate(&mut store) {
            Ok(bindings) => Ok(Live { store, bindings, loaded: None, rejected: None }),
            Err(error) => {
                let refused = store.data_mut().limiter.refused_memory.take();
                Err(Arc::new(
                    match classify(
                        &error,
                        refused,
                        store.data().limiter.memory_limit(),
                        started,
                        self.limits().load_deadline,
                    ) {
                        PolicyFault::Trap { message } => PolicyFault::Instantiate { message },
                        fault => fault,
                    },
                ))
            }
        }
    }

    /// The fault behind a failed call. The instance is dropped: a trap leaves its store unusable.
    fn fault(&mut self, error: wasmtime::Error, started: Instant, limit: std::time::Duration) -> Arc<PolicyFault> {
        let (refused, memory_limit) = match self.live.take() {
            Some(mut live) => {
                (live.store.data_mut().limiter.refused_memory.take(), live.store.data().limiter.memory_limit())
            }
            None => (None, self.limits().memory),
        };
        Arc::new(classify(&error, refused, memory_limit, started, limit))
    }
}

/// Sets the deadline for the next call and forgets earlier refusals, so a fault is blamed on the
/// call that caused it.
fn arm(store: &mut Store<StoreState>, ticks: u64) {
    store.set_epoch_deadline(ticks);
    store.data_mut().limiter.refused_memory = None;
}

/// Names what went wrong from wasmtime's error and what the limiter refused.
fn classify(
    error: &wasmtime::Error,
    refused_memory: Option<usize>,
    memory_limit: usize,
    started: Instant,
    limit: std::time::Duration,
) -> PolicyFault {
    if let Some(requested) = refused_memory {
        return PolicyFault::MemoryLimitExceeded { requested, limit: memory_limit };
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => PolicyFault::DeadlineExceeded { elapsed: started.elapsed(), limit },
        // The trap itself, without the multi-line wasm backtrace wasmtime wraps it in.
        Some(trap) => PolicyFault::Trap { message: trap.to_string() },
        None => PolicyFault::Trap { message: format!("{error:#}") },
    }
}

/// The policy's answer, unless its action does not fit the event.
fn checked(event: crate::request::EventKind, answer: bindings::pathsec::policy::types::Decision) -> Decision {
    let (action, reason) = bindings::decision(answer);
    if action.fits(event) {
        Decision::new(action, reason)
    } else {
        Decision::fail_closed(event, Arc::new(PolicyFault::ActionNotAllowed { event, action }))
    }
}
