//! The reference `path-secure` policy: the method, exactly.
//!
//! The whole path is secure iff the serving network is known, no registration mismatch stands, access
//! ciphering and integrity are on, the serving network is in List 1, the (home network, server) pair is
//! in List 2, and the serving network is the home network or is in List 3. The first check that fails
//! is the reason. Triggers follow the same lists: a failed access-layer integrity check discards; a
//! trigger without access-layer integrity, or on a path that is not secure, is accepted only with valid
//! end-to-end protection.
//!
//! The lists arrive as integer keys; the policy puts them in open-addressing tables sized at load (a
//! few nanoseconds a key), so a lookup costs one multiply and a probe or two, whatever the list's size.

use std::cell::RefCell;

wit_bindgen::generate!({ path: "../../wit", world: "path-secure" });

use exports::pathsec::policy::decide::Guest;
use pathsec::policy::types::{
    AccessIntegrity, Action, Decision, EndToEnd, Event, FactSet, PlmnId, Reason, Registration, Request, Role,
    TriggerCheck,
};

/// The lists of the last loaded fact generation.
#[derive(Default)]
struct Lists {
    path_a: KeySet<u32>,
    path_b: KeySet<u64>,
    interconnect: KeySet<u32>,
}

/// A set of keys in an open-addressing table at most three quarters full, with linear probing: one
/// multiply and, mostly, one cache line per lookup. `K` is `u32` for networks, `u64` for pairs.
#[derive(Default)]
struct KeySet<K> {
    slots: Vec<K>,
    mask: usize,
}

/// A key type whose all-ones value is never a key: PLMN keys use 26 bits, and a pair key's upper half
/// is a PLMN key.
trait Key: Copy + Eq {
    const EMPTY: Self;
    fn hash(self) -> u64;
}

impl Key for u32 {
    const EMPTY: u32 = u32::MAX;
    fn hash(self) -> u64 {
        u64::from(self)
    }
}

impl Key for u64 {
    const EMPTY: u64 = u64::MAX;
    fn hash(self) -> u64 {
        self
    }
}

impl<K: Key> KeySet<K> {
    fn new(keys: &[K]) -> KeySet<K> {
        let capacity = (keys.len() * 4 / 3 + 1).next_power_of_two().max(8);
        let mut set = KeySet { slots: vec![K::EMPTY; capacity], mask: capacity - 1 };
        for &key in keys {
            let mut slot = set.slot(key);
            while set.slots[slot] != K::EMPTY && set.slots[slot] != key {
                slot = (slot + 1) & set.mask;
            }
            set.slots[slot] = key;
        }
        set
    }

    fn slot(&self, key: K) -> usize {
        (key.hash().wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) as usize & self.mask
    }

    fn contains(&self, key: K) -> bool {
        if self.slots.is_empty() {
            return false;
        }
        let mut slot = self.slot(key);
        loop {
            match self.slots[slot] {
                found if found == key => return true,
                found if found == K::EMPTY => return false,
                _ => slot = (slot + 1) & self.mask,
            }
        }
    }
}

thread_local! {
    static LISTS: RefCell<Lists> = RefCell::new(Lists::default());
}

/// The WIT's `plmn-key`; the MNC digit count is part of it ("31041" != "310410").
fn key(plmn: PlmnId) -> u32 {
    (u32::from(plmn.mcc) << 16) | (u32::from(plmn.mnc) << 4) | u32::from(plmn.mnc_digits)
}

impl Lists {
    fn load(facts: &FactSet) -> Lists {
        let lists = &facts.lists;
        Lists {
            path_a: KeySet::new(&lists.path_a),
            path_b: KeySet::new(&lists.path_b),
            interconnect: KeySet::new(&lists.interconnect),
        }
    }

    /// `Ok` when the entire path is secure, else the first check that failed.
    fn path(&self, request: &Request) -> Result<(), Reason> {
        let attach = &request.attach;
        let serving = attach.serving.ok_or(Reason::ServingNetworkUnknown)?;
        if request.registration == Registration::Mismatch {
            return Err(Reason::RegistrationMismatch);
        }
        if !request.link.ciphering {
            return Err(Reason::AccessCipheringOff);
        }
        if !request.link.integrity {
            return Err(Reason::AccessIntegrityOff);
        }
        let serving = key(serving);
        if !self.path_a.contains(serving) {
            return Err(Reason::PathANotTrusted);
        }
        let home = key(attach.home);
        if !self.path_b.contains((u64::from(home) << 32) | u64::from(request.server)) {
            return Err(Reason::PathBNotTrusted);
        }
        if serving != home && !self.interconnect.contains(serving) {
            return Err(Reason::InterconnectNotTrusted);
        }
        Ok(())
    }

    fn decide(&self, request: &Request) -> Decision {
        let (action, reason) = match (request.role, request.event) {
            (Role::Device, Event::SendTrigger) => (Action::ProtectTrigger, Reason::EventNotForRole),
            (Role::Server, Event::ReceiveTrigger(_)) => (Action::Discard, Reason::EventNotForRole),
            (_, Event::ReceiveProtected) => (Action::Accept, Reason::ApplicationLayerProtected),
            (_, Event::SendData) => match self.path(request) {
                Ok(()) => (Action::SendPlain, Reason::PathSecure),
                Err(reason) => (Action::SecureThenSend, reason),
            },
            (_, Event::ReceiveUnprotected) => match self.path(request) {
                Ok(()) => (Action::Accept, Reason::PathSecure),
                Err(reason) => (Action::DiscardAndSecure, reason),
            },
            (Role::Server, Event::SendTrigger) => match self.path(request) {
                Ok(()) => (Action::SendPlain, Reason::PathSecure),
                Err(reason) => (Action::ProtectTrigger, reason),
            },
            (Role::Device, Event::ReceiveTrigger(check)) => self.trigger(request, check),
        };
        Decision { action, reason }
    }

    fn trigger(&self, request: &Request, check: TriggerCheck) -> (Action, Reason) {
        match (check.access_integrity, check.end_to_end) {
            (AccessIntegrity::Failed, _) => (Action::Discard, Reason::TriggerIntegrityFailed),
            (_, EndToEnd::Invalid) => (Action::Discard, Reason::TriggerEndToEndInvalid),
            (AccessIntegrity::Absent, EndToEnd::Valid) => (Action::Accept, Reason::TriggerEndToEndValid),
            (AccessIntegrity::Absent, EndToEnd::Absent) => (Action::Discard, Reason::TriggerUnprotected),
            (AccessIntegrity::Verified, end_to_end) => match (self.path(request), end_to_end) {
                (Ok(()), _) => (Action::Accept, Reason::PathSecure),
                (Err(_), EndToEnd::Valid) => (Action::Accept, Reason::TriggerEndToEndValid),
                (Err(reason), _) => (Action::Discard, reason),
            },
        }
    }
}

struct Reference;

impl Guest for Reference {
    fn load(facts: FactSet) -> Result<(), String> {
        let lists = Lists::load(&facts);
        LISTS.with(|cell| *cell.borrow_mut() = lists);
        Ok(())
    }

    fn decide(request: Request) -> Decision {
        LISTS.with(|cell| cell.borrow().decide(&request))
    }

    fn decide_batch(requests: Vec<Request>) -> Vec<Decision> {
        LISTS.with(|cell| {
            let lists = cell.borrow();
            requests.iter().map(|r| lists.decide(r)).collect()
        })
    }
}

export!(Reference);
