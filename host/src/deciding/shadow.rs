//! The shadow beside a worker's decisions: which misses it sees (sampling), its answers asked one by one
//! or for a batch in one call, compared with the decisions made and counted.

use crate::deciding::instances::ShadowRun;
use crate::deciding::snapshot::Asked;
use crate::facts::FactSet;
use crate::telemetry::metrics::{self, Counters, SHADOW_AGREED, SHADOW_NONE, ShadowCode};
use crate::vocab::{Decision, MadeBy, Request};

impl ShadowRun {
    /// Whether the shadow sees this miss.
    #[inline]
    pub(super) fn sample(&mut self) -> bool {
        if self.every <= 1 {
            return true;
        }
        self.countdown = self.countdown.saturating_sub(1);
        if self.countdown == 0 {
            self.countdown = self.every;
            return true;
        }
        false
    }

    /// Compares the shadow's answer to `request` with `decision`: counts it, and gives the cache's code
    /// of it and what the log keeps (its answer when it differs or fails).
    pub(super) fn compare(
        &mut self,
        counters: &Counters,
        lists: &FactSet,
        request: &Request,
        decision: &Decision,
    ) -> (ShadowCode, Option<Decision>) {
        if !self.sample() {
            counters.shadow_skipped(1);
            return (SHADOW_NONE, None);
        }
        let answer = self.decider.decide(lists, request);
        judge(counters, decision, answer)
    }
}

/// The shadow's answers to a batch's asked flows, compared and counted: the cache's code and what the
/// log keeps, in `asked`'s order (`(SHADOW_NONE, None)` for a flow the shadow did not see). Asks the
/// shadow in one call, with the same requests (gathered into `gathered` when it does not see them all,
/// or they went to two policies).
#[cold]
#[inline(never)]
pub(super) fn shadow_batch(
    run: &mut ShadowRun,
    counters: &Counters,
    lists: &FactSet,
    batch: &Asked<'_>,
    gathered: (&mut Vec<usize>, &mut Vec<u64>, &mut Vec<Request>),
) -> Vec<(ShadowCode, Option<Decision>)> {
    let (picked, words, requests) = gathered;
    picked.clear();
    // Each asked flow's place among its policy's requests, and whether the shadow sees it.
    let mut places = [0; MadeBy::COUNT];
    let place: Vec<usize> = batch
        .asked
        .iter()
        .map(|&(_, _, by)| {
            places[by.index()] += 1;
            places[by.index()] - 1
        })
        .collect();
    for position in 0..batch.asked.len() {
        if run.sample() {
            picked.push(position);
        }
    }
    counters.shadow_skipped((batch.asked.len() - picked.len()) as u64);
    let mut results = vec![(SHADOW_NONE, None); batch.asked.len()];
    if picked.is_empty() {
        return results;
    }
    // Every flow went to the active policy and the shadow sees them all: the same requests as they are.
    let whole = picked.len() == batch.asked.len() && batch.answers[MadeBy::Candidate.index()].is_empty();
    let answers = if whole && batch.packed {
        run.decider.decide_words(lists, &batch.words[0])
    } else if whole {
        run.decider.decide_batch(lists, &batch.requests[0])
    } else {
        words.clear();
        requests.clear();
        for &position in picked.iter() {
            let (by, place) = (batch.asked[position].2, place[position]);
            if batch.packed {
                words.extend_from_slice(&batch.words[by.index()][2 * place..2 * place + 2]);
            } else {
                requests.push(batch.requests[by.index()][place]);
            }
        }
        if batch.packed { run.decider.decide_words(lists, words) } else { run.decider.decide_batch(lists, requests) }
    };
    for (&position, answer) in picked.iter().zip(answers) {
        let (by, place) = (batch.asked[position].2, place[position]);
        results[position] = judge(counters, &batch.answers[by.index()][place], answer);
    }
    results
}

/// Counts the shadow's `answer` against `decision`; the cache's code of it and what the log keeps.
#[inline]
pub(super) fn judge(counters: &Counters, decision: &Decision, answer: Decision) -> (ShadowCode, Option<Decision>) {
    if let Some(fault) = &answer.fault {
        // A fault is not cached: the next miss asks a fresh instance.
        counters.shadow_fault(fault);
        return (SHADOW_NONE, Some(answer));
    }
    let code = metrics::shadow_code(decision, &answer);
    counters.shadow(code);
    (code, (code != SHADOW_AGREED).then_some(answer))
}

/// The shadow's answer a cache entry keeps, as the log writes it: a disagreement's action and reason.
pub(super) fn shadow_of(code: ShadowCode) -> Option<Decision> {
    metrics::shadow_outcome(code).map(|(action, reason)| Decision::new(action, reason))
}
