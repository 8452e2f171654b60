//! The packed encoding of the WIT's `decide-packed` and `decide-scalar` exports: two 64-bit words per
//! request, one byte per decision. Lists of integers cross the boundary as one copy, where a
//! `list<request>` is lowered field by field — this is what makes a batch cheap per decision — and a
//! single request crosses as two integer parameters.

use crate::vocab::{
    AccessIntegrity, AccessKind, Action, Agreement, Attach, EndToEnd, Event, EventKind, LinkState, PlmnId, Reason,
    Registration, RegistrationSource, Request, Role, ServerId, TriggerCheck,
};

/// How many reasons the WIT's `reason` enum has: the library's reasons after these are host-only.
const WIT_REASONS: usize = 17;

/// Where the registration starts in a request's second word: its case (3 bits: `none`, `mismatch`, then
/// an agreement by its source), then an agreement's `application-security` and
/// `accept-plain-unciphered`.
const REGISTRATION_SHIFT: u32 = 44;

/// Where the event kind starts in a request's second word.
const EVENT_SHIFT: u32 = 33;

/// The bit of a request's second word set when the link state is known (bits 42-43 hold it).
const LINK_KNOWN: u32 = 49;

/// A request as the packed batch carries it: its PLMN-IDs as `plmn-key`s. The worker fills one straight
/// from a device's live facts, which hold the keys already.
pub(crate) struct PackedRequest {
    /// The serving network's key, 0 when unknown.
    pub(crate) serving: u32,
    pub(crate) home: u32,
    pub(crate) access: AccessKind,
    /// The link state's bits as the second word places them ([`link_bits`]): none while the asking
    /// node does not know it.
    pub(crate) link: u64,
    pub(crate) server: ServerId,
    pub(crate) role: Role,
    pub(crate) event: Event,
    /// The registration's bits ([`registration_bits`]; 0 for none).
    pub(crate) registration: u64,
}

impl PackedRequest {
    /// Appends the request's two words to `words`.
    #[inline]
    pub(crate) fn push(self, words: &mut Vec<u64>) {
        words.extend_from_slice(&self.words());
    }

    /// The request's two words (the layout is documented on `decide-packed` in the WIT).
    #[inline]
    pub(crate) fn words(self) -> [u64; 2] {
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
            | self.link
            | self.registration << REGISTRATION_SHIFT;
        [first, second]
    }
}

/// The link state's bits, in place: 42 ciphering, 43 integrity, 49 known.
#[inline(always)]
pub(crate) fn link_bits(link: Option<LinkState>) -> u64 {
    match link {
        Some(link) => 1 << LINK_KNOWN | u64::from(link.ciphering) << 42 | u64::from(link.integrity) << 43,
        None => 0,
    }
}

/// The registration's bits, from the word's bit 44.
#[inline]
pub(crate) fn registration_bits(registration: Registration) -> u64 {
    match registration {
        Registration::Agreed(agreement) => {
            (2 + agreement.source as u64)
                | u64::from(agreement.application_security) << 3
                | u64::from(agreement.accept_plain_unciphered) << 4
        }
        Registration::Mismatch => 1,
        _ => 0,
    }
}

/// A request's second word as 0.1.0's packed batch has it: the agreement's details cleared, and an
/// agreement that requires application-layer security turned into `mismatch` (as
/// [`v0_1::registration`](crate::wasm::wit::v0_1::registration) does), and no word of whether the link
/// state is known (an unknown one is both flags off, as 0.1.0 had it).
#[inline]
pub(crate) fn to_v0_1(second: u64) -> u64 {
    // 0.1.0's registration (bits 44-45): none 0, agreed 1, mismatch 2.
    let bits = second >> REGISTRATION_SHIFT & 0b1_1111;
    let case = match bits & 0b111 {
        0 => 0,
        1 => 2,
        _ if bits >> 3 & 1 == 1 => 2,
        _ => 1,
    };
    second & !(0b1_1111 << REGISTRATION_SHIFT | 1 << LINK_KNOWN) | case << REGISTRATION_SHIFT
}

/// Appends `request`'s two words to `words`.
#[inline]
pub(crate) fn push(words: &mut Vec<u64>, request: &Request) {
    words.extend_from_slice(&self::words(request));
}

