//! Media over a circuit-switched leg (`pathsec:policy/media-security`), after 004 (US 9,258,700): how a
//! call's media is protected, and the host's voucher handling. An optional export; without it no media
//! is released.
//!
//! The host owns the vouchers, as the method's application server does (004, FIG. 3 and claim 1): it
//! **stores** the voucher from the device's session initiation ([`Runtime::store_voucher`]), keyed by the
//! calling and called identities; when the gateway's later initiation comes
//! ([`Worker::correlate_media`]) it **correlates** the two by those identities (SIP and tel URI
//! equivalence: [`CallIdentity`]), takes the voucher out (single use) and asks the policy; the voucher
//! is released only with media-layer protection. A voucher not correlated within the timeout is dropped;
//! a voucher presented again while remembered is refused; the store is bounded (the oldest dropped when
//! full); all of it counted ([`MediaStats`]).

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use sha2::{Digest, Sha256};

use wasmtime::Store;

use super::bounded::Recent;
use super::call_identity::{CallIdentity, IdentityError};
use super::{Interface, Tally};
use crate::facts::FactSet;
use crate::runtime::{Runtime, RuntimeBuilder, Worker};
use crate::sync::Locked;
use crate::vocab::named::named_enum;
use crate::vocab::{PolicyFault, write_fault};
use crate::wasm::Decider;
use crate::wasm::plug::{RelatedDecision, Verdict};
use crate::wasm::sandbox::StoreState;
use crate::wasm::wit::{self, exports::pathsec::policy::media_security as media};

/// The identities of a call's two ends, as the call signalling wrote them (SIP or tel URIs); compared
/// as [`CallIdentity`] says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallParties {
    /// The device's identity.
    pub device: String,
    /// The peer's identity.
    pub peer: String,
}

impl CallParties {
    /// Whether both ends name the same parties as `other`'s ([`CallIdentity::same_party`]: unambiguous
    /// and equal).
    pub fn same_parties(&self, other: &CallParties) -> bool {
        CallIdentity::same_party(&self.device, &other.device) && CallIdentity::same_party(&self.peer, &other.peer)
    }
}

/// A media key voucher: the key material is for the call between these parties.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Voucher {
    /// The parties the voucher was issued for.
    pub parties: CallParties,
    /// The key it delivers, opaque to pathsec.
    pub key: Vec<u8>,
}

/// A call whose media is about to flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaRequest {
    /// The media crosses a circuit-switched leg.
    pub crosses_cs_leg: bool,
    /// The media passes through a media gateway.
    pub via_gateway: bool,
    /// The packet-switched path is secure at the network layer (as [`Decider::decide`](crate::Decider::decide) found it).
    pub network_path_secure: bool,
    /// The call.
    pub call: CallParties,
    /// The voucher on offer for the call, if any. The policy learns only that there is one; the host
    /// releases it only to a call with the same parties.
    pub voucher: Option<Voucher>,
}

named_enum! {
    /// How a call's media is protected.
    pub enum MediaProtection as "a media protection" {
        /// The network layer protects the whole media path.
        NetworkLayer = "network-layer",
        /// Media-layer security with the key the voucher delivers.
        MediaLayer = "media-layer",
        /// The media cannot be protected and must not flow.
        Refuse = "refuse",
    }
}

named_enum! {
    /// Why a call's media is protected as it is.
    #[non_exhaustive]
    pub enum MediaReason as "a media reason" {
        /// The media stays on a secure packet-switched path end to end.
        PathSecure = "path-secure",
        /// The media crosses a CS leg and a gateway.
        CsLeg = "cs-leg",
        /// The packet-switched path is not secure at the network layer.
        PathNotSecure = "path-not-secure",
        /// Media-layer security is needed and no voucher is on offer.
        NoVoucher = "no-voucher",
        /// The voucher was issued for other parties than the call's: the host withheld it and the
        /// media is refused. Never sent by a policy.
        VoucherMismatch = "voucher-mismatch",
        /// A party's URI does not name one party for sure (or is no URI): the host withheld any voucher
        /// and refused the media. Never sent by a policy.
        IdentityUnclear = "identity-unclear",
        /// The policy failed, or does not export media security (see the verdict's fault); the engine
        /// refused the media. Never sent by a policy.
        PolicyFault = "policy-fault",
    }
}

