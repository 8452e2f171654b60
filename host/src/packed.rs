//! The packed batch encoding of the WIT's `decide-packed` export: two 64-bit words per request, one
//! byte per decision. Lists of integers cross the boundary as one copy, where a `list<request>` is
//! lowered field by field — this is what makes a batch cheap per decision.

use crate::decision::{Action, Reason};
use crate::request::{Event, Request};

/// How many reasons the WIT's `reason` enum has: the library's reasons after these are host-only.
const WIT_REASONS: usize = 15;

/// Appends `request`'s two words to `words` (the layout is documented on `decide-packed` in the WIT).
pub(crate) fn push(words: &mut Vec<u64>, request: &Request) {
    let attach = &request.attach;
    let serving = attach.serving.map_or(0, |network| network.key());
    words.push(u64::from(serving) | (u64::from(attach.home.key()) << 32));
    let (access_integrity, end_to_end) = match request.event {
        Event::ReceiveTrigger(check) => (check.access_integrity as u64, check.end_to_end as u64),
        _ => (0, 0),
    };
    words.push(
        u64::from(request.server.get())
            | (request.role as u64) << 32
            | (request.event.kind() as u64) << 33
            | access_integrity << 36
            | end_to_end << 38
            | (attach.access as u64) << 40
            | u64::from(request.link.ciphering) << 42
            | u64::from(request.link.integrity) << 43
            | (request.registration as u64) << 44,
    );
}

/// The action and reason in a decision byte, or `None` when the byte names no WIT action or reason.
pub(crate) fn decision(byte: u8) -> Option<(Action, Reason)> {
    let action = *Action::ALL.get(usize::from(byte & 0b111))?;
    let reason = usize::from(byte >> 3);
    (reason < WIT_REASONS).then(|| (action, Reason::ALL[reason]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wit_reasons_come_first() {
        assert_eq!(Reason::ALL[WIT_REASONS - 1], Reason::EventNotForRole);
        assert!(Reason::ALL[WIT_REASONS..].iter().all(|reason| reason.is_engine_reason()));
    }

    #[test]
    fn bytes_decode_to_the_wit_order_and_refuse_the_rest() {
        assert_eq!(decision(0), Some((Action::SendPlain, Reason::PathSecure)));
        assert_eq!(decision(5 | 14 << 3), Some((Action::ProtectTrigger, Reason::EventNotForRole)));
        assert_eq!(decision(6), None, "no seventh action");
        assert_eq!(decision(15 << 3), None, "the host-only reasons are not the policy's to give");
        assert_eq!(decision(0xff), None);
    }
}
