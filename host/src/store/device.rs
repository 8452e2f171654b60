//! Devices in the live fact store: a handle per device, and per device a slot holding its attach facts
//! and link state packed into one atomic word — read on the per-packet path without a lock, a
//! reference count or a pointer to chase — plus its registration agreements, which are rare.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use arc_swap::ArcSwapOption;
use sha2::{Digest, Sha256};

use crate::store::held::{Held, Lookup};
use crate::vocab::{AccessKind, Attach, LinkState, PlmnId, ServerId};

/// A handle for a device, interned by a [`Runtime`](crate::Runtime) from the embedder's name for it
/// (a SUPI, an IMSI, an external identifier…).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceId(pub(crate) u32);

impl DeviceId {
    /// The raw handle.
    pub fn get(self) -> u32 {
        self.0
    }

    /// The handle whose raw number is `raw` (what [`DeviceId::get`] gave; for tables indexed by
    /// handle). A number the runtime never issued is refused by every call that takes it.
    pub fn from_raw(raw: u32) -> DeviceId {
        DeviceId(raw)
    }
}

/// A device's facts, as writers edit them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct DeviceFacts {
    /// `None` until the device's attach facts are known.
    pub(crate) attach: Option<Attach>,
    /// `None` until known; unknown access security counts as off.
    pub(crate) link: Option<LinkState>,
    /// Stored registration outcomes, one per server at most (`store::registration`).
    pub(crate) agreements: Vec<Held>,
    /// Set when the attach facts and link state came from a fact feed (see
    /// [`Runtime::apply_fed`](crate::Runtime::apply_fed)).
    pub(crate) fed: Option<Fed>,
}

/// Where fed facts stand: the feed revision they were written at (at least 1), and whether the feed has been out of
/// reach longer than its staleness bound since.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Fed {
    pub(crate) revision: u64,
    pub(crate) stale: bool,
}

/// What a reader sees of a device: one consistent reading of its packed facts, and the generation it
/// is at least as new as.
#[derive(Clone, Copy)]
pub(crate) struct DeviceView {
    pub(crate) generation: u64,
    packed: u64,
}

impl DeviceView {
    /// The attach facts a decision uses: `None` while unknown, or while fed facts are stale.
    pub(crate) fn attach(self) -> Option<Attach> {
        if self.packed & STALE != 0 {
            return None;
        }
        unpack_attach(self.packed)
    }

    /// The facts came from a fact feed that has been out of reach longer than its staleness bound:
    /// decisions on them fail closed (reason `facts-stale`).
    pub(crate) fn stale(self) -> bool {
        self.packed & STALE != 0
    }

    /// The attach facts as `plmn-key`s — serving (0 when unknown), home — and the access kind; `None`
    /// while unknown or stale. What [`DeviceView::attach`] gives, without unpacking the keys.
    #[inline]
    pub(crate) fn attach_keys(self) -> Option<(u32, u32, AccessKind)> {
        if self.packed & (ATTACH | STALE) != ATTACH {
            return None;
        }
        let home = (self.packed >> KEY_BITS & KEY_MASK) as u32;
        let serving = if self.packed & SERVING != 0 { (self.packed & KEY_MASK) as u32 } else { 0 };
        Some((serving, home, *AccessKind::ALL.get((self.packed >> 56 & 0b11) as usize)?))
    }

    /// The link state, when known.
    pub(crate) fn link(self) -> Option<LinkState> {
        unpack_link(self.packed)
    }

    /// The link state's bits where a packed request's second word has them
    /// ([`packed::link_bits`](crate::wasm::packed::link_bits)).
    #[inline(always)]
    pub(crate) fn link_bits(self) -> u64 {
        self.packed >> LINK_SHIFT & (LINK | CIPHERING | INTEGRITY) >> LINK_SHIFT
    }

    pub(crate) fn has_agreements(self) -> bool {
        self.packed & AGREEMENTS != 0
    }
}

/// The live facts of one device.
#[derive(Default)]
pub(crate) struct DeviceSlot {
    packed: AtomicU64,
    generation: AtomicU64,
    /// The feed revision of fed facts; 0 when never fed (revisions start at 1).
    revision: AtomicU64,
    agreements: ArcSwapOption<Vec<Held>>,
    /// The device's place among all devices, from its name (see `rollout`): set once, before its
    /// handle is issued to anyone.
    place: AtomicU64,
}

impl DeviceSlot {
    /// The device's place among all devices (the SHA-256 prefix of its name), which picks a canary's
    /// devices.
    #[inline(always)]
    pub(crate) fn place(&self) -> u64 {
        self.place.load(Ordering::Relaxed)
    }

    /// Sets the device's place: before its handle is issued, or (for a device issued before any canary)
    /// before the first canary is installed.
    pub(crate) fn set_place(&self, place: u64) {
        self.place.store(place, Ordering::Relaxed);
    }

