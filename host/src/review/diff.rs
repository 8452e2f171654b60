//! `diff`: where two policies decide otherwise, over the request space that matters for a set of lists
//! (`space`), so an operator sees what a new policy changes before shipping it.

use crate::facts::FactSet;
use crate::facts::files::RequestFile;
use crate::review::space::request_space;
use crate::review::{Outcome, Tally};
use crate::vocab::{Event, Request};
use crate::wasm::policy::Policy;

/// Requests asked of each policy per call.
const CHUNK: usize = 4096;

/// What `diff` found.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct PolicyDiff {
    /// The first policy's name.
    pub a: String,
    /// The second's.
    pub b: String,
    /// Requests compared.
    pub requests: u64,
    /// Of them, decided otherwise.
    pub differing: u64,
    /// The differences, most frequent first.
    pub differences: Vec<Difference>,
}

/// One way the policies differ, and how often.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Difference {
    /// What the first policy decides.
    pub a: Outcome,
    /// What the second decides.
    pub b: Outcome,
    /// On how many requests.
    pub count: u64,
    /// Up to three of them, as request files write them.
    pub examples: Vec<RequestFile>,
}

/// A request space too large to walk.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "the lists span {requests} requests, more than the limit of {limit}: diff against a facts file with fewer networks and servers (the ones the change is about), or raise the limit (`--max-requests`)"
)]
pub struct SpaceTooLarge {
    /// The requests the lists span.
    pub requests: u64,
    /// The limit.
    pub limit: u64,
}

/// Compares `a` and `b` over the request space of `lists`, unless it holds more than `limit`
/// requests (each policy decides every one: about a microsecond each).
pub fn diff(a: &Policy, b: &Policy, lists: &FactSet, limit: u64) -> Result<PolicyDiff, SpaceTooLarge> {
    let space = request_space(lists);
    let requests = space.len();
    if requests > limit {
        return Err(SpaceTooLarge { requests, limit });
    }
    let lists = &space.lists;
    let (mut decide_a, mut decide_b) = (a.decider(), b.decider());
    let mut differences = Tally::new();
    let mut differing = 0;
    space.for_each_chunk(CHUNK, |chunk| {
        let (answers_a, answers_b) = (decide_a.decide_batch(lists, chunk), decide_b.decide_batch(lists, chunk));
        for ((request, da), db) in chunk.iter().zip(answers_a).zip(answers_b) {
            if da.same_outcome(&db) {
                continue;
            }
            differing += 1;
            differences.add((da.action, da.reason), (db.action, db.reason), || written(lists, request));
        }
    });
    let differences = differences
        .into_sorted()
        .into_iter()
        .map(|(a, b, count, examples)| Difference { a, b, count, examples })
        .collect();
    Ok(PolicyDiff { a: a.name().to_owned(), b: b.name().to_owned(), requests, differing, differences })
}

/// `request` as a request file writes it.
pub(crate) fn written(lists: &FactSet, request: &Request) -> RequestFile {
    let (access_integrity, end_to_end) = match request.event {
        Event::ReceiveTrigger(check) => (Some(check.access_integrity), Some(check.end_to_end)),
        _ => (None, None),
    };
    RequestFile {
        role: request.role,
        event: request.event.kind(),
        server: lists
            .server(request.server)
            .cloned()
            .unwrap_or_else(|| crate::vocab::Fqdn::known_valid("unnamed.invalid")),
        device: None,
        serving: request.attach.serving,
        home: Some(request.attach.home),
        access: Some(request.attach.access),
        ciphering: request.link.map(|link| link.ciphering),
        integrity: request.link.map(|link| link.integrity),
        access_integrity,
        end_to_end,
        registration: Some(request.registration),
    }
}
