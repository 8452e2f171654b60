//! The method's rule read straight from a packed request (`decide-packed` and `decide-scalar` in the
//! WIT): no [`Request`](crate::Request) is built, and the networks stay `plmn-key`s from the words to
//! the list lookups. What [`Policy::KEYED`] selects; it decides exactly as [`Policy::decide`] does for
//! a policy that overrides only the list steps — the differential tests and the host's self-check hold
//! it to that.
//!
//! The host sends only what the layout allows; anything else is a broken host, and the policy traps
//! (the host then fails the call closed), as [`packed::request`](crate::packed::request) does.

use crate::{Action, Facts, PlmnId, Policy, Reason, packed};

/// Where the fields are in a request's second word (see `decide-packed` in the WIT).
const ROLE: u32 = 32;
const EVENT: u32 = 33;
const ACCESS_INTEGRITY: u32 = 36;
const END_TO_END: u32 = 38;
const ACCESS: u32 = 40;
const CIPHERING: u32 = 42;
const INTEGRITY: u32 = 43;
const REGISTRATION: u32 = 44;
const APPLICATION_SECURITY: u32 = 47;
const ACCEPT_PLAIN_UNCIPHERED: u32 = 48;
const LINK_KNOWN: u32 = 49;

/// The `role` case of a device, and the `event` case of `receive-unprotected`.
const DEVICE: u64 = 1;
const RECEIVE_UNPROTECTED: u64 = 1;

/// The decision byte for the request in words `first` and `second`: action in bits 0-2, reason in 3-7.
#[inline(always)]
pub(crate) fn decide<P: Policy + ?Sized>(facts: &Facts, first: u64, second: u64) -> u8 {
    let role = bits(second, ROLE, 1);
    let (action, reason) = match bits(second, EVENT, 3) {
        // send-data
        0 => match path::<P>(facts, first, second) {
            Ok(()) => (Action::SendPlain, Reason::PathSecure),
            Err(reason) => (Action::SecureThenSend, reason),
        },
        // receive-unprotected
        1 => match path::<P>(facts, first, second) {
            Ok(()) => (Action::Accept, Reason::PathSecure),
            Err(reason) => (Action::DiscardAndSecure, reason),
        },
        // receive-protected
        2 => (Action::Accept, Reason::ApplicationLayerProtected),
        // receive-trigger
        3 if role == DEVICE => trigger::<P>(facts, first, second),
        3 => (Action::Discard, Reason::EventNotForRole),
        // send-trigger
        4 if role == DEVICE => (Action::ProtectTrigger, Reason::EventNotForRole),
        4 => match path::<P>(facts, first, second) {
            Ok(()) => (Action::SendPlain, Reason::PathSecure),
            Err(reason) => (Action::ProtectTrigger, reason),
        },
        other => panic!("packed request: event {other}"),
    };
    action as u8 | (reason as u8) << 3
}

/// [`Policy::path`] with the method's steps, on the words.
#[inline(always)]
fn path<P: Policy + ?Sized>(facts: &Facts, first: u64, second: u64) -> Result<(), Reason> {
    let serving = first as u32;
    if serving == 0 {
        return Err(Reason::ServingNetworkUnknown);
    }
    let ciphering = bits(second, CIPHERING, 1) == 1;
    let device = bits(second, ROLE, 1) == DEVICE;
    match bits(second, REGISTRATION, 3) {
        0 => {}
        1 => return Err(Reason::RegistrationMismatch),
        // An agreement, whatever its source: [`Policy::follow_agreement`]'s default.
        2..=4 => {
            if bits(second, APPLICATION_SECURITY, 1) == 1 {
                return Err(Reason::RegistrationRequiresApplicationSecurity);
            }
            if device && !ciphering && bits(second, ACCEPT_PLAIN_UNCIPHERED, 1) == 0 {
                return Err(Reason::AccessCipheringOff);
            }
            return Ok(());
        }
        other => panic!("packed request: registration {other}"),
    }
    // [`Policy::access_protected`]'s default.
    let known = bits(second, LINK_KNOWN, 1) == 1;
    let integrity = bits(second, INTEGRITY, 1) == 1;
    if known {
        if !ciphering && !integrity {
            return Err(Reason::AccessNotProtected);
        }
        if device && bits(second, EVENT, 3) == RECEIVE_UNPROTECTED && !ciphering {
            return Err(Reason::AccessCipheringOff);
        }
    } else if device {
        return Err(Reason::AccessNotProtected);
    }
    let access = packed::access_kind(bits(second, ACCESS, 2) as u8);
    // The second network: the server's, the device's home unless the facts name another.
    let home = facts.second_network_key((first >> 32) as u32, second as u32);
    let (serving, home) = (PlmnId::from_key(serving), PlmnId::from_key(home));
    if !P::path_a_trusted(facts, serving, access) {
        return Err(Reason::PathANotTrusted);
    }
    if known && !integrity && facts.integrity_required(serving) {
        return Err(Reason::AccessIntegrityOff);
    }
    if !P::path_b_trusted(facts, home, second as u32) {
        return Err(Reason::PathBNotTrusted);
    }
    if !P::interconnect_trusted(facts, serving, home) {
        return Err(Reason::InterconnectNotTrusted);
    }
    Ok(())
}

/// [`Policy::trigger`]'s default, on the words.
#[inline(always)]
fn trigger<P: Policy + ?Sized>(facts: &Facts, first: u64, second: u64) -> (Action, Reason) {
    // access-integrity: verified 0, absent 1, failed 2; end-to-end: valid 0, absent 1, invalid 2.
    match (bits(second, ACCESS_INTEGRITY, 2), bits(second, END_TO_END, 2)) {
        (3, _) | (_, 3) => panic!("packed request: trigger check {:#x}", bits(second, ACCESS_INTEGRITY, 4)),
        (2, _) => (Action::Discard, Reason::TriggerIntegrityFailed),
        (_, 2) => (Action::Discard, Reason::TriggerEndToEndInvalid),
        (1, 0) => (Action::Accept, Reason::TriggerEndToEndValid),
        (1, _) => (Action::Discard, Reason::TriggerUnprotected),
        // Verified: the check shows integrity on (000, FIG. 11 step 6), so the path is asked with it.
        (_, end_to_end) => {
            let verified = second | 1 << LINK_KNOWN | 1 << INTEGRITY;
            match (path::<P>(facts, first, verified), end_to_end) {
                (Ok(()), _) => (Action::Accept, Reason::PathSecure),
                (Err(_), 0) => (Action::Accept, Reason::TriggerEndToEndValid),
                (Err(reason), _) => (Action::Discard, reason),
            }
        }
    }
}

/// `count` bits of `word` from bit `shift`.
#[inline(always)]
fn bits(word: u64, shift: u32, count: u32) -> u64 {
    word >> shift & ((1 << count) - 1)
}
