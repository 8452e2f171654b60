//! The host-held admission state of a runtime (shared by its workers): the back-offs servers gave
//! devices, and each server's trigger submissions counted over its quota period and rate window. Each
//! table is whole between statements, so a lock that outlived a panic holds no half-made entry.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::time::{Duration, UNIX_EPOCH};

use super::{
    Admission, AdmissionLimits, AdmissionRequest, AdmissionStats, AdmissionVerdict, BackOff, ExternalId,
    FAIL_CLOSED_BACK_OFF, RejectCause, SubmissionVerdict, TriggerLimits, TriggerSubmission,
};
use crate::related::Tally;
use crate::sync::Locked;
use crate::vocab::{Fqdn, ServerId};

/// How many recorded back-offs wait for a slow subscriber before they are dropped for it.
const BACK_OFF_QUEUE: usize = 4096;

/// The host-held admission state of a runtime: back-offs and submission counts.
pub(crate) struct AdmissionState {
    limits: AdmissionLimits,
    /// Subscribers to the back-offs this runtime records ([`Runtime::back_offs`](crate::Runtime::back_offs)).
    subscribers: Mutex<Vec<SyncSender<BackOff>>>,
    back_offs: Mutex<HashMap<(ExternalId, ServerId), u64>>,
    /// The second the back-off table was last purged of ended entries.
    purged: AtomicU64,
    servers: Mutex<HashMap<ServerId, Counts>>,
    stats: Tally<STATS>,
}

const STATS: usize = 10;
const RECORDED: usize = 0;
const BACKING_OFF: usize = 1;
const BACK_OFFS_FULL: usize = 2;
const SUBSCRIPTION: usize = 3;
const WITHOUT_ASKING: usize = 4;
const COUNTERS_FULL: usize = 5;
const ACCEPTED: usize = 6;
const REFUSED: usize = 7;
const IMPORTED: usize = 8;
const NOT_SENT: usize = 9;

impl Default for AdmissionState {
    fn default() -> AdmissionState {
        AdmissionState::new(AdmissionLimits::default())
    }
}

/// A server's submissions: the quota period's start and accepted count, and per-second submission
/// counts over the rate window (a ring, one slot per second).
struct Counts {
    period_start: u64,
    accepted: u32,
    ring: Box<[u32]>,
    /// The second the ring's newest slot counts.
    newest: u64,
}

impl Counts {
    fn new(limits: &TriggerLimits, now: u64) -> Counts {
        let window = limits.rate_window.as_secs().clamp(1, 3_600) as usize;
        Counts { period_start: now, accepted: 0, ring: vec![0; window].into_boxed_slice(), newest: now }
    }

    /// Moves the ring to `now` (clearing the seconds that passed) and the quota period on if it ended.
    fn advance(&mut self, limits: &TriggerLimits, now: u64) {
        let period = limits.period.as_secs().max(1);
        if now >= self.period_start + period {
            self.period_start = now - (now - self.period_start) % period;
            self.accepted = 0;
        }
        let len = self.ring.len() as u64;
        if now > self.newest {
            let passed = (now - self.newest).min(len);
            for second in 1..=passed {
                self.ring[((self.newest + second) % len) as usize] = 0;
            }
            self.newest = now;
        }
    }

    fn in_window(&self) -> u32 {
        self.ring.iter().fold(0u32, |sum, &count| sum.saturating_add(count))
    }
}

impl AdmissionState {
    pub(crate) fn new(limits: AdmissionLimits) -> AdmissionState {
        AdmissionState {
            limits,
            subscribers: Mutex::default(),
            back_offs: Mutex::default(),
            purged: AtomicU64::new(u64::MAX),
            servers: Mutex::default(),
            stats: Tally::default(),
        }
    }

    /// A receiver of the back-offs recorded from now on ([`Runtime::back_offs`](crate::Runtime::back_offs)).
    pub(super) fn subscribe(&self) -> Receiver<BackOff> {
        let (sender, receiver) = mpsc::sync_channel(BACK_OFF_QUEUE);
        self.subscribers.locked().push(sender);
        receiver
    }

    pub(super) fn count(&self, stat: usize) {
        self.stats.add(stat);
    }

    /// The engine's answer to `request` before any server is asked, and whether the server may be
    /// asked: the device's live back-off, the subscription's permission, no question at all, a full
    /// back-off table. `None`: ask the policy.
    pub(super) fn before(&self, request: &AdmissionRequest, now: u64) -> Option<AdmissionVerdict> {
        let key = (request.external_id.clone(), request.server);
        {
            let mut back_offs = self.back_offs.locked();
            match back_offs.get(&key) {
                Some(&until) if until > now => {
                    self.count(BACKING_OFF);
                    let back_off = Some(Duration::from_secs(until - now));
                    return Some(AdmissionVerdict::engine(Admission::Reject {
                        cause: RejectCause::BackingOff,
                        back_off,
                    }));
                }
                Some(_) => {
                    back_offs.remove(&key);
                }
                None => {}
            }
        }
        if let Some(verdict) = without_asking(request) {
            let stat =
                if verdict.admission == (Admission::Allow { name: None }) { WITHOUT_ASKING } else { SUBSCRIPTION };
            self.count(stat);
            return Some(verdict);
        }
        let mut back_offs = self.back_offs.locked();
        if back_offs.len() >= self.limits.back_offs {
            self.purge(&mut back_offs, now);
            if back_offs.len() >= self.limits.back_offs {
                self.count(BACK_OFFS_FULL);
                let back_off = Some(FAIL_CLOSED_BACK_OFF);
                return Some(AdmissionVerdict::engine(Admission::Reject {
                    cause: RejectCause::BackOffsFull,
                    back_off,
                }));
            }
        }
        None
    }

