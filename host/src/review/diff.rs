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

/// Compares `a` and `b` over the request space of `lists`.
pub fn diff(a: &Policy, b: &Policy, lists: &FactSet) -> PolicyDiff {
    let (lists, requests) = request_space(lists);
    let (mut decide_a, mut decide_b) = (a.decider(), b.decider());
    let mut differences = Tally::new();
    let mut differing = 0;
    for chunk in requests.chunks(CHUNK) {
        let (answers_a, answers_b) = (decide_a.decide_batch(&lists, chunk), decide_b.decide_batch(&lists, chunk));
        for ((request, da), db) in chunk.iter().zip(answers_a).zip(answers_b) {
            if da.same_outcome(&db) {
                continue;
            }
            differing += 1;
            differences.add((da.action, da.reason), (db.action, db.reason), || written(&lists, request));
        }
    }
    let differences = differences
        .into_sorted()
        .into_iter()
        .map(|(a, b, count, examples)| Difference { a, b, count, examples })
        .collect();
    PolicyDiff {
        a: a.name().to_owned(),
        b: b.name().to_owned(),
        requests: requests.len() as u64,
        differing,
        differences,
    }
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
        ciphering: Some(request.link.ciphering),
        integrity: Some(request.link.integrity),
        access_integrity,
        end_to_end,
        registration: Some(request.registration),
    }
}
