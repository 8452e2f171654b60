//! The trigger guard (`pathsec:policy/trigger-guard`): may a device act on a trigger that arrived
//! with GBA push protection? An optional export; without it every trigger is discarded.
//!
//! After 003 (US 2014/0134995): the bootstrapping function puts the trigger indication and the trigger
//! time into the GBA push information (GPI, Table 1), the server pushes it to the device, and the
//! device stores a security association from it (step 406, Table 2) and sends to the server for the
//! trigger time (step 407). The **host** keeps each device's push associations
//! ([`Worker::receive_push`]): per device and server, the key's lifetime and a replay window over the
//! GPI's sequence (the AKA sequence number its AUTN carries), so a replayed GPI is discarded without
//! asking the policy and the policy is given verified facts; and it keeps the trigger time after an
//! accepted trigger ([`Runtime::triggered_until`]): sends in it count as triggered, sends after it as
//! if there had been no trigger. The associations are bounded ([`RuntimeBuilder::push_associations`]):
//! when full the least recently used association is evicted whole; everything counted
//! ([`PushStats`]).

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use wasmtime::Store;

use super::bounded::Recent;
use super::{Interface, Tally};
use crate::facts::FactSet;
use crate::runtime::{DeviceId, Runtime, RuntimeBuilder, UnknownDeviceError, Worker};
use crate::sync::Locked;
use crate::vocab::named::named_enum;
use crate::vocab::{PolicyFault, ServerId, write_fault};
use crate::wasm::Decider;
use crate::wasm::plug::{RelatedDecision, Verdict};
use crate::wasm::sandbox::StoreState;
use crate::wasm::wit::{self, exports::pathsec::policy::trigger_guard as guard};

/// What the device found checking a trigger's GBA push protection (the GPI).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PushProtection {
    /// The GPI's MAC verified with the push key the device holds for the sending server.
    pub mac_verified: bool,
    /// The trigger's fields (application port, payload) are inside what the MAC covers.
    pub fields_covered: bool,
    /// The push key's lifetime had ended when the trigger arrived.
    pub key_expired: bool,
}

/// When a trigger may be acted on, in whole seconds relative to its arrival.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    opens_in: i64,
    closes_in: i64,
}

impl Window {
    /// A window that opens `opens_in` seconds after the trigger arrived (0 or less: already open) and
    /// closes `closes_in` seconds after (less than 0: already closed). `None` when it would close
    /// before it opens.
    pub fn new(opens_in: i64, closes_in: i64) -> Option<Window> {
        (opens_in <= closes_in).then_some(Window { opens_in, closes_in })
    }

    /// Seconds until it opens.
    pub fn opens_in(self) -> i64 {
        self.opens_in
    }

    /// Seconds until it closes.
    pub fn closes_in(self) -> i64 {
        self.closes_in
    }

    /// It has not opened yet, and will.
    pub fn is_ahead(self) -> bool {
        self.opens_in > 0
    }
}

/// A trigger a device received.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trigger {
    /// The sending server (the NAF).
    pub naf: ServerId,
    /// The device is registered with it (holds a push key for it).
    pub registered: bool,
    /// The GBA push protection, when the trigger carries any.
    pub protection: Option<PushProtection>,
    /// Its time window, when it has one.
    pub window: Option<Window>,
}

named_enum! {
    /// What the device does with a trigger.
    #[non_exhaustive]
    pub enum TriggerOutcome as "a trigger outcome" {
        /// Act on it now.
        Accept = "accept",
        /// Drop it.
        Discard = "discard",
        /// Keep it and act on it once its window opens.
        AcceptWithinWindow = "accept-within-window",
    }
}

named_enum! {
    /// Why the trigger guard decided as it did.
    #[non_exhaustive]
    pub enum TriggerReason as "a trigger reason" {
        /// Valid protection, from a registered server, with a valid key, inside its window.
        Protected = "protected",
        /// The trigger carries no GBA push protection.
        Unprotected = "unprotected",
        /// The GPI's MAC did not verify.
        MacInvalid = "mac-invalid",
        /// The trigger's fields are outside the protection, and the policy requires them covered.
        FieldsUnprotected = "fields-unprotected",
        /// The push key's lifetime had ended.
        KeyExpired = "key-expired",
        /// The device is not registered with the sending server.
        ServerNotRegistered = "server-not-registered",
        /// The trigger's window has closed.
        WindowClosed = "window-closed",
        /// The trigger's window has not opened yet: it is kept until it does.
        WindowNotOpen = "window-not-open",
        /// The engine: the GPI's sequence number was seen before, or is older than the replay window —
        /// a replay, discarded without asking the policy. Never sent by a policy.
        Replayed = "replayed",
        /// The policy failed, or does not export the trigger guard (see the verdict's fault); the engine
        /// discarded the trigger. Never sent by a policy.
        PolicyFault = "policy-fault",
    }
}