/// Media security's answer. It always exists: when the policy fails or lacks media security, or the
/// voucher does not match the call, the media is refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaVerdict {
    /// How to protect the media.
    pub protection: MediaProtection,
    /// Why.
    pub reason: MediaReason,
    /// The voucher, released to the call: present only with [`MediaProtection::MediaLayer`].
    pub voucher: Option<Voucher>,
    /// Why the policy could not decide, when it could not.
    pub fault: Option<Arc<PolicyFault>>,
}

impl MediaVerdict {
    /// The fail-closed verdict: refuse the media, because of `fault`.
    pub fn fail_closed(fault: Arc<PolicyFault>) -> MediaVerdict {
        MediaVerdict {
            protection: MediaProtection::Refuse,
            reason: MediaReason::PolicyFault,
            voucher: None,
            fault: Some(fault),
        }
    }

    /// The policy's answer for `request`, checked, with the voucher released when the answer is
    /// media-layer security and the voucher's parties are the call's. Network-layer protection for
    /// media that crosses a CS leg through a gateway, or on a path that is not secure, and media-layer
    /// security without a voucher on offer, make no sense: faults, and the media is refused.
    pub(crate) fn checked(request: &MediaRequest, protection: MediaProtection, reason: MediaReason) -> MediaVerdict {
        let nonsense = match protection {
            MediaProtection::NetworkLayer if request.crosses_cs_leg && request.via_gateway => {
                Some("network-layer security does not reach across a CS leg and a gateway")
            }
            MediaProtection::NetworkLayer if !request.network_path_secure => {
                Some("the packet-switched path is not secure at the network layer")
            }
            MediaProtection::MediaLayer if request.voucher.is_none() => Some("no voucher is on offer for the key"),
            _ => None,
        };
        if let Some(why) = nonsense {
            let fault = PolicyFault::OutcomeNotAllowed { outcome: protection.name(), why };
            return MediaVerdict::fail_closed(Arc::new(fault));
        }
        match (protection, &request.voucher) {
            (MediaProtection::MediaLayer, Some(voucher)) if !voucher.parties.same_parties(&request.call) => {
                MediaVerdict {
                    protection: MediaProtection::Refuse,
                    reason: MediaReason::VoucherMismatch,
                    voucher: None,
                    fault: None,
                }
            }
            (MediaProtection::MediaLayer, voucher) => {
                MediaVerdict { protection, reason, voucher: voucher.clone(), fault: None }
            }
            _ => MediaVerdict { protection, reason, voucher: None, fault: None },
        }
    }
}

impl fmt::Display for MediaVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.protection, self.reason)?;
        if self.voucher.is_some() {
            write!(f, ", voucher released")?;
        }
        write_fault(f, self.fault.as_deref())
    }
}

impl Verdict for MediaVerdict {
    fn fail_closed(fault: Arc<PolicyFault>) -> MediaVerdict {
        MediaVerdict::fail_closed(fault)
    }

    fn fault(&self) -> Option<&Arc<PolicyFault>> {
        self.fault.as_ref()
    }

    fn is_fail_closed(&self) -> bool {
        self.reason == MediaReason::PolicyFault
    }

    fn same_answer(&self, other: &MediaVerdict) -> bool {
        (self.protection, self.reason, self.voucher.is_some())
            == (other.protection, other.reason, other.voucher.is_some())
    }
}

/// Media security, as `pathsec check` reports it.
pub const MEDIA_SECURITY: Interface = Interface::of::<wit::MediaSecurity>(
    "media_security",
    "media",
    "decided (exports pathsec:policy/media-security)",
    "no media security: no call's media is released (fail closed)",
);

/// How a call's media is protected, through `decide-media`.
pub(crate) enum DecideMedia {}

impl RelatedDecision for DecideMedia {
    type Export = wit::MediaSecurity;
    type Request = MediaRequest;
    type Answer = media::MediaVerdict;
    type Verdict = MediaVerdict;
    type State = MediaState;

    fn call(
        guest: &media::Guest,
        store: &mut Store<StoreState>,
        _facts: &FactSet,
        request: &MediaRequest,
    ) -> wasmtime::Result<media::MediaVerdict> {
        guest.call_decide_media(store, &lower(request))
    }

    fn check(request: &MediaRequest, answer: media::MediaVerdict) -> MediaVerdict {
        let (protection, reason) = lift(answer);
        MediaVerdict::checked(request, protection, reason)
    }
}

