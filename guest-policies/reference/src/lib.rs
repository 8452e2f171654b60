//! The reference `path-secure` policy: the method, exactly.
//!
//! The whole path is secure iff the serving network is known, no registration mismatch stands, access
//! ciphering and integrity are on, the serving network is in List 1, the (home network, server) pair is
//! in List 2, and the serving network is the home network or is in List 3. The first check that fails
//! is the reason. Triggers follow the same lists: a failed access-layer integrity check discards; a
//! trigger without access-layer integrity, or on a path that is not secure, is accepted only with valid
//! end-to-end protection.

use std::cell::RefCell;

use rustc_hash::FxHashSet;

wit_bindgen::generate!({ path: "../../wit", world: "path-secure" });

use exports::pathsec::policy::decide::Guest;
use pathsec::policy::types::{
    AccessIntegrity, Action, Decision, EndToEnd, Event, FactSet, PlmnId, Reason, Registration, Request, Role,
    TriggerCheck,
};

/// The lists of the last loaded fact generation, as hash sets of packed keys.
#[derive(Default)]
struct Lists {
    path_a: FxHashSet<u32>,
    path_b: FxHashSet<u64>,
    interconnect: FxHashSet<u32>,
}

thread_local! {
    static LISTS: RefCell<Lists> = RefCell::new(Lists::default());
}

/// Packs a PLMN-ID into one key; the MNC digit count is part of it ("31041" != "310410").
fn key(plmn: PlmnId) -> u32 {
    (u32::from(plmn.mcc) << 16) | (u32::from(plmn.mnc) << 4) | u32::from(plmn.mnc_digits)
}

fn pair_key(home: PlmnId, server: u32) -> u64 {
    (u64::from(key(home)) << 32) | u64::from(server)
}

fn checked_key(plmn: PlmnId) -> Result<u32, String> {
    let max = match plmn.mnc_digits {
        2 => 99,
        3 => 999,
        n => return Err(format!("PLMN-ID with {n} MNC digits: expected 2 or 3")),
    };
    if plmn.mcc > 999 || plmn.mnc > max {
        return Err(format!("PLMN-ID {}/{} out of range", plmn.mcc, plmn.mnc));
    }
    Ok(key(plmn))
}

impl Lists {
    fn load(facts: &FactSet) -> Result<Lists, String> {
        let lists = &facts.lists;
        Ok(Lists {
            path_a: lists.path_a.iter().map(|p| checked_key(*p)).collect::<Result<_, _>>()?,
            path_b: lists
                .path_b
                .iter()
                .map(|e| checked_key(e.home).map(|_| pair_key(e.home, e.server)))
                .collect::<Result<_, _>>()?,
            interconnect: lists.interconnect.iter().map(|p| checked_key(*p)).collect::<Result<_, _>>()?,
        })
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
        if !self.path_a.contains(&key(serving)) {
            return Err(Reason::PathANotTrusted);
        }
        if !self.path_b.contains(&pair_key(attach.home, request.server)) {
            return Err(Reason::PathBNotTrusted);
        }
        if key(serving) != key(attach.home) && !self.interconnect.contains(&key(serving)) {
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
        let lists = Lists::load(&facts)?;
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