/// The trigger guard's answer. Like a [`Decision`](crate::Decision), it always exists: when the
/// policy fails or lacks the guard, it is `discard` with reason `policy-fault` and the fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TriggerVerdict {
    /// What to do.
    pub outcome: TriggerOutcome,
    /// Why.
    pub reason: TriggerReason,
    /// Why the policy could not decide, when it could not.
    pub fault: Option<Arc<PolicyFault>>,
}

impl TriggerVerdict {
    /// The fail-closed verdict: discard, because of `fault`.
    pub fn fail_closed(fault: Arc<PolicyFault>) -> TriggerVerdict {
        TriggerVerdict { outcome: TriggerOutcome::Discard, reason: TriggerReason::PolicyFault, fault: Some(fault) }
    }

    /// The policy's answer for `trigger`, unless it makes no sense: keeping a trigger for its window
    /// when it has no window ahead is a fault, and fails closed.
    pub(crate) fn checked(trigger: &Trigger, outcome: TriggerOutcome, reason: TriggerReason) -> TriggerVerdict {
        let window_ahead = trigger.window.is_some_and(Window::is_ahead);
        if outcome == TriggerOutcome::AcceptWithinWindow && !window_ahead {
            return TriggerVerdict::fail_closed(Arc::new(PolicyFault::OutcomeNotAllowed {
                outcome: outcome.name(),
                why: "the trigger has no window that is still to open",
            }));
        }
        TriggerVerdict { outcome, reason, fault: None }
    }
}

impl fmt::Display for TriggerVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.outcome, self.reason)?;
        write_fault(f, self.fault.as_deref())
    }
}

impl Verdict for TriggerVerdict {
    fn fail_closed(fault: Arc<PolicyFault>) -> TriggerVerdict {
        TriggerVerdict::fail_closed(fault)
    }

    fn fault(&self) -> Option<&Arc<PolicyFault>> {
        self.fault.as_ref()
    }

    fn is_fail_closed(&self) -> bool {
        self.reason == TriggerReason::PolicyFault
    }

    fn same_answer(&self, other: &TriggerVerdict) -> bool {
        (self.outcome, self.reason) == (other.outcome, other.reason)
    }
}

/// The trigger guard, as `pathsec check` reports it.
pub const TRIGGER_GUARD: Interface = Interface::of::<wit::TriggerGuard>(
    "trigger_guard",
    "triggers",
    "guarded (exports pathsec:policy/trigger-guard)",
    "no trigger guard: every GBA push trigger is discarded (fail closed)",
);

/// A device's decision on a GBA push trigger, through `decide-trigger`.
pub(crate) enum DecideTrigger {}

impl RelatedDecision for DecideTrigger {
    type Export = wit::TriggerGuard;
    type Request = Trigger;
    type Answer = guard::TriggerVerdict;
    type Verdict = TriggerVerdict;
    type State = PushState;

    fn call(
        guest: &guard::Guest,
        store: &mut Store<StoreState>,
        _facts: &FactSet,
        trigger: &Trigger,
    ) -> wasmtime::Result<guard::TriggerVerdict> {
        guest.call_decide_trigger(store, lower(trigger))
    }

    fn check(trigger: &Trigger, answer: guard::TriggerVerdict) -> TriggerVerdict {
        let (outcome, reason) = lift(answer);
        TriggerVerdict::checked(trigger, outcome, reason)
    }
}

impl Decider {
    /// Decides what the device does with a trigger it received through GBA push, with the policy's
    /// trigger guard. Never fails: a policy that fails, or does not export the guard, gets the trigger
    /// discarded (reason `policy-fault`, with the fault).
    pub fn decide_trigger(&mut self, facts: &FactSet, trigger: &Trigger) -> TriggerVerdict {
        self.related_here::<DecideTrigger>(facts, trigger)
    }
}