impl Decider {
    /// Decides how a call's media is protected, with the policy's media security, and releases the
    /// voucher to the call only when its parties are the call's (a mismatch withholds it and refuses
    /// the media). Never fails: a policy that fails, or does not export it, gets the media refused
    /// (reason `policy-fault`, with the fault).
    pub fn decide_media(&mut self, facts: &FactSet, request: &MediaRequest) -> MediaVerdict {
        self.related_here::<DecideMedia>(facts, request)
    }
}

impl Worker {
    /// Media security's verdict on a call, with the voucher released only to its own call; see
    /// [`Decider::decide_media`].
    pub fn decide_media(&mut self, request: &MediaRequest) -> MediaVerdict {
        self.related::<DecideMedia>(request)
    }
}

/// A gateway's session initiation for a device's call over a CS leg (004, FIG. 3 message 308): the
/// parties, and what the path decision found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayCall {
    /// The calling party's URI.
    pub calling: String,
    /// The called party's URI.
    pub called: String,
    /// The media crosses a circuit-switched leg.
    pub crosses_cs_leg: bool,
    /// The media passes through a media gateway.
    pub via_gateway: bool,
    /// The packet-switched path is secure at the network layer.
    pub network_path_secure: bool,
}

/// The bounds of a runtime's voucher store; see [`RuntimeBuilder::media`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MediaLimits {
    /// Vouchers held at most (default 100,000); the oldest is dropped for a new one when full.
    pub vouchers: usize,
    /// How long a stored voucher waits for its gateway initiation (default 60 s), and how long a
    /// presented voucher is remembered against replay.
    pub timeout: Duration,
}

impl Default for MediaLimits {
    fn default() -> MediaLimits {
        MediaLimits { vouchers: 100_000, timeout: Duration::from_secs(60) }
    }
}

/// The longest voucher taken, in bytes.
pub const MAX_VOUCHER: usize = 4096;

/// Why a voucher is not stored.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VoucherError {
    /// A party's URI names no party for sure.
    #[error("`{field}`: {reason}")]
    Identity {
        /// `calling` or `called`.
        field: &'static str,
        /// Why (in the message, so not also the error's source).
        reason: IdentityError,
    },
    /// The voucher is empty or longer than [`MAX_VOUCHER`].
    #[error("the voucher is {len} bytes: it must be 1 to 4,096")]
    Size {
        /// Its length.
        len: usize,
    },
    /// The same voucher was presented within the timeout: a replay, refused.
    #[error("this voucher was presented before (within {timeout_seconds} s): a replay is refused")]
    Replayed {
        /// The replay window.
        timeout_seconds: u64,
    },
    /// The limits cannot be used.
    #[error("media limits: `{field}` {why}")]
    Limits {
        /// The setting.
        field: &'static str,
        /// What is wrong.
        why: &'static str,
    },
}

/// What a runtime's voucher store has done (counts since it started).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MediaStats {
    /// Vouchers held now.
    pub vouchers_held: u64,
    /// Vouchers stored.
    pub stored: u64,
    /// Vouchers released to their call (media-layer protection).
    pub released: u64,
    /// Vouchers correlated but not released (the policy chose otherwise): used up all the same.
    pub unused: u64,
    /// Vouchers dropped because no gateway initiation correlated within the timeout.
    pub expired: u64,
    /// Vouchers dropped, oldest first, to make room.
    pub evicted: u64,
    /// Vouchers replaced by a newer one for the same parties.
    pub superseded: u64,
    /// Vouchers refused as replays.
    pub replays_refused: u64,
    /// Store or correlation attempts refused for a malformed or ambiguous URI.
    pub identities_refused: u64,
    /// Gateway initiations with no voucher stored for their parties.
    pub uncorrelated: u64,
}

/// A stored voucher.
struct Stored {
    voucher: Voucher,
    stored_at: u64,
}

struct Vouchers {
    /// By the call's parties, oldest first.
    by_call: Recent<(CallIdentity, CallIdentity), Stored>,
    /// Digests of vouchers presented, until when they are remembered, in that order.
    seen: VecDeque<(u64, [u8; 32])>,
    seen_set: HashSet<[u8; 32]>,
}

/// The host-held media state of a runtime: the voucher store.
pub(crate) struct MediaState {
    limits: MediaLimits,
    vouchers: Mutex<Vouchers>,
    stats: Tally<MEDIA_STATS>,
}

