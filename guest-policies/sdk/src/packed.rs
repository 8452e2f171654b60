//! The packed batch (`decide-packed` in the WIT): two words per request in, one byte per decision out.
//! The host sends only what the layout allows; anything else is a broken host, and the policy traps
//! (the host then fails the batch closed).

use crate::{AccessIntegrity, AccessKind, Attach, Decision, EndToEnd, Event, LinkState, PlmnId};
use crate::{Agreement, Registration, Request, Role, TriggerCheck};

/// The request in words `first` and `second`.
pub(crate) fn request(first: u64, second: u64) -> Request {
    let field = |shift: u32, bits: u32| ((second >> shift) & ((1 << bits) - 1)) as u8;
    let trigger = || TriggerCheck {
        access_integrity: match field(36, 2) {
            0 => AccessIntegrity::Verified,
            1 => AccessIntegrity::Absent,
            2 => AccessIntegrity::Failed,
            other => panic!("packed request: access-integrity {other}"),
        },
        end_to_end: match field(38, 2) {
            0 => EndToEnd::Valid,
            1 => EndToEnd::Absent,
            2 => EndToEnd::Invalid,
            other => panic!("packed request: end-to-end {other}"),
        },
    };
    Request {
        role: if field(32, 1) == 0 { Role::Server } else { Role::Device },
        event: match field(33, 3) {
            0 => Event::SendData,
            1 => Event::ReceiveUnprotected,
            2 => Event::ReceiveProtected,
            3 => Event::ReceiveTrigger(trigger()),
            4 => Event::SendTrigger,
            other => panic!("packed request: event {other}"),
        },
        server: second as u32,
        attach: Attach {
            serving: match first as u32 {
                0 => None,
                key => Some(plmn(key)),
            },
            home: plmn((first >> 32) as u32),
            access: access_kind(field(40, 2)),
        },
        // Flags take their bits in declaration order, as the words have them; bit 49 says they are known.
        link: (field(49, 1) == 1).then(|| LinkState::from_bits_retain(field(42, 2))),
        registration: {
            let agreement = Agreement::from_bits_retain(field(47, 2));
            match field(44, 3) {
                0 => Registration::None,
                1 => Registration::Mismatch,
                2 => Registration::NetworkView(agreement),
                3 => Registration::DeviceReport(agreement),
                4 => Registration::ServerIndication(agreement),
                other => panic!("packed request: registration {other}"),
            }
        },
    }
}

/// The `access-kind` of its case number (two bits: every value names one).
#[inline(always)]
pub(crate) fn access_kind(case: u8) -> AccessKind {
    match case {
        0 => AccessKind::ThreeGpp,
        1 => AccessKind::TrustedNonThreeGpp,
        2 => AccessKind::UntrustedNonThreeGpp,
        _ => AccessKind::Wireline,
    }
}

/// A `plmn-key` unpacked.
fn plmn(key: u32) -> PlmnId {
    PlmnId::from_key(key)
}

/// The decision as one byte: the action in bits 0-2, the reason in bits 3-7.
pub(crate) fn byte(decision: Decision) -> u8 {
    decision.action as u8 | (decision.reason as u8) << 3
}