impl Worker {
    /// The trigger guard's verdict on `trigger`, from the active policy on the current lists (not
    /// cached: triggers are rare). See [`Decider::decide_trigger`].
    pub fn decide_trigger(&mut self, trigger: &Trigger) -> TriggerVerdict {
        self.related::<DecideTrigger>(trigger)
    }
}

/// A GBA push trigger as the device received it (003, Table 1): what the device's own checks found,
/// and what the GPI carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PushTrigger {
    /// The server that pushed it (the NAF).
    pub naf: ServerId,
    /// The GPI's sequence number (the AKA SQN its AUTN carries): each GPI of a NAF has a new one.
    pub sequence: u64,
    /// The GPI's MAC verified with the key the device derived from it.
    pub mac_verified: bool,
    /// The trigger indication and trigger time are inside what the MAC covers.
    pub fields_covered: bool,
    /// When the NAF key ends: the GPI's Key_LT (TS 33.220 gives a key's lifetime as its expiry time).
    /// A key that has ended by the runtime's clock is expired.
    pub key_expires: SystemTime,
    /// How long the device sends after being triggered (the Trigger Time), when the GPI gives one.
    pub trigger_time: Option<Duration>,
    /// The trigger's window, when it has one (the engine's own addition: the method has none).
    pub window: Option<Window>,
}

/// The replay window's width: sequence numbers this far below the highest seen are still accepted
/// once (GPIs may arrive out of order), older ones are replays.
pub const REPLAY_WINDOW: u64 = 64;

/// What the push associations have done (counts since the runtime started).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PushStats {
    /// Associations held now.
    pub associations: u64,
    /// GPIs accepted into an association (verified, fresh).
    pub accepted: u64,
    /// GPIs discarded as replays.
    pub replays: u64,
    /// GPIs whose MAC did not verify (the association left as it was).
    pub unverified: u64,
    /// GPIs from a NAF the device is not registered with for push (nothing stored).
    pub unregistered: u64,
    /// Associations evicted whole to make room.
    pub evicted: u64,
}

/// A device's push association with one NAF: made when the device registers with the NAF for push
/// (003, paragraph \[0049\]: "An MTC device to be triggered by GBA-PUSH is required to be registered on the MTC
/// server in advance"), renewed by each verified GPI.
struct Association {
    /// When the NAF key's lifetime ends (Unix seconds).
    key_expires: u64,
    /// The highest GPI sequence seen, and which of the `REPLAY_WINDOW` below it were seen (bit i:
    /// `highest - i`).
    highest: u64,
    seen: u64,
    /// Until when sends to the NAF count as triggered.
    triggered_until: Option<u64>,
}

/// The host-held state of the trigger guard: the push associations, by device and NAF.
pub(crate) struct PushState {
    associations: Mutex<Recent<(DeviceId, ServerId), Association>>,
    stats: Tally<5>,
}

const ACCEPTED: usize = 0;
const REPLAYS: usize = 1;
const UNVERIFIED: usize = 2;
const EVICTED: usize = 3;
const UNREGISTERED: usize = 4;

impl Default for PushState {
    fn default() -> PushState {
        PushState::new(1_000_000)
    }
}

impl PushState {
    fn new(capacity: usize) -> PushState {
        PushState { associations: Mutex::new(Recent::new(capacity)), stats: Tally::default() }
    }