const MEDIA_STATS: usize = 9;
const STORED: usize = 0;
const RELEASED: usize = 1;
const UNUSED: usize = 2;
const EXPIRED: usize = 3;
const EVICTED: usize = 4;
const SUPERSEDED: usize = 5;
const REPLAYS: usize = 6;
const IDENTITIES: usize = 7;
const UNCORRELATED: usize = 8;

impl Default for MediaState {
    fn default() -> MediaState {
        MediaState::new(MediaLimits::default())
    }
}

impl MediaState {
    fn new(limits: MediaLimits) -> MediaState {
        let vouchers =
            Vouchers { by_call: Recent::new(limits.vouchers), seen: VecDeque::new(), seen_set: HashSet::new() };
        MediaState { limits, vouchers: Mutex::new(vouchers), stats: Tally::default() }
    }

    fn count(&self, stat: usize) {
        self.stats.add(stat);
    }

    fn lock(&self) -> MutexGuard<'_, Vouchers> {
        // The store is whole between statements: a panic cannot leave an entry half-made.
        self.vouchers.locked()
    }

    /// Drops the vouchers older than the timeout and forgets the digests past theirs.
    fn purge(&self, vouchers: &mut Vouchers, now: u64) {
        let timeout = self.limits.timeout.as_secs();
        let expired = vouchers.by_call.remove_oldest_while(|stored| stored.stored_at.saturating_add(timeout) <= now);
        for _ in 0..expired {
            self.count(EXPIRED);
        }
        while vouchers.seen.front().is_some_and(|(until, _)| *until <= now) {
            if let Some((_, digest)) = vouchers.seen.pop_front() {
                vouchers.seen_set.remove(&digest);
            }
        }
    }

    fn store(&self, calling: &str, called: &str, key: Vec<u8>, now: u64) -> Result<(), VoucherError> {
        let identity = |field, text: &str| {
            CallIdentity::parse(text).map_err(|source| {
                self.count(IDENTITIES);
                VoucherError::Identity { field, reason: source }
            })
        };
        let parties = (identity("calling", calling)?, identity("called", called)?);
        if key.is_empty() || key.len() > MAX_VOUCHER {
            return Err(VoucherError::Size { len: key.len() });
        }
        let digest: [u8; 32] = Sha256::digest(&key).into();
        let mut vouchers = self.lock();
        self.purge(&mut vouchers, now);
        if vouchers.seen_set.contains(&digest) {
            self.count(REPLAYS);
            return Err(VoucherError::Replayed { timeout_seconds: self.limits.timeout.as_secs() });
        }
        if vouchers.by_call.contains_key(&parties) {
            self.count(SUPERSEDED);
        }
        let voucher = Voucher { parties: CallParties { device: calling.to_owned(), peer: called.to_owned() }, key };
        for _ in 0..vouchers.by_call.insert(parties, Stored { voucher, stored_at: now }) {
            self.count(EVICTED);
        }
        // Remembered as long as a stored voucher lives; the memory is bounded like the store (twice:
        // a voucher taken out is still remembered).
        vouchers.seen.push_back((now.saturating_add(self.limits.timeout.as_secs()), digest));
        vouchers.seen_set.insert(digest);
        while vouchers.seen.len() > 2 * self.limits.vouchers {
            if let Some((_, forgotten)) = vouchers.seen.pop_front() {
                vouchers.seen_set.remove(&forgotten);
            }
        }
        self.count(STORED);
        Ok(())
    }

    /// The voucher stored for `parties`, taken out (single use).
    fn take(&self, parties: &(CallIdentity, CallIdentity), now: u64) -> Option<Voucher> {
        let mut vouchers = self.lock();
        self.purge(&mut vouchers, now);
        let taken = vouchers.by_call.remove(parties).map(|stored| stored.voucher);
        if taken.is_none() {
            self.count(UNCORRELATED);
        }
        taken
    }

    fn stats(&self) -> MediaStats {
        let get = |stat: usize| self.stats.get(stat);
        MediaStats {
            vouchers_held: self.lock().by_call.len() as u64,
            stored: get(STORED),
            released: get(RELEASED),
            unused: get(UNUSED),
            expired: get(EXPIRED),
            evicted: get(EVICTED),
            superseded: get(SUPERSEDED),
            replays_refused: get(REPLAYS),
            identities_refused: get(IDENTITIES),
            uncorrelated: get(UNCORRELATED),
        }
    }
}