/// `request`'s two words.
#[inline]
pub(crate) fn words(request: &Request) -> [u64; 2] {
    let Request { role, event, server, attach, link, registration } = *request;
    let serving = attach.serving.map_or(0, |network| network.key());
    let home = attach.home.key();
    let registration = registration_bits(registration);
    PackedRequest { serving, home, access: attach.access, link: link_bits(link), server, role, event, registration }
        .words()
}

/// The request in `words`, as [`words`] wrote it: what a batch's log records for the flows it asked
/// (exactly what the policy was asked, with no read-back of live facts). `None` for words [`words`]
/// cannot have written (its networks are taken as written: the host packed them from valid ones).
pub(crate) fn request([first, second]: [u64; 2]) -> Option<Request> {
    let field = |shift: u32, bits: u32| (second >> shift & ((1 << bits) - 1)) as usize;
    let event = match *EventKind::ALL.get(field(EVENT_SHIFT, 3))? {
        EventKind::SendData => Event::SendData,
        EventKind::ReceiveUnprotected => Event::ReceiveUnprotected,
        EventKind::ReceiveProtected => Event::ReceiveProtected,
        EventKind::ReceiveTrigger => Event::ReceiveTrigger(TriggerCheck {
            access_integrity: *AccessIntegrity::ALL.get(field(36, 2))?,
            end_to_end: *EndToEnd::ALL.get(field(38, 2))?,
        }),
        EventKind::SendTrigger => Event::SendTrigger,
    };
    let serving = match first as u32 {
        0 => None,
        key => Some(PlmnId::from_valid_key(key)),
    };
    let bits = field(REGISTRATION_SHIFT, 5);
    let registration = match bits & 0b111 {
        0 => Registration::None,
        1 => Registration::Mismatch,
        source => Registration::Agreed(Agreement {
            source: *RegistrationSource::ALL.get(source - 2)?,
            application_security: bits >> 3 & 1 == 1,
            accept_plain_unciphered: bits >> 4 & 1 == 1,
        }),
    };
    Some(Request {
        role: Role::ALL[field(32, 1)],
        event,
        server: ServerId::new(second as u32),
        attach: Attach {
            serving,
            home: PlmnId::from_valid_key((first >> 32) as u32),
            access: AccessKind::ALL[field(40, 2)],
        },
        link: (field(LINK_KNOWN, 1) == 1)
            .then(|| LinkState { ciphering: field(42, 1) == 1, integrity: field(43, 1) == 1 }),
        registration,
    })
}

/// The event kind in a request's second word, as [`push`] wrote it.
#[inline]
pub(crate) fn event(second: u64) -> EventKind {
    EventKind::ALL[(second >> EVENT_SHIFT & 0b111) as usize]
}

/// The role and event kind in a request's second word, as [`push`] wrote them.
#[inline]
pub(crate) fn asked(second: u64) -> (Role, EventKind) {
    (Role::ALL[(second >> 32 & 1) as usize], event(second))
}

/// Every answer byte checked beforehand for each role and event a request's second word can carry:
/// `ANSWERS[second >> 32 & 0xf][byte]` is `byte` itself when it names a WIT action and reason and the
/// action fits the role and event, else [`REFUSED`]. One load per answer instead of decoding and
/// checking it ([`decision`], `Action::fits`).
pub(crate) static ANSWERS: std::sync::LazyLock<Box<[[u8; 256]; 16]>> = std::sync::LazyLock::new(|| {
    let mut table = Box::new([[REFUSED; 256]; 16]);
    for (bits, row) in table.iter_mut().enumerate() {
        let second = (bits as u64) << 32;
        if second >> EVENT_SHIFT & 0b111 >= EventKind::COUNT as u64 {
            continue;
        }
        let (role, event) = asked(second);
        for byte in 0..=u8::MAX {
            if decision(byte).is_some_and(|(action, _)| action.fits(role, event)) {
                row[usize::from(byte)] = byte;
            }
        }
    }
    table
});

/// What [`ANSWERS`] holds for an answer that names nothing or does not fit (no valid byte is 0xff:
/// there are six actions).
pub(crate) const REFUSED: u8 = 0xff;