    fn lock(&self) -> MutexGuard<'_, Recent<(DeviceId, ServerId), Association>> {
        // Each association is whole between statements: a panic cannot leave one half-made.
        self.associations.locked()
    }

    fn count(&self, stat: usize) {
        self.stats.add(stat);
    }

    /// The device registered with `naf` for push: an association with no key yet (kept as it is when
    /// there is one).
    fn register(&self, device: DeviceId, naf: ServerId) {
        let mut all = self.lock();
        if all.touch(&(device, naf)).is_none() {
            // Room first: the least recently used association goes whole.
            let fresh = Association { key_expires: 0, highest: 0, seen: 0, triggered_until: None };
            for _ in 0..all.insert((device, naf), fresh) {
                self.count(EVICTED);
            }
        }
    }

    fn deregister(&self, device: DeviceId, naf: ServerId) -> bool {
        self.lock().remove(&(device, naf)).is_some()
    }

    fn registered(&self, device: DeviceId, naf: ServerId) -> bool {
        self.lock().contains_key(&(device, naf))
    }

    /// Takes a verified GPI into the device's association with its NAF: `None` when the device is not
    /// registered with the NAF; `Err` when its sequence is a replay; else whether its key has expired
    /// by `now` (the association's key renewed).
    fn accept(&self, device: DeviceId, push: &PushTrigger, now: u64) -> Option<Result<bool, ()>> {
        let mut all = self.lock();
        // Used now, a replay too: an association under attack keeps its window.
        let Some(association) = all.touch(&(device, push.naf)) else {
            self.count(UNREGISTERED);
            return None;
        };
        // The replay window (as AKA's sequence check: fresh when higher, or unseen within the window).
        if push.sequence > association.highest {
            let shift = push.sequence - association.highest;
            association.seen = if shift >= REPLAY_WINDOW { 0 } else { association.seen << shift };
            association.highest = push.sequence;
            association.seen |= 1;
        } else {
            let age = association.highest - push.sequence;
            if age >= REPLAY_WINDOW || association.seen & (1 << age) != 0 {
                self.count(REPLAYS);
                return Some(Err(()));
            }
            association.seen |= 1 << age;
        }
        association.key_expires = push.key_expires.duration_since(UNIX_EPOCH).map_or(0, |since| since.as_secs());
        let expired = association.key_expires <= now;
        self.count(ACCEPTED);
        Some(Ok(expired))
    }

    fn triggered(&self, device: DeviceId, naf: ServerId, until: u64) {
        if let Some(association) = self.lock().touch(&(device, naf)) {
            association.triggered_until = Some(until);
        }
    }

    fn triggered_until(&self, device: DeviceId, naf: ServerId, now: u64) -> Option<u64> {
        let all = self.lock();
        let association = all.get(&(device, naf))?;
        // The trigger time, cut short by the key's end.
        let until = association.triggered_until?.min(association.key_expires);
        (until > now).then_some(until)
    }

    fn stats(&self) -> PushStats {
        let get = |stat: usize| self.stats.get(stat);
        PushStats {
            associations: self.lock().len() as u64,
            accepted: get(ACCEPTED),
            replays: get(REPLAYS),
            unverified: get(UNVERIFIED),
            unregistered: get(UNREGISTERED),
            evicted: get(EVICTED),
        }
    }
}

impl Worker {
    /// A GBA push trigger received by `device` (003, steps 405-407): a GPI whose MAC did not verify
    /// leaves the device's association as it was and is decided as such (`mac-invalid`); one from a
    /// NAF the device did not register with for push ([`Runtime::register_push`]) stores nothing and is
    /// decided as such (`server-not-registered`); a verified one whose sequence number was seen before,
    /// or is older than the replay window, is discarded without asking (`replayed`); a fresh one renews
    /// the association's key (its Key_LT from the GPI) and the policy decides on the verified facts
    /// (the key expired by the runtime's clock or not). When the trigger is accepted, the device's
    /// sends to the NAF count as triggered for the trigger time, or until the key ends
    /// ([`Runtime::triggered_until`]; from its window's opening for a trigger kept for its window).
    pub fn receive_push(&mut self, device: DeviceId, push: &PushTrigger) -> Result<TriggerVerdict, UnknownDeviceError> {
        if self.runtime().device_name(device).is_none() {
            return Err(UnknownDeviceError { device: device.get() });
        }
        let state = self.runtime().related_state::<DecideTrigger>();
        let now = self.runtime().unix_now();
        // Whether the device is registered with the NAF is learnt under the one lock each way takes.
        let mut trigger = Trigger {
            naf: push.naf,
            registered: false,
            protection: Some(PushProtection {
                mac_verified: push.mac_verified,
                fields_covered: push.fields_covered,
                key_expired: false,
            }),
            window: push.window,
        };
        if push.mac_verified {
            match state.accept(device, push, now) {
                Some(Ok(expired)) => {
                    trigger.registered = true;
                    trigger.protection = trigger.protection.map(|p| PushProtection { key_expired: expired, ..p });
                }
                Some(Err(())) => {
                    return Ok(TriggerVerdict {
                        outcome: TriggerOutcome::Discard,
                        reason: TriggerReason::Replayed,
                        fault: None,
                    });
                }
                // Not registered: nothing is stored; the policy is told so.
                None => {}
            }
        } else {
            state.count(UNVERIFIED);
            trigger.registered = state.registered(device, push.naf);
        }
        let verdict = self.related::<DecideTrigger>(&trigger);
        if let Some(time) = push.trigger_time {
            let opens = match verdict.outcome {
                TriggerOutcome::Accept => Some(now),
                TriggerOutcome::AcceptWithinWindow => {
                    push.window.map(|w| now.saturating_add(w.opens_in().max(0) as u64))
                }
                _ => None,
            };
            if let Some(opens) = opens {
                state.triggered(device, push.naf, opens.saturating_add(time.as_secs()));
            }
        }
        Ok(verdict)
    }
}

