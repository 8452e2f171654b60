//! A worker's policy instances, and the ones made ready for it off the decision path.
//!
//! A worker decides with one instance of each policy that runs (the active one, a canary's candidate, a
//! shadow), each holding the lists in its own memory. Loading a million-entry list into an instance
//! takes milliseconds, so no worker does it while deciding: before a change to the lists or the
//! policies is published, the changing thread makes every worker's instances for what comes next and
//! leaves them in the worker's [`Mailbox`]; a worker that sees the change takes them there, a move.
//! The instances it replaced go back to the mailbox, where the next change loads its lists into them
//! (a worker therefore holds two sets after a change: the one deciding and the one the next change
//! fills); instances it has no more room for are freed by the next change, not by the worker. A
//! worker made during a change, or one whose mailbox holds instances for another change, loads for
//! itself, as every worker did before.

use std::sync::{Arc, Mutex, MutexGuard, Weak};

use crate::facts::FactSet;
use crate::rollout::Active;
use crate::sync::Locked;
use crate::vocab::{Decision, MadeBy, Request};
use crate::wasm::decider::Decider;

/// The policies a worker runs, with their instances, and the lists it decides on.
pub(super) struct Current {
    pub(super) active: Arc<Active>,
    pub(super) decider: Decider,
    /// A canary's candidate, while one runs.
    pub(super) candidate: Option<Decider>,
    /// A shadow, while one runs.
    pub(super) shadow: Option<ShadowRun>,
    pub(super) lists: Arc<FactSet>,
}

/// A shadow's instance, and which misses it sees.
pub(super) struct ShadowRun {
    pub(super) decider: Decider,
    pub(super) every: u32,
    /// Misses until the next one it sees.
    pub(super) countdown: u32,
}

impl Current {
    /// Fresh instances (made on their first call) of `active`'s policies, for `lists`.
    pub(super) fn new(active: Arc<Active>, lists: Arc<FactSet>) -> Current {
        let candidate = active.canary.as_ref().map(|canary| canary.policy.decider());
        let shadow = active.shadow.as_ref().map(|shadow| ShadowRun {
            decider: shadow.policy.decider(),
            every: shadow.every,
            countdown: shadow.every,
        });
        Current { decider: active.policy.decider(), candidate, shadow, active, lists }
    }

    /// Makes every instance and loads the lists into it now. A policy that fails to load is left
    /// holding its fault: decisions on these lists fail closed with it, as they would have on the
    /// decision path (and a trap's instance is made anew there).
    fn load(&mut self) {
        let lists = &self.lists;
        let _ = self.decider.prepare(lists);
        if let Some(candidate) = &mut self.candidate {
            let _ = candidate.prepare(lists);
        }
        if let Some(shadow) = &mut self.shadow {
            let _ = shadow.decider.prepare(lists);
        }
    }

    /// Whether these are the instances for policy generation `policy` and lists generation `lists`.
    #[inline]
    pub(super) fn is_for(&self, policy: u64, lists: u64) -> bool {
        self.active.generation == policy && self.lists.generation() == lists
    }

    /// Which policy decides for the device at `place`.
    #[inline(always)]
    pub(super) fn by(&self, place: u64) -> MadeBy {
        match &self.active.canary {
            Some(canary) if canary.selection.selects_place(place) => MadeBy::Candidate,
            _ => MadeBy::Active,
        }
    }

    /// The instance of the policy `by`.
    #[inline(always)]
    pub(super) fn decider(&mut self, by: MadeBy) -> &mut Decider {
        pick(&mut self.decider, &mut self.candidate, by)
    }

    /// Decides `request` with the policy `by`.
    #[inline]
    pub(super) fn decide(&mut self, by: MadeBy, request: &Request) -> Decision {
        let mut decision = pick(&mut self.decider, &mut self.candidate, by).decide(&self.lists, request);
        decision.made_by = by;
        decision
    }
}

/// The instance of the policy `by`: the candidate's while a canary runs, else the active policy's.
/// (A function of the fields, so a caller can borrow the lists beside it.)
#[inline(always)]
pub(super) fn pick<'a>(active: &'a mut Decider, candidate: &'a mut Option<Decider>, by: MadeBy) -> &'a mut Decider {
    match (by, candidate) {
        (MadeBy::Candidate, Some(candidate)) => candidate,
        _ => active,
    }
}

/// Where a worker finds instances made ready for it, and leaves those it no longer decides with.
#[derive(Default)]
pub(crate) struct Mailbox(Mutex<Slots>);

#[derive(Default)]
struct Slots {
    /// Made for the change being published (or the last one).
    ready: Option<Current>,
    /// Given back by the worker: the next change loads its lists into these when their policies still
    /// run.
    spare: Option<Current>,
    /// Instances neither slot has room for, dropped by the next change: freeing an instance's memory
    /// (tens of megabytes at a million entries) takes a millisecond, never a worker's. At most one per
    /// change the worker took since.
    retired: Vec<Current>,
}