    /// Drops the ended back-offs of a full table — at most once a second: a table full of live
    /// back-offs refuses cheaply instead of scanning every entry for every attach.
    pub(super) fn purge(&self, back_offs: &mut HashMap<(ExternalId, ServerId), u64>, now: u64) {
        if self.purged.swap(now, Ordering::Relaxed) != now {
            back_offs.retain(|_, until| *until > now);
        }
    }

    /// Records the back-off of a server's rejection (not the engine's: a fixed policy should not find
    /// its devices locked out), and sends it to the subscribers (`server` names the server for them).
    pub(super) fn after(
        &self,
        request: &AdmissionRequest,
        verdict: &AdmissionVerdict,
        now: u64,
        server: Option<&Fqdn>,
    ) {
        if let Admission::Reject { cause, back_off: Some(back_off) } = verdict.admission
            && cause.from_server()
            && verdict.fault.is_none()
            && back_off.as_secs() > 0
        {
            let until = now.saturating_add(back_off.as_secs());
            // `before` left room (one decision at a time may take the last slot: the bound is exceeded
            // by at most the number of workers deciding at once).
            self.back_offs.locked().insert((request.external_id.clone(), request.server), until);
            self.count(RECORDED);
            if let Some(server) = server {
                let back_off = BackOff {
                    external_id: request.external_id.clone(),
                    server: server.clone(),
                    until: UNIX_EPOCH + Duration::from_secs(until),
                };
                self.subscribers.locked().retain(|subscriber| match subscriber.try_send(back_off.clone()) {
                    Ok(()) => true,
                    Err(TrySendError::Full(_)) => {
                        self.count(NOT_SENT);
                        true
                    }
                    Err(TrySendError::Disconnected(_)) => false,
                });
            }
        }
    }

    /// Takes a back-off another runtime recorded: kept when it ends later than the one held; refused
    /// (`Ok(false)`, counted as full) when the table is full of live back-offs.
    pub(super) fn import(&self, external_id: &ExternalId, server: ServerId, until: u64, now: u64) -> bool {
        if until <= now {
            return true;
        }
        let mut back_offs = self.back_offs.locked();
        let key = (external_id.clone(), server);
        if !back_offs.contains_key(&key) && back_offs.len() >= self.limits.back_offs {
            self.purge(&mut back_offs, now);
            if back_offs.len() >= self.limits.back_offs {
                self.count(BACK_OFFS_FULL);
                return false;
            }
        }
        let held = back_offs.entry(key).or_insert(until);
        *held = (*held).max(until);
        self.count(IMPORTED);
        true
    }

    /// Counts a submission by `server` at `now` and gives what the policy is asked; `None` when the
    /// table is full and the server is not in it.
    pub(super) fn submission(&self, server: ServerId, fqdn: Option<&Fqdn>, now: u64) -> Option<TriggerSubmission> {
        let limits = self.limits.for_server(fqdn);
        let mut servers = self.servers.locked();
        if !servers.contains_key(&server) && servers.len() >= self.limits.servers {
            self.count(COUNTERS_FULL);
            return None;
        }
        let counts = servers.entry(server).or_insert_with(|| Counts::new(&limits, now));
        counts.advance(&limits, now);
        let newest = (counts.newest % counts.ring.len() as u64) as usize;
        counts.ring[newest] = counts.ring[newest].saturating_add(1);
        let period = limits.period.as_secs().max(1);
        Some(TriggerSubmission {
            server,
            accepted_this_period: counts.accepted,
            quota: limits.quota,
            period_resets_in: u32::try_from(counts.period_start + period - now).unwrap_or(u32::MAX),
            submitted_in_window: counts.in_window(),
            rate_limit: limits.rate_limit,
            rate_window_seconds: counts.ring.len() as u32,
        })
    }

    pub(super) fn submitted(&self, submission: &TriggerSubmission, verdict: &SubmissionVerdict) {
        if verdict.accept {
            if let Some(counts) = self.servers.locked().get_mut(&submission.server) {
                counts.accepted = counts.accepted.saturating_add(1);
            }
            self.count(ACCEPTED);
        } else {
            self.count(REFUSED);
        }
    }

    pub(super) fn stats(&self) -> AdmissionStats {
        let get = |stat: usize| self.stats.get(stat);
        AdmissionStats {
            back_offs_held: self.back_offs.locked().len() as u64,
            back_offs_recorded: get(RECORDED),
            refused_backing_off: get(BACKING_OFF),
            refused_back_offs_full: get(BACK_OFFS_FULL),
            refused_subscription: get(SUBSCRIPTION),
            admitted_without_asking: get(WITHOUT_ASKING),
            servers_counted: self.servers.locked().len() as u64,
            refused_counters_full: get(COUNTERS_FULL),
            back_offs_imported: get(IMPORTED),
            back_offs_not_sent: get(NOT_SENT),
            submissions_accepted: get(ACCEPTED),
            submissions_refused: get(REFUSED) + get(COUNTERS_FULL),
        }
    }
}

/// The engine's answer when the server is not to be asked: the subscription forbids the server (002,
/// FIG. 7A step 255), or neither the flag nor a named server calls for the question (step 256: the
/// device attaches; a name it proposed is not granted, since no server saw it).
pub(super) fn without_asking(request: &AdmissionRequest) -> Option<AdmissionVerdict> {
    if !request.server_permitted {
        let admission = Admission::Reject { cause: RejectCause::SubscriptionForbids, back_off: None };
        return Some(AdmissionVerdict::engine(admission));
    }
    (!request.asks_server()).then(|| AdmissionVerdict::engine(Admission::Allow { name: None }))
}
