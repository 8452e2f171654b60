//! Reviewing a policy before it ships: replaying a decision log against a candidate (`replay`) and
//! comparing two policies over the request space that matters for a set of lists (`diff`). Offline
//! tools: they read logs, facts files and list bundles, and decide with their own deciders, never with
//! a live runtime. Uses the runtime's log format, the facts, `delivery`, `wasm` and the vocabulary.

pub(crate) mod diff;
pub(crate) mod logged;
pub(crate) mod replay;
pub(crate) mod space;

pub use diff::{Difference, PolicyDiff, SpaceTooLarge, diff};
pub use logged::{LogReadError, LoggedDecision, read_log};
pub use replay::{Change, ListsAtHand, ReplayReport, replay};
pub use space::{RequestSpace, UNLISTED_SERVER, request_space};

use std::collections::BTreeMap;

use crate::vocab::{Action, Reason};

/// A decision's action and reason: what a replay or a diff compares.
pub type Outcome = (Action, Reason);

/// Decisions that went one way rather than another, counted by (first, second) with a few examples —
/// how a replay tallies its changes and a diff its differences.
pub(crate) struct Tally<E> {
    groups: BTreeMap<(Outcome, Outcome), (u64, Vec<E>)>,
}

/// Examples kept per group.
const EXAMPLES: usize = 3;

impl<E: PartialEq> Tally<E> {
    pub(crate) fn new() -> Tally<E> {
        Tally { groups: BTreeMap::new() }
    }

    /// Counts one decision that went `from` one way `to` another; `example` names it (kept while the
    /// group has fewer than three distinct ones).
    pub(crate) fn add(&mut self, from: Outcome, to: Outcome, example: impl FnOnce() -> E) {
        let (count, examples) = self.groups.entry((from, to)).or_insert_with(|| (0, Vec::new()));
        *count += 1;
        if examples.len() < EXAMPLES {
            let example = example();
            if !examples.contains(&example) {
                examples.push(example);
            }
        }
    }

    /// The groups, most frequent first (ties in outcome order).
    pub(crate) fn into_sorted(self) -> Vec<(Outcome, Outcome, u64, Vec<E>)> {
        let mut groups: Vec<_> =
            self.groups.into_iter().map(|((from, to), (count, examples))| (from, to, count, examples)).collect();
        groups.sort_by(|a, b| b.2.cmp(&a.2).then_with(|| (a.0, a.1).cmp(&(b.0, b.1))));
        groups
    }
}