impl Mailbox {
    fn slots(&self) -> MutexGuard<'_, Slots> {
        // The slots keep no invariant across a panic: each is whole or empty.
        self.0.locked()
    }

    /// The instances made for policy generation `policy` and lists generation `lists`, if they are
    /// here. Instances made for another change become the spare.
    pub(super) fn take(&self, policy: u64, lists: u64) -> Option<Current> {
        let mut slots = self.slots();
        let ready = slots.ready.take()?;
        if ready.is_for(policy, lists) {
            return Some(ready);
        }
        if let Some(displaced) = slots.spare.replace(ready) {
            slots.retired.push(displaced);
        }
        None
    }

    /// Keeps `old`, instances the worker no longer decides with, for the next change to load into
    /// (when the mailbox holds none already).
    pub(super) fn give_back(&self, old: Current) {
        let mut slots = self.slots();
        if slots.spare.is_none() {
            slots.spare = Some(old);
        } else {
            slots.retired.push(old);
        }
    }
}

/// The runtime's side: every live worker's mailbox. (One change at a time is prepared and published:
/// the runtime holds the fact store's lists lock for both.)
#[derive(Default)]
pub(crate) struct Preparer {
    mailboxes: Mutex<Vec<Weak<Mailbox>>>,
}

impl Preparer {
    /// A mailbox for a new worker.
    pub(crate) fn mailbox(&self) -> Arc<Mailbox> {
        let mailbox = Arc::new(Mailbox::default());
        let mut mailboxes = self.mailboxes.locked();
        // Departed workers' entries go as new ones come, so the list holds about the live workers.
        if mailboxes.len() >= 16 && mailboxes.len().is_power_of_two() {
            mailboxes.retain(|mailbox| mailbox.strong_count() > 0);
        }
        mailboxes.push(Arc::downgrade(&mailbox));
        mailbox
    }

    /// Makes every live worker's instances of `active`'s policies with `lists` loaded, and leaves them
    /// in its mailbox. Called with the lists lock held, before `active` and `lists` are published.
    /// Reuses a worker's spare instances when they are of the same policies. Returns how many workers
    /// it prepared for.
    pub(crate) fn prepare(&self, active: &Arc<Active>, lists: &Arc<FactSet>) -> usize {
        let live: Vec<Arc<Mailbox>> = {
            let mut mailboxes = self.mailboxes.locked();
            mailboxes.retain(|mailbox| mailbox.strong_count() > 0);
            mailboxes.iter().filter_map(Weak::upgrade).collect()
        };
        let workers = live.len();
        for mailbox in live {
            let (spare, retired) = {
                let mut slots = mailbox.slots();
                (slots.spare.take(), std::mem::take(&mut slots.retired))
            };
            drop(retired);
            let mut next = match spare {
                Some(mut spare) if spare.active.generation == active.generation => {
                    spare.lists = Arc::clone(lists);
                    spare
                }
                // Of other policies: dropped here, not on a worker's decision path.
                _ => Current::new(Arc::clone(active), Arc::clone(lists)),
            };
            // Loaded without the mailbox's lock: its worker keeps deciding meanwhile.
            next.load();
            let mut slots = mailbox.slots();
            let replaced = slots.ready.replace(next);
            let surplus = if slots.spare.is_none() { std::mem::replace(&mut slots.spare, replaced) } else { replaced };
            drop(slots);
            drop(surplus);
        }
        workers
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deciding::live::Runtime;

    #[test]
    fn a_worker_takes_only_the_instances_made_for_the_change_it_sees() {
        let engine = crate::Engine::new().expect("engine");
        let policy = engine.load_policy("reference", crate::bundled::REFERENCE).expect("loads");
        let runtime = Runtime::new(policy).expect("runtime");
        let active = runtime.active();
        let lists = runtime.lists();
        let preparer = Preparer::default();
        let mailbox = preparer.mailbox();
        preparer.prepare(&active, &lists);
        // Another change's generations: kept as the spare, not taken.
        assert!(mailbox.take(active.generation + 1, lists.generation()).is_none());
        assert!(mailbox.slots().spare.is_some());
        preparer.prepare(&active, &lists);
        let taken = mailbox.take(active.generation, lists.generation());
        assert!(taken.is_some_and(|current| current.is_for(active.generation, lists.generation())));
        mailbox.give_back(Current::new(Arc::clone(&active), Arc::clone(&lists)));
        // The replaced instances wait in the mailbox for the next change.
        assert!(mailbox.slots().spare.is_some());
        assert!(mailbox.slots().ready.is_none());
        // A departed worker's mailbox is not prepared for.
        drop(mailbox);
        preparer.prepare(&active, &lists);
        assert!(preparer.mailboxes.lock().expect("lock").is_empty());
    }
}
