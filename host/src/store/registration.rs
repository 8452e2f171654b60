//! The registration exchange's state in a runtime, both sides (000, FIGS. 7-10): what each node stores
//! at (re-)registration (FIG. 7 steps 8a and 8b), the facts each stored outcome rests on, when a
//! re-registration is due (FIG. 10 step 1: a PLMN change, an access change, an access security change,
//! the registration timer, or the server asking), and the events that tell the embedder so.
//!
//! An agreement is voided only by a change to a fact it rests on: the serving network, home network,
//! access kind and access security it was made on, the List entries the server's decision used, and its
//! expiry. Until the re-registration is made, decisions that rested on it fail closed.

use std::collections::{BTreeSet, HashMap};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::exchange::{ReportDigest, SecurityOption};
use crate::facts::FactSet;
use crate::store::device::{DeviceFacts, DeviceId};
use crate::store::held::{Held, ListUse, ReRegistrationCause, Standing};
use crate::sync::Locked;
use crate::vocab::{Agreement, Attach, Fqdn, LinkState, PlmnId, Registration, ServerId};

/// How a registration message arrived — the report at the server, the indication at the device (the
/// embedder knows; the engine cannot).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Carried {
    /// Over a protected exchange (application-layer security set up for the registration itself, as the
    /// method asks): the message can be believed.
    Protected,
    /// Without protection: the message could be forged, and is refused.
    Unprotected,
}

/// A server's registration settings.
#[derive(Clone, Debug)]
pub struct RegistrationConfig {
    /// How long an agreement stands before the device must re-register (the registration timer;
    /// default 24 hours — for MTC devices the method expects it to be long).
    pub timer: Duration,
    /// The application-layer security this server supports, in its order of preference; the first the
    /// device also supports is named in an indication that asks for security.
    pub options: Vec<SecurityOption>,
    /// Per home network, the visited networks its devices may roam to. A device whose home is listed
    /// and whose reported serving network is neither its home nor in the list is refused plain
    /// communication (000, FIG. 7 step 5: "possibly checking … whether the UE is allowed to roam").
    /// Homes not listed are not restricted.
    pub roaming: HashMap<PlmnId, BTreeSet<PlmnId>>,
    /// The FQDNs this node answers registrations for, whether or not its lists name them (a server
    /// missing from List 2 still answers — that security is needed). Empty: any server the lists name.
    /// A report naming another server is refused, so untrusted input never adds server names.
    pub serves: BTreeSet<Fqdn>,
}

impl Default for RegistrationConfig {
    fn default() -> RegistrationConfig {
        RegistrationConfig {
            timer: Duration::from_secs(24 * 3600),
            options: Vec::new(),
            roaming: HashMap::new(),
            serves: BTreeSet::new(),
        }
    }
}

impl RegistrationConfig {
    /// Whether a device of `home` may be served in `serving`.
    pub fn may_roam(&self, home: PlmnId, serving: PlmnId) -> bool {
        serving == home || self.roaming.get(&home).is_none_or(|allowed| allowed.contains(&serving))
    }
}

/// A device's own registration settings (000, FIG. 7 step 7: a device may be configured not to accept
/// "no application-layer security" while its access encryption is off, or to accept it for a server
/// that needs no end-to-end security).
#[derive(Clone, Debug, Default)]
pub struct DeviceConfig {
    /// Accept "no application-layer security" from any server even while access-layer ciphering is off
    /// (default: no — such a device secures anyway).
    pub accept_plain_unciphered: bool,
    /// Servers whose "no application-layer security" is accepted even while ciphering is off.
    pub accept_plain_from: BTreeSet<Fqdn>,
}

impl DeviceConfig {
    /// Whether the device accepts plain from `server` while ciphering is off.
    pub fn accepts_plain_unciphered(&self, server: &Fqdn) -> bool {
        self.accept_plain_unciphered || self.accept_plain_from.contains(server)
    }
}

/// A re-registration is due: decisions that rested on the agreement fail closed until it is made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReRegistration {
    /// The device.
    pub device: DeviceId,
    /// The device's name, as the embedder gave it.
    pub device_name: Arc<str>,
    /// The server.
    pub server: ServerId,
    /// The server's name.
    pub server_name: Option<Fqdn>,
    /// Why.
    pub cause: ReRegistrationCause,
}

/// Why each of a device's standing outcomes is voided by its new facts: the first fact that differs from
/// what it rests on. `was_attached` says whether attach facts were known before this change: a device
/// that detaches voids its outcomes, while a server that never had attach facts for it (it took the
/// device's report) keeps them.
pub(crate) fn void_on_change(facts: &mut DeviceFacts, was_attached: bool) -> Vec<(ServerId, ReRegistrationCause)> {
    let mut voided = Vec::new();
    for held in &mut facts.agreements {
        let rests = held.rests_on;
        let attach_cause = match facts.attach {
            None if was_attached => Some(ReRegistrationCause::Detached),
            None => None,
            Some(attach) if attach.serving != rests.attach.serving || attach.home != rests.attach.home => {
                Some(ReRegistrationCause::PlmnChanged)
            }
            Some(attach) if attach.access != rests.attach.access => Some(ReRegistrationCause::AccessChanged),
            Some(_) => None,
        };
        let cause = attach_cause.or(match facts.link {
            Some(link) if link != rests.link => Some(ReRegistrationCause::AccessSecurityChanged),
            _ => None,
        });
        if let Some(cause) = cause
            && held.void(cause)
        {
            voided.push((held.server, cause));
        }
    }
    voided
}

