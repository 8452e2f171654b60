//! `replay`: re-decides every decision of a log with a candidate policy, on the lists each was made on
//! (found by their content digest among the facts files and list bundles at hand), and reports what
//! would change.

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;

use crate::facts::{FactSet, ListsDigest};
use crate::review::logged::{LogLine, LogReadError, LoggedDecision, read_lines};
use crate::review::{Outcome as Made, Tally};
use crate::vocab::{Decision, Fqdn, Reason, Request, ServerId};
use crate::wasm::decider::Decider;
use crate::wasm::policy::Policy;

/// The lists a replay can decide on, by content digest.
#[derive(Default)]
pub struct ListsAtHand {
    by_digest: HashMap<ListsDigest, (String, FactSet)>,
}

impl ListsAtHand {
    /// No lists yet.
    pub fn new() -> ListsAtHand {
        ListsAtHand::default()
    }

    /// Adds `lists`, which `source` (a file's name) held; returns their digest.
    pub fn add(&mut self, source: &str, lists: FactSet) -> ListsDigest {
        let digest = lists.lists_digest();
        self.by_digest.entry(digest).or_insert_with(|| (source.to_owned(), lists));
        digest
    }

    /// The lists of `digest`, if at hand.
    pub fn get(&self, digest: &ListsDigest) -> Option<&FactSet> {
        self.by_digest.get(digest).map(|(_, lists)| lists)
    }

    /// How many distinct lists are at hand.
    pub fn len(&self) -> usize {
        self.by_digest.len()
    }

    /// No lists are at hand.
    pub fn is_empty(&self) -> bool {
        self.by_digest.is_empty()
    }
}

/// What replaying a log found.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReplayReport {
    /// The candidate policy's name.
    pub policy: String,
    /// Decisions read from the log.
    pub decisions: u64,
    /// Decisions the candidate made the same (action and reason).
    pub identical: u64,
    /// Decisions the candidate made otherwise.
    pub changed: u64,
    /// Decisions the engine made before asking any policy (unknown attach facts, a re-registration due,
    /// stale fed facts): the same under any policy.
    pub engine_decided: u64,
    /// Decisions that could not be replayed, by why.
    pub not_replayable: BTreeMap<String, u64>,
    /// Digests of lists the log names that were not at hand, with how many decisions each held back:
    /// bring the facts file or bundle that has them.
    pub missing_lists: BTreeMap<String, u64>,
    /// Decisions the log says it dropped (never logged, so never replayed).
    pub dropped: u64,
    /// The changes, most frequent first.
    pub changes: Vec<Change>,
}

impl ReplayReport {
    /// Identical decisions as a share of those replayed, in percent (100 when none was).
    pub fn identical_percent(&self) -> f64 {
        let replayed = self.identical + self.changed;
        if replayed == 0 { 100.0 } else { self.identical as f64 * 100.0 / replayed as f64 }
    }
}

/// One way the candidate decides otherwise, and how often.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    /// The logged action and reason.
    pub from: Made,
    /// The candidate's.
    pub to: Made,
    /// How many decisions.
    pub count: u64,
    /// Up to three devices it changed for (their names, or `#<line>` when unnamed).
    pub examples: Vec<String>,
}

/// Why a decision is not replayable.
const FAULT: &str = "recorded a policy fault";
const NO_LISTS_DIGEST: &str = "no lists digest (a log older than format 3)";
const LISTS_NOT_AT_HAND: &str = "its lists are not at hand";
const NO_FACTS: &str = "no request facts (a log older than format 3, or facts that changed before it was logged)";

/// Replays `log` (named `name` in errors) with `policy` on `lists`.
pub fn replay(
    name: &str,
    log: impl BufRead,
    policy: &Policy,
    lists: &ListsAtHand,
) -> Result<ReplayReport, LogReadError> {
    let mut replayer = Replayer { decider: policy.decider(), lists, memo: HashMap::new(), servers: HashMap::new() };
    let mut report = ReplayReport { policy: policy.name().to_owned(), ..ReplayReport::default() };
    let mut changes = Tally::new();
    read_lines(name, log, |line| {
        let logged = match line {
            LogLine::Dropped(n) => {
                report.dropped += n;
                return;
            }
            LogLine::Decision(logged) => logged,
        };
        report.decisions += 1;
        let decision = match replayer.replay(&logged) {
            Outcome::Decided(decision) => decision,
            Outcome::Engine => {
                report.engine_decided += 1;
                return;
            }
            Outcome::NotReplayable(why) => {
                *report.not_replayable.entry(why.to_owned()).or_default() += 1;
                if why == LISTS_NOT_AT_HAND
                    && let Some(digest) = logged.lists
                {
                    *report.missing_lists.entry(digest.to_string()).or_default() += 1;
                }
                return;
            }
        };
        let from = (logged.action, logged.reason);
        let to = (decision.action, decision.reason);
        if from == to {
            report.identical += 1;
            return;
        }
        report.changed += 1;
        changes.add(from, to, || logged.device.clone().unwrap_or_else(|| format!("#{}", logged.line)));
    })?;
    report.changes = changes
        .into_sorted()
        .into_iter()
        .map(|(from, to, count, examples)| Change { from, to, count, examples })
        .collect();
    Ok(report)
}

/// What replaying one decision gave.
enum Outcome {
    Decided(Decision),
    Engine,
    NotReplayable(&'static str),
}

/// The candidate's decider, and what it already decided (logs repeat flows: every cache hit).
struct Replayer<'a> {
    decider: Decider,
    lists: &'a ListsAtHand,
    memo: HashMap<(ListsDigest, Request), Decision>,
    /// A handle for each server a set of lists does not name (they find no List 2 entry).
    servers: HashMap<(ListsDigest, Fqdn), ServerId>,
}

impl Replayer<'_> {
    fn replay(&mut self, logged: &LoggedDecision) -> Outcome {
        if matches!(logged.reason, Reason::AttachUnknown | Reason::RegistrationPending | Reason::FactsStale) {
            return Outcome::Engine;
        }
        if logged.fault.is_some() || logged.reason == Reason::PolicyFault {
            return Outcome::NotReplayable(FAULT);
        }
        let Some(digest) = logged.lists else { return Outcome::NotReplayable(NO_LISTS_DIGEST) };
        let Some(lists) = self.lists.get(&digest) else { return Outcome::NotReplayable(LISTS_NOT_AT_HAND) };
        let Some((attach, link, registration)) = logged.facts else { return Outcome::NotReplayable(NO_FACTS) };
        let server = match &logged.server {
            Some(fqdn) => match lists.server_id(fqdn) {
                Some(server) => server,
                None => {
                    let next = ServerId::from_raw(u32::MAX - self.servers.len() as u32);
                    *self.servers.entry((digest, fqdn.clone())).or_insert(next)
                }
            },
            None => ServerId::from_raw(u32::MAX),
        };
        let request = Request { role: logged.role, event: logged.event, server, attach, link, registration };
        if let Some(decision) = self.memo.get(&(digest, request)) {
            return Outcome::Decided(decision.clone());
        }
        let decision = self.decider.decide(lists, &request);
        if decision.fault.is_none() {
            self.memo.insert((digest, request), decision.clone());
        }
        Outcome::Decided(decision)
    }
}