    /// The device's facts now. The generation is read first and published last, so the facts read are
    /// never older than the generation returned: a stamp can only be too old, which costs a miss.
    pub(crate) fn view(&self) -> DeviceView {
        let generation = self.generation.load(Ordering::Acquire);
        let packed = self.packed.load(Ordering::Acquire);
        DeviceView { generation, packed }
    }

    /// The current generation.
    #[inline(always)]
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// What a decision on the device and `server` rests on at `now` (seconds since the Unix epoch):
    /// the stored registration outcome, if there is one. Out of line: most devices hold none, and
    /// callers ask [`DeviceView::has_agreements`] first.
    #[inline(never)]
    pub(crate) fn lookup(&self, server: ServerId, now: u64) -> Lookup {
        let agreements = self.agreements.load();
        agreements
            .iter()
            .flat_map(|list| list.iter())
            .find(|held| held.server == server)
            .map_or(Lookup::None, |held| held.lookup(now))
    }

    /// Whether any stored outcome satisfies `test` (read without a copy).
    pub(crate) fn any_held(&self, test: impl Fn(&Held) -> bool) -> bool {
        self.agreements.load().iter().flat_map(|list| list.iter()).any(test)
    }

    /// The stored outcome for `server`.
    pub(crate) fn held(&self, server: ServerId) -> Option<Held> {
        self.agreements.load().iter().flat_map(|list| list.iter()).find(|held| held.server == server).copied()
    }

    /// Everything, for a writer to edit.
    pub(crate) fn facts(&self) -> DeviceFacts {
        let packed = self.packed.load(Ordering::Acquire);
        // Most devices hold no agreement: the word says so, without touching the shared list.
        let agreements = match packed & AGREEMENTS {
            0 => Vec::new(),
            _ => self.agreements.load().as_ref().map(|list| list.to_vec()).unwrap_or_default(),
        };
        let revision = self.revision.load(Ordering::Acquire);
        let fed = (revision != 0).then_some(Fed { revision, stale: packed & STALE != 0 });
        DeviceFacts { attach: unpack_attach(packed), link: unpack_link(packed), agreements, fed }
    }

    /// The feed revision of the device's facts; 0 when they were never fed.
    pub(crate) fn revision(&self) -> u64 {
        self.revision.load(Ordering::Acquire)
    }

    /// Publishes new facts as `generation`. Callers serialise writers.
    pub(crate) fn publish(&self, facts: &DeviceFacts, generation: u64) {
        // The shared list is replaced only when there are agreements now or there were before (a store
        // into an `ArcSwap` costs hundreds of instructions; most devices never hold one).
        let had = self.packed.load(Ordering::Relaxed) & AGREEMENTS != 0;
        if had || !facts.agreements.is_empty() {
            let agreements = (!facts.agreements.is_empty()).then(|| Arc::new(facts.agreements.clone()));
            self.agreements.store(agreements);
        }
        self.revision.store(facts.fed.map_or(0, |fed| fed.revision), Ordering::Release);
        self.packed.store(pack(facts), Ordering::Release);
        self.generation.store(generation, Ordering::Release);
    }
}

// The packed word: bit 63 attach known, 62 serving known, 59 link known, 53 integrity, 52 ciphering,
// 58 has agreements, 56..58 access kind, 55 fed, 54 stale, 26..52 home key, 0..26 serving key. The
// link bits sit `LINK_SHIFT` above where a packed request's second word has them (49 known, 43
// integrity, 42 ciphering), so a request takes them with one shift and one mask.
const ATTACH: u64 = 1 << 63;
const SERVING: u64 = 1 << 62;
const LINK: u64 = 1 << 59;
const CIPHERING: u64 = 1 << 52;
const INTEGRITY: u64 = 1 << 53;
const LINK_SHIFT: u32 = 10;
const AGREEMENTS: u64 = 1 << 58;
const STALE: u64 = 1 << 54;
const KEY_BITS: u32 = 26;
const KEY_MASK: u64 = (1 << KEY_BITS) - 1;

fn pack(facts: &DeviceFacts) -> u64 {
    let mut word = 0;
    if let Some(attach) = facts.attach {
        word |= ATTACH | u64::from(attach.home.key()) << KEY_BITS;
        word |= (attach.access as u64) << 56;
        if let Some(serving) = attach.serving {
            word |= SERVING | u64::from(serving.key());
        }
    }
    if let Some(link) = facts.link {
        word |= LINK;
        word |= if link.ciphering { CIPHERING } else { 0 } | if link.integrity { INTEGRITY } else { 0 };
    }
    if !facts.agreements.is_empty() {
        word |= AGREEMENTS;
    }
    if facts.fed.is_some_and(|fed| fed.stale) {
        word |= STALE;
    }
    word
}

