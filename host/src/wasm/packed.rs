//! The packed batch encoding of the WIT's `decide-packed` export: two 64-bit words per request, one
//! byte per decision. Lists of integers cross the boundary as one copy, where a `list<request>` is
//! lowered field by field — this is what makes a batch cheap per decision.

use crate::vocab::{AccessKind, Action, Event, EventKind, LinkState, Reason, Registration, Request, Role, ServerId};

/// How many reasons the WIT's `reason` enum has: the library's reasons after these are host-only.
const WIT_REASONS: usize = 15;

/// Where the event kind starts in a request's second word.
const EVENT_SHIFT: u32 = 33;

/// A request as the packed batch carries it: its PLMN-IDs as `plmn-key`s. The worker fills one straight
/// from a device's live facts, which hold the keys already.
pub(crate) struct PackedRequest {
    /// The serving network's key, 0 when unknown.
    pub(crate) serving: u32,
    pub(crate) home: u32,
    pub(crate) access: AccessKind,
    pub(crate) link: LinkState,
    pub(crate) server: ServerId,
    pub(crate) role: Role,
    pub(crate) event: Event,
    pub(crate) registration: Registration,
}

impl PackedRequest {
    /// Appends the request's two words to `words` (the layout is documented on `decide-packed` in the
    /// WIT).
    #[inline]
    pub(crate) fn push(self, words: &mut Vec<u64>) {
        let first = u64::from(self.serving) | u64::from(self.home) << 32;
        let (access_integrity, end_to_end) = match self.event {
            Event::ReceiveTrigger(check) => (check.access_integrity as u64, check.end_to_end as u64),
            _ => (0, 0),
        };
        let second = u64::from(self.server.get())
            | (self.role as u64) << 32
            | (self.event.kind() as u64) << EVENT_SHIFT
            | access_integrity << 36
            | end_to_end << 38
            | (self.access as u64) << 40
            | u64::from(self.link.ciphering) << 42
            | u64::from(self.link.integrity) << 43
            | (self.registration as u64) << 44;
        words.extend_from_slice(&[first, second]);
    }
}

/// Appends `request`'s two words to `words`.
#[inline]
pub(crate) fn push(words: &mut Vec<u64>, request: &Request) {
    let Request { role, event, server, attach, link, registration } = *request;
    let serving = attach.serving.map_or(0, |network| network.key());
    let home = attach.home.key();
    PackedRequest { serving, home, access: attach.access, link, server, role, event, registration }.push(words);
}

/// The event kind in a request's second word, as [`push`] wrote it.
#[inline]
pub(crate) fn event(second: u64) -> EventKind {
    EventKind::ALL[(second >> EVENT_SHIFT & 0b111) as usize]
}

/// The action and reason in a decision byte, or `None` when the byte names no WIT action or reason.
#[inline]
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
    fn the_event_comes_back_out_of_the_words() {
        let (_, requests) = crate::wasm::selfcheck::probes();
        let mut seen = std::collections::HashSet::new();
        for request in &requests {
            let mut words = Vec::new();
            push(&mut words, request);
            assert_eq!(words.len(), 2);
            assert_eq!(event(words[1]), request.event.kind());
            seen.insert(request.event.kind());
        }
        assert_eq!(seen.len(), EventKind::ALL.len(), "the probes have every event");
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
