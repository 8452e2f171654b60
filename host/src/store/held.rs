//! A registration outcome as a node keeps it (000, FIG. 7 steps 8a and 8b): what stands between a
//! device and a server, the facts it rests on (attach, link, and the List entries the server's decision
//! used), when it ends, and what a decision sees of it. The device slot stores these; when they are
//! voided and how re-registrations are announced is `registration`.

use crate::facts::{FactSet, PathATerms};
use crate::vocab::{Attach, LinkState, Registration, ServerId};

crate::vocab::named::named_enum! {
    /// Why a re-registration is due (000, FIG. 10 step 1 and the text after it).
    #[non_exhaustive]
    pub enum ReRegistrationCause as "a re-registration cause" {
        /// The device moved to another serving network (or its home changed).
        PlmnChanged = "plmn-changed",
        /// The device attached through another kind of access.
        AccessChanged = "access-changed",
        /// The device's access-layer security changed.
        AccessSecurityChanged = "access-security-changed",
        /// The device detached: its serving network is no longer known.
        Detached = "detached",
        /// The registration timer expired.
        TimerExpired = "timer-expired",
        /// The server asked for it (for example, its agreements changed).
        ServerRequest = "server-request",
        /// A List entry the server's decision used changed: the server asks for a re-registration.
        ListsChanged = "lists-changed",
    }
}

/// The registration state between a device and a server, as the embedder sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RegistrationState {
    /// No registration: decisions use the lists.
    None,
    /// A registration outcome stands (an agreement, or a mismatch); decisions follow it.
    Standing(Registration),
    /// A re-registration is due; decisions fail closed until it is made.
    Pending(ReRegistrationCause),
}

/// The facts a stored outcome rests on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RestsOn {
    pub(crate) attach: Attach,
    pub(crate) link: LinkState,
    /// The List entries the server's decision used, when it used any (not for a device's stored
    /// indication, nor for a mismatch).
    pub(crate) lists: Option<ListUse>,
}

/// The List entries a path decision looks at: the serving network's List 1 entry (with its terms), and
/// whether the (home, server) pair was in List 2 and the serving network in List 3 for this home.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ListUse {
    /// The serving network's List 1 terms in force: a change to them (an access kind, the integrity
    /// requirement) is a change to the entry the outcome used.
    path_a: Option<PathATerms>,
    path_b: bool,
    interconnect: bool,
}

impl ListUse {
    pub(crate) fn of(lists: &FactSet, attach: &Attach, server: ServerId) -> ListUse {
        let serving = attach.serving;
        // List 2 and List 3 are read for the server's network (the device's home unless the facts name
        // another): moving the server to another network changes what they say.
        let second = lists.second_network(attach.home, server);
        ListUse {
            path_a: serving.and_then(|serving| lists.path_a_terms(serving)),
            path_b: lists.trusts_path_b(second, server),
            interconnect: serving
                .is_some_and(|serving| serving == second || lists.trusts_interconnect(serving, second)),
        }
    }
}

/// What is held for a device and a server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Standing {
    /// The outcome stands: `Registration::Agreed` or `Registration::Mismatch`.
    Outcome(Registration),
    /// A re-registration is due.
    Pending(ReRegistrationCause),
}

/// A stored registration outcome (000, FIG. 7 steps 8a and 8b).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Held {
    pub(crate) server: ServerId,
    pub(crate) standing: Standing,
    pub(crate) rests_on: RestsOn,
    /// The indication's sequence number.
    pub(crate) sequence: u64,
    /// When it ends, in seconds since the Unix epoch.
    pub(crate) expires: u64,
    /// The fact-feed revision it was written at, when a feed brought it (another server made it); 0
    /// when this node made or received it.
    pub(crate) fed_revision: u64,
}

impl Held {
    /// What a decision on it sees at `now` (seconds since the Unix epoch).
    pub(crate) fn lookup(&self, now: u64) -> Lookup {
        match self.standing {
            Standing::Pending(_) => Lookup::Pending,
            Standing::Outcome(_) if now >= self.expires => Lookup::Pending,
            Standing::Outcome(registration) => Lookup::Standing {
                registration,
                attach: self.rests_on.attach,
                link: self.rests_on.link,
                expires: self.expires,
            },
        }
    }

    /// The state the embedder sees at `now`.
    pub(crate) fn state(&self, now: u64) -> RegistrationState {
        match self.standing {
            Standing::Pending(cause) => RegistrationState::Pending(cause),
            Standing::Outcome(_) if now >= self.expires => {
                RegistrationState::Pending(ReRegistrationCause::TimerExpired)
            }
            Standing::Outcome(registration) => RegistrationState::Standing(registration),
        }
    }

    /// Marks it pending for `cause`; `true` when it was standing.
    pub(crate) fn void(&mut self, cause: ReRegistrationCause) -> bool {
        let standing = matches!(self.standing, Standing::Outcome(_));
        if standing {
            self.standing = Standing::Pending(cause);
        }
        standing
    }
}

/// What a decision on a device and a server rests on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// No registration: the lists and the device's live facts.
    None,
    /// An outcome stands: it, with the facts it rests on (equal to the live facts where those are
    /// known; a device report's when the server has no network view).
    Standing { registration: Registration, attach: Attach, link: LinkState, expires: u64 },
    /// A re-registration is due: fail closed.
    Pending,
}