/// The checked decision of answer `byte` to the request whose second word is `second`, by [`ANSWERS`];
/// `None` when it is refused.
#[inline(always)]
pub(crate) fn checked(table: &[[u8; 256]; 16], second: u64, byte: u8) -> Option<(Action, Reason)> {
    match table[(second >> 32 & 0xf) as usize][usize::from(byte)] {
        REFUSED => None,
        byte => Some((Action::ALL[usize::from(byte & 0b111)], Reason::ALL[usize::from(byte >> 3)])),
    }
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
        assert_eq!(Reason::ALL[WIT_REASONS - 1], Reason::RegistrationRequiresApplicationSecurity);
        assert!(Reason::ALL[WIT_REASONS..].iter().all(|reason| reason.is_engine_reason()));
    }

    /// Every request the self-check puts, with every registration outcome, comes back out of its words.
    #[test]
    fn a_request_comes_back_out_of_its_words() {
        use crate::vocab::{Agreement, RegistrationSource};
        let (_, requests) = crate::wasm::selfcheck::probes();
        let mut registrations = vec![Registration::None, Registration::Mismatch];
        for source in RegistrationSource::ALL.iter().copied() {
            for (application_security, accept_plain_unciphered) in [(false, false), (true, false), (false, true)] {
                registrations.push(Registration::Agreed(Agreement {
                    source,
                    application_security,
                    accept_plain_unciphered,
                }));
            }
        }
        for request in &requests {
            for &registration in &registrations {
                let request = Request { registration, ..*request };
                assert_eq!(super::request(words(&request)), Some(request));
            }
        }
        assert_eq!(super::request([0, 7 << EVENT_SHIFT]), None, "no eighth event");
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

    /// The table agrees with decoding and checking each answer, for every role, event and byte.
    #[test]
    fn the_answer_table_is_the_check() {
        for role in Role::ALL.iter().copied() {
            for event in EventKind::ALL.iter().copied() {
                let second = (role as u64) << 32 | (event as u64) << EVENT_SHIFT;
                for byte in 0..=u8::MAX {
                    let want = decision(byte).filter(|(action, _)| action.fits(role, event));
                    assert_eq!(checked(&ANSWERS, second, byte), want, "{role} {event} {byte:#04x}");
                }
            }
        }
    }

    #[test]
    fn bytes_decode_to_the_wit_order_and_refuse_the_rest() {
        assert_eq!(decision(0), Some((Action::SendPlain, Reason::PathSecure)));
        assert_eq!(decision(5 | 14 << 3), Some((Action::ProtectTrigger, Reason::EventNotForRole)));
        assert_eq!(
            decision(1 | 16 << 3),
            Some((Action::SecureThenSend, Reason::RegistrationRequiresApplicationSecurity))
        );
        assert_eq!(decision(6), None, "no seventh action");
        assert_eq!(decision(17 << 3), None, "the host-only reasons are not the policy's to give");
        assert_eq!(decision(0xff), None);
    }

    /// 0.1.0's words keep everything but the agreement's details and the link-known bit (0.1.0 has no
    /// unknown link state: unknown is both flags off); an agreement that requires application-layer
    /// security reads as `mismatch`.
    #[test]
    fn words_for_0_1_carry_the_registration_as_it_had_it() {
        use crate::vocab::{Agreement, RegistrationSource};
        let second = |registration: Registration| {
            let mut words = Vec::new();
            let (_, requests) = crate::wasm::selfcheck::probes();
            push(&mut words, &Request { registration, ..requests[0] });
            words[1]
        };
        let agreed = |application_security| {
            Registration::Agreed(Agreement {
                source: RegistrationSource::DeviceReport,
                application_security,
                accept_plain_unciphered: true,
            })
        };
        let none = second(Registration::None);
        assert_eq!(none >> LINK_KNOWN & 1, 1, "the probe's link state is known");
        let as_0_1 = none & !(1 << LINK_KNOWN);
        assert_eq!(to_v0_1(second(agreed(false))), as_0_1 | 1 << REGISTRATION_SHIFT);
        assert_eq!(to_v0_1(second(agreed(true))), as_0_1 | 2 << REGISTRATION_SHIFT);
        assert_eq!(to_v0_1(second(Registration::Mismatch)), as_0_1 | 2 << REGISTRATION_SHIFT);
        assert_eq!(to_v0_1(none), as_0_1);
    }
}
