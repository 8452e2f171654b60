//! The decision log's records of a worker's decisions: a single decision, a cache hit, and a batch (its
//! records made on the log's thread from what the batch copied, so the decision path only copies).

use crate::deciding::cache::FlowCache;
use crate::deciding::live::{Runtime, WeakRuntime};
use crate::deciding::shadow::shadow_of;
use crate::deciding::snapshot::{AskedFlow, request, snapshot};
use crate::facts::{FactSet, ListsDigest};
use crate::store::device::DeviceSlot;
use crate::store::flow::{Flow, Stamp};
use crate::telemetry::log::{LogSender, LoggedRequest, Record};
use crate::telemetry::metrics::ShadowCode;
use crate::vocab::{Decision, MadeBy, Reason, Request};

/// A log record of `decision` for `flow`, made on `stamp` (and on the feed revision its device's facts
/// are at now, if fed), without its request, lists digest or shadow answer.
pub(super) fn record(runtime: &Runtime, flow: &Flow, stamp: Stamp, cached: bool, decision: &Decision) -> Record {
    let revision = runtime.slot(flow.device).map_or(0, DeviceSlot::revision);
    Record {
        flow: *flow,
        stamp,
        revision,
        cached,
        decision: decision.clone(),
        request: LoggedRequest::None,
        lists: None,
        shadow: None,
    }
}

/// A log record of a decision made on `stamp` whose request is read back from the live facts: they
/// are the ones it was made on while the device's and the lists' generations are still the stamp's
/// (a decision the cache answered, or a batch's flow the engine decided before any policy; the flows a
/// batch asked log the words they were asked instead). When they moved on in between, the record has
/// no request (replay counts it as not replayable) rather than a wrong one.
pub(super) fn record_read_back(
    runtime: &Runtime,
    flow: &Flow,
    stamp: Stamp,
    cached: bool,
    decision: &Decision,
) -> Record {
    read_back(runtime, &runtime.lists(), flow, stamp, cached, decision)
}

/// [`record_read_back`] with the runtime's lists as they are now, `lists` (read once for a batch).
pub(super) fn read_back(
    runtime: &Runtime,
    lists: &FactSet,
    flow: &Flow,
    stamp: Stamp,
    cached: bool,
    decision: &Decision,
) -> Record {
    let mut record = record(runtime, flow, stamp, cached, decision);
    if lists.generation() == stamp.lists {
        record.lists = Some(lists.lists_digest());
        let snapshot = snapshot(runtime, flow, runtime.epoch(), lists, stamp.policy);
        record.request = snapshot
            .filter(|snapshot| snapshot.stamp.device == stamp.device && !before_policy(decision.reason))
            .and_then(|snapshot| request(flow, &snapshot))
            .into();
    }
    record
}

/// The engine decided without asking a policy, on facts it lacked or no longer trusted.
pub(super) fn before_policy(reason: Reason) -> bool {
    matches!(reason, Reason::AttachUnknown | Reason::FactsStale | Reason::RegistrationPending)
}

/// Logs a decision the cache answered, with what it was made on (a default stamp if the entry is gone:
/// it cannot be, nothing is cached in between) and the shadow's answer cached with it.
#[cold]
#[inline(never)]
pub(super) fn log_hit(log: &LogSender, runtime: &Runtime, cache: &FlowCache, flow: &Flow, decision: &Decision) {
    let (stamp, shadow) = cache.made(flow).unwrap_or_default();
    log.one(Record { shadow: shadow_of(shadow), ..record_read_back(runtime, flow, stamp, true, decision) });
}

/// The hits of a batch, by index, with what each cached decision was made on and the shadow's answer
/// cached with it (only the hits: a batch the cache missed whole costs nothing here).
#[inline(never)]
pub(super) fn hit_stamps(cache: &FlowCache, flows: &[Flow], missed: &[usize]) -> Vec<(u32, Stamp, ShadowCode)> {
    if missed.len() == flows.len() {
        return Vec::new();
    }
    // `missed` is in flow order: only the flows between its entries were hits.
    let mut missed = missed.iter().copied().peekable();
    let mut stamps = Vec::with_capacity(flows.len() - missed.len());
    for (index, flow) in flows.iter().enumerate() {
        if missed.next_if_eq(&index).is_none() {
            let (stamp, shadow) = cache.made(flow).unwrap_or_default();
            stamps.push((index as u32, stamp, shadow));
        }
    }
    stamps
}

