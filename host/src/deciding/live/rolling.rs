//! What a runtime runs: swapping its policy after a self-check, and rolling out a canary or a shadow
//! beside it (promote, roll back, end), each change a new generation.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::{Runtime, SwapError};
use crate::rollout::{Active, Canary, Rollout, RolloutError, Selection, Shadow};
use crate::store::device::DeviceId;
use crate::wasm::policy::Policy;
use crate::wasm::selfcheck;

impl Runtime {
    /// How many swaps have completed.
    pub fn swaps(&self) -> u64 {
        self.inner.swaps.load(Ordering::Relaxed)
    }

    /// Makes `policy` the active policy for every device, once it passes its self-check (it loads a
    /// probe fact set and the current lists, and answers every event without a fault). On error the
    /// active policy stays. Decisions in flight finish on the old policy; every decision that starts
    /// after this returns uses the new one. A canary that ran ends (its candidate no longer enforces
    /// anywhere); a shadow keeps watching the new active policy.
    pub fn swap(&self, policy: Policy) -> Result<(), SwapError> {
        if let Err(fault) = selfcheck::run(&policy, &self.inner.store.lists()) {
            self.inner.metrics.swap_refused();
            return Err(SwapError::SelfCheck { policy: policy.name().to_owned(), fault });
        }
        let shadow = self.inner.active.load().shadow.clone();
        self.install(Active { policy, generation: 0, canary: None, shadow });
        Ok(())
    }

    /// Runs `rollout`: its active policy for every device its canary does not select, its candidate
    /// for those that it does, its shadow beside both. Each policy that is not already running passes
    /// its self-check first; on any error the rollout in force stays, whole. Every decision from now
    /// on is made by the rollout's policies (cached ones are remade), and says which made it
    /// ([`Decision::made_by`](crate::Decision::made_by); the decision log names the policy).
    pub fn set_rollout(&self, rollout: Rollout) -> Result<(), RolloutError> {
        let Rollout { active, canary, shadow } = rollout;
        if shadow.as_ref().is_some_and(|shadow| shadow.every == 0) {
            return Err(RolloutError::Every);
        }
        let running = self.inner.active.load_full();
        let lists = self.inner.store.lists();
        let is_running = |policy: &Policy| {
            [
                Some(&running.policy),
                running.canary.as_ref().map(|c| &c.policy),
                running.shadow.as_ref().map(|s| &s.policy),
            ]
            .into_iter()
            .flatten()
            .any(|old| old.same_as(policy))
        };
        let roles = [
            ("active", Some(&active)),
            ("candidate", canary.as_ref().map(|c| &c.policy)),
            ("shadow", shadow.as_ref().map(|s| &s.policy)),
        ];
        for (role, policy) in roles {
            let Some(policy) = policy.filter(|policy| !is_running(policy)) else { continue };
            if let Err(fault) = selfcheck::run(policy, &lists) {
                self.inner.metrics.swap_refused();
                return Err(RolloutError::SelfCheck { role, policy: policy.name().to_owned(), fault });
            }
        }
        if canary.is_some() {
            // A canary picks devices by their places: every device gets one before it runs.
            self.inner.store.place_all();
        }
        self.install(Active { policy: active, generation: 0, canary, shadow });
        Ok(())
    }

    /// What the runtime runs now.
    pub fn rollout(&self) -> Rollout {
        self.inner.active.load().rollout()
    }

    /// Starts a canary: `candidate` enforces for the devices `selection` picks (self-checked first; on
    /// error nothing changes). A canary already running is replaced; a shadow keeps running.
    pub fn start_canary(&self, candidate: Policy, selection: Selection) -> Result<(), RolloutError> {
        let Rollout { active, shadow, .. } = self.rollout();
        self.set_rollout(Rollout { active, canary: Some(Canary { policy: candidate, selection }), shadow })
    }

    /// Promotes the canary's candidate: it becomes the active policy for every device. Returns the
    /// policy it replaced.
    pub fn promote(&self) -> Result<Policy, RolloutError> {
        let Rollout { active, canary, shadow } = self.rollout();
        let canary = canary.ok_or(RolloutError::NoCanary)?;
        self.set_rollout(Rollout { active: canary.policy, canary: None, shadow })?;
        Ok(active)
    }

    /// Rolls the canary back: the active policy decides for every device again. Returns the candidate.
    pub fn roll_back(&self) -> Result<Policy, RolloutError> {
        let Rollout { active, canary, shadow } = self.rollout();
        let canary = canary.ok_or(RolloutError::NoCanary)?;
        self.set_rollout(Rollout { active, canary: None, shadow })?;
        Ok(canary.policy)
    }

    /// Starts a shadow: `policy` decides beside the active one (and a canary's candidate) on every
    /// `every`th cache miss of each worker, on the same request and facts, and is only compared: what
    /// it disagrees on is counted ([`Metrics::shadows`](crate::runtime::Metrics::shadows)) and logged with both decisions; its faults are
    /// counted apart and never touch the returned decision. Self-checked first. A shadow already
    /// running is replaced.
    pub fn start_shadow(&self, policy: Policy, every: u32) -> Result<(), RolloutError> {
        let Rollout { active, canary, .. } = self.rollout();
        self.set_rollout(Rollout { active, canary, shadow: Some(Shadow { policy, every }) })
    }

    /// Ends the shadow; returns it, if one ran.
    pub fn end_shadow(&self) -> Option<Policy> {
        let Rollout { active, canary, shadow } = self.rollout();
        let shadow = shadow?;
        self.install(Active { policy: active, generation: 0, canary, shadow: None });
        Some(shadow.policy)
    }

    /// The policy that decides for `device` now: the canary's candidate when it selects the device,
    /// else the active policy. `None` for a handle this runtime did not issue.
    pub fn enforcing(&self, device: DeviceId) -> Option<Policy> {
        let place = self.inner.store.slot(device)?.place();
        let active = self.inner.active.load();
        Some(match &active.canary {
            Some(canary) if canary.selection.selects_place(place) => canary.policy.clone(),
            _ => active.policy.clone(),
        })
    }

    /// Publishes `next` (its generation set here) as what the runtime runs, once every worker's
    /// instances of its policies are made and hold the current lists.
    fn install(&self, mut next: Active) {
        let store = &self.inner.store;
        let _lists = store.lists_lock();
        next.generation = store.next_generation();
        let next = Arc::new(next);
        let prepared = self.inner.preparer.prepare(&next, &store.lists());
        self.inner.metrics.instances_prepared(prepared);
        let _writer = store.write_lock();
        if let Some(log) = &self.inner.log {
            log.rollout(next.generation, &next);
        }
        let generation = next.generation;
        self.inner.active.store(next);
        self.inner.policy_generation.store(generation, Ordering::Release);
        store.advance();
        self.inner.swaps.fetch_add(1, Ordering::Relaxed);
    }
}