/// Whether `held` stands on List entries that `lists` has changed.
pub(crate) fn lists_moved(held: &Held, lists: &FactSet) -> bool {
    matches!(held.standing, Standing::Outcome(_))
        && held.rests_on.lists.is_some_and(|used| ListUse::of(lists, &held.rests_on.attach, held.server) != used)
}

/// Voids the device's standing agreements whose List entries changed in `lists`.
pub(crate) fn void_on_lists(facts: &mut DeviceFacts, lists: &FactSet) -> Vec<(ServerId, ReRegistrationCause)> {
    let mut voided = Vec::new();
    for held in &mut facts.agreements {
        let Some(used) = held.rests_on.lists else { continue };
        if ListUse::of(lists, &held.rests_on.attach, held.server) != used
            && held.void(ReRegistrationCause::ListsChanged)
        {
            voided.push((held.server, ReRegistrationCause::ListsChanged));
        }
    }
    voided
}

/// Voids the agreement with `server` for `cause`; `true` when one was standing.
pub(crate) fn void_one(facts: &mut DeviceFacts, server: ServerId, cause: ReRegistrationCause) -> bool {
    facts.agreements.iter_mut().find(|held| held.server == server).is_some_and(|held| held.void(cause))
}

/// Stores `held`, replacing what was held for its server.
pub(crate) fn hold(facts: &mut DeviceFacts, held: Held) {
    facts.agreements.retain(|h| h.server != held.server);
    facts.agreements.push(held);
}

/// The outcome to store from a standing `agreement` (a helper for both sides).
pub(crate) fn agreed(agreement: Agreement) -> Standing {
    Standing::Outcome(Registration::Agreed(agreement))
}

/// What a device sent in its last report to a server: the facts the server's answer will rest on, and
/// what identifies the report (its number and digest) so that only its answer is taken.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sent {
    pub(crate) attach: Attach,
    pub(crate) link: LinkState,
    pub(crate) sequence: u64,
    pub(crate) digest: ReportDigest,
}

/// A runtime's registration bookkeeping beside the device slots: the devices with a standing agreement
/// (so a list change or a timer sweep visits only them), the reports a device sent, and the
/// subscribers to re-registration events.
#[derive(Default)]
pub(crate) struct Registrations {
    /// (expiry, device, server) of every stored outcome, for the timer sweep and the list check.
    timers: Mutex<BTreeSet<(u64, u32, u32)>>,
    /// Device side: the last report per device and server.
    sent: Mutex<HashMap<(DeviceId, ServerId), Sent>>,
    subscribers: Mutex<Vec<Sender<ReRegistration>>>,
}

impl Registrations {
    /// A new subscriber to re-registration events.
    pub(crate) fn subscribe(&self) -> Receiver<ReRegistration> {
        let (sender, receiver) = channel();
        self.subscribers.locked().push(sender);
        receiver
    }

    /// Tells every subscriber; forgets those that hung up.
    pub(crate) fn publish(&self, events: &[ReRegistration]) {
        if events.is_empty() {
            return;
        }
        let mut subscribers = self.subscribers.locked();
        subscribers.retain(|subscriber| events.iter().all(|event| subscriber.send(event.clone()).is_ok()));
    }

    /// Notes a stored outcome's timer (and forgets the one it replaced).
    pub(crate) fn timer(&self, device: DeviceId, server: ServerId, replaced: Option<u64>, expires: u64) {
        let mut timers = self.timers.locked();
        if let Some(old) = replaced {
            timers.remove(&(old, device.get(), server.get()));
        }
        timers.insert((expires, device.get(), server.get()));
    }

    /// Takes the timers that ended by `now`.
    pub(crate) fn expired(&self, now: u64) -> Vec<(DeviceId, ServerId, u64)> {
        let mut timers = self.timers.locked();
        let rest = timers.split_off(&(now.saturating_add(1), 0, 0));
        let expired = std::mem::replace(&mut *timers, rest);
        expired
            .into_iter()
            .map(|(expires, device, server)| (DeviceId(device), ServerId::new(server), expires))
            .collect()
    }

    /// The earliest timer still held (seconds since the Unix epoch).
    pub(crate) fn next_timer(&self) -> Option<u64> {
        self.timers.locked().first().map(|&(expires, _, _)| expires)
    }

    /// Every device with a stored outcome whose timer runs.
    pub(crate) fn devices(&self) -> BTreeSet<DeviceId> {
        let timers = self.timers.locked();
        timers.iter().map(|&(_, device, _)| DeviceId(device)).collect()
    }

    /// Device side: notes a report sent.
    pub(crate) fn sent(&self, device: DeviceId, server: ServerId, sent: Sent) {
        self.sent.locked().insert((device, server), sent);
    }

    /// Device side: the last report sent to `server`.
    pub(crate) fn last_sent(&self, device: DeviceId, server: ServerId) -> Option<Sent> {
        self.sent.locked().get(&(device, server)).copied()
    }
}