fn unpack_attach(word: u64) -> Option<Attach> {
    if word & ATTACH == 0 {
        return None;
    }
    let home = PlmnId::from_valid_key((word >> KEY_BITS & KEY_MASK) as u32);
    let serving = (word & SERVING != 0).then(|| PlmnId::from_valid_key((word & KEY_MASK) as u32));
    let access = *AccessKind::ALL.get((word >> 56 & 0b11) as usize)?;
    Some(Attach { serving, home, access })
}

fn unpack_link(word: u64) -> Option<LinkState> {
    (word & LINK != 0).then_some(LinkState { ciphering: word & CIPHERING != 0, integrity: word & INTEGRITY != 0 })
}

/// Device slots by handle, readable without a lock: a directory of fixed-size chunks of slots, each
/// chunk allocated when its first device is. Handles are dense, so a chunk fills before the next.
pub(crate) struct SlotTable {
    chunks: Box<[OnceLock<Box<[DeviceSlot]>>]>,
    issued: AtomicU32,
}

const CHUNK: usize = 4096;
const CHUNKS: usize = 4096;
/// How many devices one runtime can hold.
pub(crate) const MAX_DEVICES: usize = CHUNK * CHUNKS;

/// The place of a device issued before any canary ran: none yet (no place is this value, see
/// [`place`]).
pub(crate) const UNPLACED: u64 = u64::MAX;

impl SlotTable {
    pub(crate) fn new() -> SlotTable {
        SlotTable { chunks: (0..CHUNKS).map(|_| OnceLock::new()).collect(), issued: AtomicU32::new(0) }
    }

    /// The slot of an issued handle.
    pub(crate) fn get(&self, device: DeviceId) -> Option<&DeviceSlot> {
        if device.0 >= self.issued.load(Ordering::Acquire) {
            return None;
        }
        let index = device.0 as usize;
        self.chunks.get(index / CHUNK)?.get()?.get(index % CHUNK)
    }

    /// How many handles were issued.
    pub(crate) fn issued(&self) -> u32 {
        self.issued.load(Ordering::Acquire)
    }

    /// Issues the next handle, for a device at `place`; `None` past [`MAX_DEVICES`]. Callers
    /// serialise issuing.
    pub(crate) fn issue(&self, place: u64) -> Option<DeviceId> {
        let next = self.issued.load(Ordering::Acquire);
        let index = next as usize;
        let chunk = self.chunks.get(index / CHUNK)?;
        chunk.get_or_init(|| (0..CHUNK).map(|_| DeviceSlot::default()).collect())[index % CHUNK].set_place(place);
        self.issued.store(next + 1, Ordering::Release);
        Some(DeviceId(next))
    }
}

/// A device's place among all devices: the first 8 bytes of the SHA-256 of its name, big-endian.
pub(crate) fn place(name: &str) -> u64 {
    let digest = Sha256::digest(name.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    // All ones is `UNPLACED`; the place just below selects alike (no fraction below 100 % selects
    // either).
    u64::from_be_bytes(first).min(UNPLACED - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_are_the_sha256_prefix() {
        // printf %s meter-1 | sha256sum
        let digest = Sha256::digest(b"meter-1");
        assert_eq!(place("meter-1").to_be_bytes(), digest[..8]);
    }

    /// The keys a batch packs straight from the live word are those of the attach facts it holds.
    #[test]
    fn link_bits_are_the_packed_requests() {
        for link in [None, Some(LinkState::OFF), Some(LinkState::ON)].into_iter().chain(
            [(true, false), (false, true)].map(|(ciphering, integrity)| Some(LinkState { ciphering, integrity })),
        ) {
            let facts = DeviceFacts { link, ..DeviceFacts::default() };
            let view = DeviceView { packed: pack(&facts), generation: 0 };
            assert_eq!(view.link_bits(), crate::wasm::packed::link_bits(link), "{link:?}");
            assert_eq!(view.link(), link);
        }
    }

    #[test]
    fn attach_keys_are_the_attach_facts_keys() {
        let plmn = |packed: &str| packed.parse::<PlmnId>().expect("a PLMN-ID");
        let mut cases = vec![None];
        for (serving, home) in
            [(None, "31041"), (Some("310410"), "31041"), (Some("001070"), "00170"), (Some("99999"), "999999")]
        {
            for access in AccessKind::ALL.iter().copied() {
                cases.push(Some(Attach { serving: serving.map(plmn), home: plmn(home), access }));
            }
        }
        for attach in cases {
            let facts = DeviceFacts { attach, link: None, agreements: Vec::new(), fed: None };
            let view = DeviceView { generation: 1, packed: pack(&facts) };
            let expected = attach.map(|a| (a.serving.map_or(0, PlmnId::key), a.home.key(), a.access));
            assert_eq!(view.attach_keys(), expected, "{attach:?}");
            assert_eq!(view.attach(), attach);
        }
    }
}
