//! Device facts written by a fact feed (a key-value bucket several nodes follow, such as the one
//! `pathsec-fleet` reads from NATS JetStream): each update carries the feed's revision, applied in
//! order per device, and the feed's staleness bound makes decisions on its facts fail closed while it
//! is out of reach.
//!
//! The library itself talks to no feed: whoever follows one calls [`Runtime::apply_fed`] for each
//! update and [`Runtime::mark_fed_stale`] when the feed has been out of reach too long (and again when
//! it is back). Facts a node sets itself ([`Runtime::set_attach`]) and fed facts can be mixed on one
//! runtime; on one device, the last writer wins, and a fed update older than the device's last fed
//! revision is ignored.

use crate::deciding::live::Runtime;
use crate::store::device::DeviceId;
use crate::store::device::Fed;
use crate::store::fact_store::UnknownDeviceError;
use crate::store::held::{Held, ListUse, RestsOn, Standing};
use crate::store::registration::{self};
use crate::vocab::{Attach, LinkState, Registration, ServerId};

/// A device's facts as a fact feed carries them: `None` for a fact the feed does not know (a deleted
/// key carries neither).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FedFacts {
    /// The device's attach facts.
    pub attach: Option<Attach>,
    /// The device's access security.
    pub link: Option<LinkState>,
}

/// A registration outcome as a fact feed carries it: stored by the server that made it (000, FIG. 7
/// step 8b) and shared, so every gateway serving the device follows it until a re-registration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FedAgreement {
    /// The outcome: `Registration::Agreed` or `Registration::Mismatch`.
    pub registration: Registration,
    /// The attach facts it was made on.
    pub attach: Attach,
    /// The access security it was made on.
    pub link: LinkState,
    /// When it ends, in seconds since the Unix epoch.
    pub expires: u64,
}

/// What [`Runtime::apply_fed`] did with an update.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FedUpdate {
    /// The device's facts are the update's now.
    Applied,
    /// The device already held these facts at this revision or a newer one: nothing changed. A resync
    /// replaying the feed from its start gives this for every device it already holds.
    Current {
        /// The revision the device's fed facts are at.
        revision: u64,
    },
}

impl Runtime {
    /// Applies a fact feed's update of `device`, written at feed `revision` (at least 1; the feed's
    /// sequence numbers). An update no newer than the device's last fed revision changes nothing
    /// ([`FedUpdate::Current`]), so replays and resyncs are harmless and an update cannot be applied
    /// out of order. As with [`Runtime::set_attach`], an agreement made on other facts is voided. The
    /// device's facts are no longer stale.
    pub fn apply_fed(&self, device: DeviceId, facts: FedFacts, revision: u64) -> Result<FedUpdate, UnknownDeviceError> {
        let mut voided = Vec::new();
        let mut held = 0;
        self.store().edit_device(device, |current| {
            held = current.fed.map_or(0, |fed| fed.revision);
            if revision <= held {
                return false;
            }
            let was_attached = current.attach.is_some();
            current.attach = facts.attach;
            current.link = facts.link;
            current.fed = Some(Fed { revision, stale: false });
            voided = registration::void_on_change(current, was_attached);
            true
        })?;
        self.store().feed_reached(revision);
        self.announce(device, voided);
        Ok(if revision <= held { FedUpdate::Current { revision: held } } else { FedUpdate::Applied })
    }

    /// Applies a fact feed's registration outcome between `device` and `server` (`None`: withdrawn),
    /// written at feed `revision`, in order per device and server as [`Runtime::apply_fed`]. The
    /// outcome is held as if this node had made it: decisions follow it, it rests on its attach facts,
    /// access security and (for an agreement) the List entries this node's lists give it; a change to
    /// any of them — already, when this node's facts for the device differ — voids it (a
    /// [`ReRegistration`](crate::runtime::ReRegistration) event), and it ends at `expires`.
    pub fn apply_fed_agreement(
        &self,
        device: DeviceId,
        server: ServerId,
        agreement: Option<FedAgreement>,
        revision: u64,
    ) -> Result<FedUpdate, UnknownDeviceError> {
        let lists = self.lists();
        let mut voided = Vec::new();
        let mut held_revision = 0;
        let mut previous = None;
        let applied = self.store().edit_device(device, |facts| {
            let current = facts.agreements.iter().find(|held| held.server == server).copied();
            held_revision = current.map_or(0, |held| held.fed_revision);
            if revision <= held_revision {
                return false;
            }
            previous = current;
            let Some(agreement) = agreement else {
                facts.agreements.retain(|held| held.server != server);
                return true;
            };
            let lists_used = matches!(agreement.registration, Registration::Agreed(_))
                .then(|| ListUse::of(&lists, &agreement.attach, server));
            let held = Held {
                server,
                standing: Standing::Outcome(agreement.registration),
                rests_on: RestsOn { attach: agreement.attach, link: agreement.link, lists: lists_used },
                sequence: 0,
                expires: agreement.expires,
                fed_revision: revision,
            };
            registration::hold(facts, held);
            // Made on other facts than this node holds for the device: void at once.
            voided = registration::void_on_change(facts, facts.attach.is_some());
            true
        })?;
        if !applied {
            return Ok(FedUpdate::Current { revision: held_revision.max(revision) });
        }
        if let Some(agreement) = agreement {
            self.registrations().timer(device, server, previous.map(|held| held.expires), agreement.expires);
        }
        self.store().feed_reached(revision);
        self.announce(device, voided);
        Ok(FedUpdate::Applied)
    }

    /// Marks the facts of every device written by [`Runtime::apply_fed`] stale (`true`: decisions on
    /// them fail closed with reason `facts-stale`, without asking the policy) or current again
    /// (`false`). Returns how many devices changed. A follower calls it when its feed has been out of
    /// reach longer than its staleness bound, and again once it has caught up.
    pub fn mark_fed_stale(&self, stale: bool) -> usize {
        let mut changed = 0;
        for index in 0..self.store().devices_issued() {
            let edited = self.store().edit_device(DeviceId(index), |facts| match &mut facts.fed {
                Some(fed) if fed.stale != stale => {
                    fed.stale = stale;
                    true
                }
                _ => false,
            });
            changed += usize::from(edited == Ok(true));
        }
        changed
    }

    /// The highest fact-feed revision this runtime applied (0: none): the feed's device-facts
    /// generation. Each decision log line names the revision its device's facts were fed at.
    pub fn feed_revision(&self) -> u64 {
        self.store().feed_revision()
    }

    /// The facts the feed last wrote for `device`, with their revision; `None` for facts never fed
    /// (or an unknown handle). What a follower writes to its local snapshot, so it keeps no copy.
    pub fn fed_facts(&self, device: DeviceId) -> Option<(FedFacts, u64)> {
        let facts = self.store().slot(device)?.facts();
        let fed = facts.fed?;
        Some((FedFacts { attach: facts.attach, link: facts.link }, fed.revision))
    }

    /// The feed revision `device`'s facts were written at; `None` for facts never fed (or an unknown
    /// handle).
    pub fn fed_revision(&self, device: DeviceId) -> Option<u64> {
        self.store().slot(device).map(|slot| slot.revision()).filter(|&revision| revision != 0)
    }
}