/// What a batch's log records are made from, copied from the worker's scratch (the decision path only
/// copies): the log's thread makes the records ([`BatchLog::records`]).
pub(super) struct BatchLog {
    pub(super) runtime: WeakRuntime,
    pub(super) flows: Vec<Flow>,
    pub(super) decisions: Vec<Decision>,
    /// The hits, by index, with what each was made on and its shadow code.
    pub(super) hits: Vec<(u32, Stamp, ShadowCode)>,
    /// The flows asked of a policy, and the requests put to each policy (in `asked`'s order within
    /// each): packed words, or records for a policy without the packed batch.
    pub(super) asked: Vec<AskedFlow>,
    pub(super) words: [Vec<u64>; MadeBy::COUNT],
    pub(super) requests: [Vec<Request>; MadeBy::COUNT],
    /// The digest of the lists the asked flows were decided on.
    pub(super) lists: Option<ListsDigest>,
    /// The lists and policy the flows with unknown facts were decided under.
    pub(super) missed: Stamp,
    /// The shadow's answers, in `asked`'s order.
    pub(super) shadows: Vec<(ShadowCode, Option<Decision>)>,
}

impl BatchLog {
    /// A batch the cache answered whole.
    pub(super) fn hits(
        runtime: &Runtime,
        flows: &[Flow],
        decisions: &[Decision],
        hits: Vec<(u32, Stamp, ShadowCode)>,
    ) -> BatchLog {
        BatchLog {
            runtime: runtime.downgrade(),
            flows: flows.to_vec(),
            decisions: decisions.to_vec(),
            hits,
            asked: Vec::new(),
            words: Default::default(),
            requests: Default::default(),
            lists: None,
            missed: Stamp::default(),
            shadows: Vec::new(),
        }
    }

    /// The request put to policy `by` in its `place` (packed words are decoded when the line is
    /// written).
    pub(super) fn request(&self, by: MadeBy, place: usize) -> LoggedRequest {
        match self.words[by.index()].get(2 * place..2 * place + 2) {
            Some(&[first, second]) => LoggedRequest::Packed([first, second]),
            _ => self.requests[by.index()].get(place).copied().into(),
        }
    }

    /// The records, on the log's thread: hits with what they were cached on (their requests read back
    /// from the live facts while these are still what they were made on), the policies' answers with
    /// the very requests they were asked and the lists' digest (and the shadow's answers), and flows
    /// with unknown facts with the batch's lists and policy. The fact-feed revision is read when the
    /// record is made. Once the runtime is gone, the records keep only what the batch copied.
    #[cold]
    #[inline(never)]
    pub(super) fn records(mut self) -> Vec<Record> {
        let runtime = self.runtime.upgrade();
        let lists_now = runtime.as_ref().map(Runtime::lists);
        let made = |flow: &Flow, stamp: Stamp, cached: bool, decision: &Decision| match &runtime {
            Some(runtime) => record(runtime, flow, stamp, cached, decision),
            None => Record {
                flow: *flow,
                stamp,
                revision: 0,
                cached,
                decision: decision.clone(),
                request: LoggedRequest::None,
                lists: None,
                shadow: None,
            },
        };
        let read = |flow: &Flow, stamp: Stamp, cached: bool, decision: &Decision| match (&runtime, &lists_now) {
            (Some(runtime), Some(lists)) => read_back(runtime, lists, flow, stamp, cached, decision),
            _ => made(flow, stamp, cached, decision),
        };
        let mut places = [0; MadeBy::COUNT];
        let mut next = self.asked.iter().enumerate().peekable();
        let mut hits = self.hits.iter().peekable();
        let mut records = Vec::with_capacity(self.flows.len());
        for (index, (flow, decision)) in self.flows.iter().zip(&self.decisions).enumerate() {
            let hit = hits.next_if(|&&(hit, ..)| hit as usize == index);
            let record = match (hit, next.peek()) {
                (Some(&(_, stamp, shadow)), _) => {
                    Record { shadow: shadow_of(shadow), ..read(flow, stamp, true, decision) }
                }
                (None, Some(&(position, &(asked_index, ref made_on, by)))) if asked_index as usize == index => {
                    let shadow = self.shadows.get_mut(position).and_then(|(_, answer)| answer.take());
                    let place = places[by.index()];
                    places[by.index()] += 1;
                    next.next();
                    Record {
                        shadow,
                        request: self.request(by, place),
                        lists: self.lists,
                        ..made(flow, made_on.stamp, false, decision)
                    }
                }
                (None, _) => read(flow, self.missed, false, decision),
            };
            records.push(record);
        }
        records
    }
}