impl Runtime {
    /// Until when `device`'s sends to `naf` count as triggered: the end of the trigger time of the last
    /// trigger it accepted from `naf`, or of the association's key if that comes first; `None` when not
    /// (any more).
    pub fn triggered_until(&self, device: DeviceId, naf: ServerId) -> Option<SystemTime> {
        let until = self.related_state::<DecideTrigger>().triggered_until(device, naf, self.unix_now())?;
        Some(UNIX_EPOCH + Duration::from_secs(until))
    }

    /// `device` registered with `naf` for GBA push (003, paragraph \[0049\] and claim 5: a device to be triggered by
    /// GBA-PUSH registers on the MTC server in advance): GPIs from `naf` are taken into an association
    /// from now on. Registering again keeps the association. A full table evicts the least recently used
    /// association whole ([`RuntimeBuilder::push_associations`]): its device must register again, and
    /// until then its GPIs are refused (`server-not-registered`).
    pub fn register_push(&self, device: DeviceId, naf: ServerId) -> Result<(), UnknownDeviceError> {
        if self.device_name(device).is_none() {
            return Err(UnknownDeviceError { device: device.get() });
        }
        self.related_state::<DecideTrigger>().register(device, naf);
        Ok(())
    }

    /// `device` no longer takes GBA push triggers from `naf`: its association goes (`false` when there
    /// was none).
    pub fn deregister_push(&self, device: DeviceId, naf: ServerId) -> Result<bool, UnknownDeviceError> {
        if self.device_name(device).is_none() {
            return Err(UnknownDeviceError { device: device.get() });
        }
        Ok(self.related_state::<DecideTrigger>().deregister(device, naf))
    }

    /// What the push associations have done.
    pub fn push_stats(&self) -> PushStats {
        self.related_state::<DecideTrigger>().stats()
    }
}

impl RuntimeBuilder {
    /// How many push associations (device, NAF) the runtime holds at most (default 1,000,000; ~100
    /// bytes each); when full, the least recently used is evicted whole — it forgets its replay
    /// window, so size it to the fleet. At least 1.
    pub fn push_associations(self, capacity: usize) -> RuntimeBuilder {
        self.related_state::<DecideTrigger>(PushState::new(capacity.max(1)))
    }
}

/// A trigger as the trigger guard takes it.
fn lower(trigger: &Trigger) -> guard::Trigger {
    guard::Trigger {
        naf: trigger.naf.get(),
        registered: trigger.registered,
        protection: trigger.protection.map(|p| guard::PushProtection {
            mac_verified: p.mac_verified,
            fields_covered: p.fields_covered,
            key_expired: p.key_expired,
        }),
        window: trigger.window.map(|w| guard::Window { opens_in: w.opens_in(), closes_in: w.closes_in() }),
    }
}

/// The trigger guard's answer in the library's terms.
fn lift(verdict: guard::TriggerVerdict) -> (TriggerOutcome, TriggerReason) {
    use guard::{TriggerOutcome as WO, TriggerReason as WR};
    let outcome = match verdict.outcome {
        WO::Accept => TriggerOutcome::Accept,
        WO::Discard => TriggerOutcome::Discard,
        WO::AcceptWithinWindow => TriggerOutcome::AcceptWithinWindow,
    };
    let reason = match verdict.reason {
        WR::Protected => TriggerReason::Protected,
        WR::Unprotected => TriggerReason::Unprotected,
        WR::MacInvalid => TriggerReason::MacInvalid,
        WR::FieldsUnprotected => TriggerReason::FieldsUnprotected,
        WR::KeyExpired => TriggerReason::KeyExpired,
        WR::ServerNotRegistered => TriggerReason::ServerNotRegistered,
        WR::WindowClosed => TriggerReason::WindowClosed,
        WR::WindowNotOpen => TriggerReason::WindowNotOpen,
    };
    (outcome, reason)
}