impl Runtime {
    /// Stores the voucher of a device's session initiation (004, FIG. 3 message 302: the application
    /// server stores it), for the call between `calling` and `called` (SIP or tel URIs), until the
    /// gateway's initiation correlates with it ([`Worker::correlate_media`]) or the timeout passes. A
    /// newer voucher for the same parties replaces the older. Refused, and counted: a URI that names no
    /// party for sure, a voucher of the wrong size, a voucher presented again while remembered.
    pub fn store_voucher(&self, calling: &str, called: &str, key: Vec<u8>) -> Result<(), VoucherError> {
        self.related_state::<DecideMedia>().store(calling, called, key, self.unix_now())
    }

    /// What the voucher store has done.
    pub fn media_stats(&self) -> MediaStats {
        self.related_state::<DecideMedia>().stats()
    }
}

impl RuntimeBuilder {
    /// The voucher store's bounds (default [`MediaLimits::default`]).
    pub fn media(self, limits: MediaLimits) -> Result<RuntimeBuilder, VoucherError> {
        if limits.vouchers == 0 {
            return Err(VoucherError::Limits { field: "vouchers", why: "must be at least 1" });
        }
        if limits.timeout.as_secs() == 0 {
            return Err(VoucherError::Limits { field: "timeout", why: "must be at least a second" });
        }
        Ok(self.related_state::<DecideMedia>(MediaState::new(limits)))
    }
}

impl Worker {
    /// Correlates a gateway's session initiation with a stored voucher (004, FIG. 3 messages 308-310):
    /// by the calling and called identities ([`CallIdentity`]), taking the voucher out (single use), then
    /// asks the policy; the voucher is released only with media-layer protection. A URI that names no
    /// party for sure refuses the media (`identity-unclear`) without asking; no voucher stored for the
    /// parties is a call without one on offer.
    pub fn correlate_media(&mut self, call: &GatewayCall) -> MediaVerdict {
        let state = self.runtime().related_state::<DecideMedia>();
        let now = self.runtime().unix_now();
        let parties = match (CallIdentity::parse(&call.calling), CallIdentity::parse(&call.called)) {
            (Ok(calling), Ok(called)) => (calling, called),
            _ => {
                state.count(IDENTITIES);
                return MediaVerdict {
                    protection: MediaProtection::Refuse,
                    reason: MediaReason::IdentityUnclear,
                    voucher: None,
                    fault: None,
                };
            }
        };
        let voucher = state.take(&parties, now);
        let offered = voucher.is_some();
        let request = MediaRequest {
            crosses_cs_leg: call.crosses_cs_leg,
            via_gateway: call.via_gateway,
            network_path_secure: call.network_path_secure,
            call: CallParties { device: call.calling.clone(), peer: call.called.clone() },
            voucher,
        };
        let verdict = self.related::<DecideMedia>(&request);
        match (offered, verdict.voucher.is_some()) {
            (true, true) => state.count(RELEASED),
            (true, false) => state.count(UNUSED),
            _ => {}
        }
        verdict
    }
}

/// A media request as media security takes it: the voucher only as "one is on offer".
fn lower(request: &MediaRequest) -> media::MediaRequest {
    media::MediaRequest {
        crosses_cs_leg: request.crosses_cs_leg,
        via_gateway: request.via_gateway,
        network_path_secure: request.network_path_secure,
        call: media::CallParties { device: request.call.device.clone(), peer: request.call.peer.clone() },
        voucher_offered: request.voucher.is_some(),
    }
}

/// Media security's answer in the library's terms.
fn lift(verdict: media::MediaVerdict) -> (MediaProtection, MediaReason) {
    use media::{MediaProtection as WP, MediaReason as WR};
    let protection = match verdict.protection {
        WP::NetworkLayer => MediaProtection::NetworkLayer,
        WP::MediaLayer => MediaProtection::MediaLayer,
        WP::Refuse => MediaProtection::Refuse,
    };
    let reason = match verdict.reason {
        WR::PathSecure => MediaReason::PathSecure,
        WR::CsLeg => MediaReason::CsLeg,
        WR::PathNotSecure => MediaReason::PathNotSecure,
        WR::NoVoucher => MediaReason::NoVoucher,
    };
    (protection, reason)
}
