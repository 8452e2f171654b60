//! A decision: the action to take, the reason, and — when the policy failed — the fault that made it
//! fail closed.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::vocab::named::named_enum;
use crate::vocab::{EventKind, Role};

named_enum! {
    /// What the asking node must do.
    #[non_exhaustive]
    pub enum Action as "an action" {
        /// Send without application-layer security: the whole path is secure.
        SendPlain = "send-plain",
        /// Establish application-layer security, then send.
        SecureThenSend = "secure-then-send",
        /// Accept the received data or trigger.
        Accept = "accept",
        /// Discard the received unprotected data and establish application-layer security, so the peer
        /// sends it again protected.
        DiscardAndSecure = "discard-and-secure",
        /// Discard the received data or trigger.
        Discard = "discard",
        /// Protect the trigger end to end before sending it.
        ProtectTrigger = "protect-trigger",
    }
}

impl Action {
    /// The action is one that `role` may take on `event`: a send is sent (plain or secured), a receipt
    /// accepted or discarded; a device never sends a trigger plain and a server never accepts one (it
    /// does not handle them). Anything else from a policy is a fault.
    pub fn fits(self, role: Role, event: EventKind) -> bool {
        use Action::*;
        match (role, event) {
            (Role::Device, EventKind::SendTrigger) => self == ProtectTrigger,
            (Role::Server, EventKind::ReceiveTrigger) => self == Discard,
            (_, EventKind::SendData) => matches!(self, SendPlain | SecureThenSend),
            (_, EventKind::ReceiveUnprotected) => matches!(self, Accept | DiscardAndSecure),
            (_, EventKind::ReceiveProtected | EventKind::ReceiveTrigger) => matches!(self, Accept | Discard),
            (_, EventKind::SendTrigger) => matches!(self, SendPlain | ProtectTrigger),
        }
    }

    /// The action leaves the data without application-layer security: sent plain, or accepted
    /// unprotected.
    pub fn is_plain(self) -> bool {
        matches!(self, Action::SendPlain | Action::Accept)
    }

    /// The fail-closed action for `event`: use application-layer security, or discard.
    pub fn fail_closed(event: EventKind) -> Action {
        match event {
            EventKind::SendData => Action::SecureThenSend,
            EventKind::ReceiveUnprotected => Action::DiscardAndSecure,
            EventKind::ReceiveProtected | EventKind::ReceiveTrigger => Action::Discard,
            EventKind::SendTrigger => Action::ProtectTrigger,
        }
    }
}

named_enum! {
    /// Why: the check that decided.
    #[non_exhaustive]
    pub enum Reason as "a reason" {
        /// Every part of the path is secure.
        PathSecure = "path-secure",
        /// The serving network is not known.
        ServingNetworkUnknown = "serving-network-unknown",
        /// The device's report at registration did not match the network's view.
        RegistrationMismatch = "registration-mismatch",
        /// Access-layer ciphering is off where it is needed: a device receiving unprotected data (000,
        /// FIG. 13 step 6), or a device following a "no security" agreement (FIG. 7 step 7).
        AccessCipheringOff = "access-ciphering-off",
        /// Access-layer integrity protection is off, and the serving network's List 1 entry (or the
        /// operator, for every entry) asks for it.
        AccessIntegrityOff = "access-integrity-off",
        /// The serving network's List 1 entry does not vouch for the device's access kind, or it has
        /// none.
        PathANotTrusted = "path-a-not-trusted",
        /// The (server's network, server) pair is not in List 2.
        PathBNotTrusted = "path-b-not-trusted",
        /// The serving network is not the server's network and is not in List 3 for it.
        InterconnectNotTrusted = "interconnect-not-trusted",
        /// The received data already carries application-layer security.
        ApplicationLayerProtected = "application-layer-protected",
        /// The trigger's access-layer integrity check failed.
        TriggerIntegrityFailed = "trigger-integrity-failed",
        /// The trigger was accepted on its valid end-to-end protection.
        TriggerEndToEndValid = "trigger-end-to-end-valid",
        /// The trigger has neither access-layer integrity nor valid end-to-end protection.
        TriggerUnprotected = "trigger-unprotected",
        /// The trigger's end-to-end protection did not verify.
        TriggerEndToEndInvalid = "trigger-end-to-end-invalid",
        /// The policy requires application-layer security whatever the path.
        PolicyRequiresApplicationSecurity = "policy-requires-application-security",
        /// This node does not handle this event.
        EventNotForRole = "event-not-for-role",
        /// Neither access-layer ciphering nor integrity is on, or the device does not know its own
        /// access security.
        AccessNotProtected = "access-not-protected",
        /// The registration agreement says application-layer security is needed (000, FIG. 7 step 7).
        RegistrationRequiresApplicationSecurity = "registration-requires-application-security",
        /// The policy failed (see the decision's fault); the engine failed closed. Never sent by a policy.
        PolicyFault = "policy-fault",
        /// The device's attach facts are not known; the engine failed closed without asking the policy.
        AttachUnknown = "attach-unknown",
        /// A re-registration is due (000, FIG. 10 step 1): until it is made, the engine failed closed
        /// without asking the policy.
        RegistrationPending = "registration-pending",
        /// The data session set up application-layer security, which it keeps until it ends; the engine
        /// kept it without asking the policy.
        SessionSecured = "session-secured",
        /// At registration the device reported a visited network its home network does not allow it to
        /// roam to (000, FIG. 7 step 5); the server answered that application-layer security is needed.
        RoamingNotAllowed = "roaming-not-allowed",
        /// The device's facts came from a fact feed that has been out of reach longer than its
        /// staleness bound; the engine failed closed without asking the policy until the feed is back.
        FactsStale = "facts-stale",
    }
}

impl Reason {
    /// The reason comes from the engine, never from a policy.
    pub fn is_engine_reason(self) -> bool {
        matches!(
            self,
            Reason::PolicyFault
                | Reason::AttachUnknown
                | Reason::RegistrationPending
                | Reason::SessionSecured
                | Reason::RoamingNotAllowed
                | Reason::FactsStale
        )
    }

    /// A sentence for the operator.
    pub fn explain(self) -> &'static str {
        match self {
            Reason::PathSecure => "every part of the path is secure",
            Reason::ServingNetworkUnknown => "the serving network is not known",
            Reason::RegistrationMismatch => {
                "at registration the device's report of its serving network and access security did not match the network's view"
            }
            Reason::AccessCipheringOff => {
                "access-layer ciphering is off, which a device needs to take unprotected data or a 'no security' agreement"
            }
            Reason::AccessIntegrityOff => {
                "access-layer integrity protection is off, and the serving network's List 1 entry asks for it"
            }
            Reason::PathANotTrusted => {
                "the serving network's List 1 entry does not vouch for this access: path A is not known to be protected"
            }
            Reason::PathBNotTrusted => {
                "the (server's network, server) pair is not in List 2: path B is not known to be secure"
            }
            Reason::InterconnectNotTrusted => {
                "the serving network is not in List 3 for the server's network: the path between them is not known to be secure"
            }
            Reason::ApplicationLayerProtected => "the data carries application-layer security",
            Reason::TriggerIntegrityFailed => "the trigger failed its access-layer integrity check",
            Reason::TriggerEndToEndValid => "the trigger carries valid end-to-end protection",
            Reason::TriggerUnprotected => {
                "the trigger has no access-layer integrity and no valid end-to-end protection"
            }
            Reason::TriggerEndToEndInvalid => "the trigger's end-to-end protection did not verify",
            Reason::PolicyRequiresApplicationSecurity => "the policy requires application-layer security on every path",
            Reason::EventNotForRole => "this node does not handle this event",
            Reason::AccessNotProtected => {
                "neither access-layer ciphering nor integrity is on (or the device does not know its own): path A is not protected"
            }
            Reason::RegistrationRequiresApplicationSecurity => {
                "the registration agreement says application-layer security is needed"
            }
            Reason::PolicyFault => "the policy failed, so the engine failed closed",
            Reason::AttachUnknown => "the device's attach facts are not known, so the engine failed closed",
            Reason::RegistrationPending => {
                "a fact the registration agreement rested on changed and the re-registration is not made yet, so the engine failed closed"
            }
            Reason::RoamingNotAllowed => {
                "at registration the device reported a visited network its home network does not allow it to roam to"
            }
            Reason::SessionSecured => "the data session set up application-layer security and keeps it until it ends",
            Reason::FactsStale => {
                "the device's facts came from a fact feed out of reach longer than its staleness bound, so the engine failed closed"
            }
        }
    }
}

/// Why a policy could not decide. The decision that carries it is the fail-closed one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyFault {
    /// The policy trapped (a panic, an `unreachable`, a stack overflow…).
    #[error("policy trapped: {message}")]
    Trap {
        /// wasmtime's description of the trap.
        message: String,
    },
    /// The policy ran past its deadline and was interrupted.
    #[error("policy ran for {elapsed:?}, past its deadline of {limit:?}")]
    DeadlineExceeded {
        /// How long it ran.
        elapsed: Duration,
        /// The deadline.
        limit: Duration,
    },
    /// The policy tried to grow its linear memory past the cap.
    #[error("policy asked for {requested} bytes of linear memory, more than the limit of {limit}")]
    MemoryLimitExceeded {
        /// The memory size asked for, in bytes.
        requested: usize,
        /// The cap, in bytes.
        limit: usize,
    },
    /// The policy tried to grow a table past the cap.
    #[error(
        "policy asked for a table of {requested} elements, more than the limit of {limit}: raise `Limits::table_elements` if the policy needs it"
    )]
    TableLimitExceeded {
        /// The table size asked for, in elements.
        requested: usize,
        /// The cap.
        limit: usize,
    },
    /// Instantiating the policy needed more core instances, tables or memories than the cap.
    #[error(
        "policy needs more than {limit} {resource}s per instance ({count} asked for): raise `Limits::instances` if the policy needs it"
    )]
    InstanceLimitExceeded {
        /// What ran out: `instance`, `table` or `memory`.
        resource: String,
        /// How many were asked for when it ran out.
        count: usize,
        /// The cap.
        limit: usize,
    },
    /// The policy rejected the facts it was given.
    #[error("policy rejected the facts of generation {generation}: {message}")]
    FactsRejected {
        /// The rejected generation.
        generation: u64,
        /// The policy's message.
        message: String,
    },
    /// A list of the fact generation is longer than [`Limits::list_entries`](crate::Limits): the
    /// generation is not loaded.
    #[error(
        "{list} of fact generation {generation} has {entries} entries, more than the limit of {limit}: shorten the list, or raise `Limits::list_entries`"
    )]
    ListTooLong {
        /// The generation.
        generation: u64,
        /// Which list: `List 1`, `List 2` or `List 3`.
        list: &'static str,
        /// Its entries.
        entries: usize,
        /// The limit.
        limit: usize,
    },
    /// A fresh instance of the policy could not be made.
    #[error("policy cannot be instantiated: {message}")]
    Instantiate {
        /// wasmtime's message.
        message: String,
    },
    /// The policy answered with an action the role and event do not allow.
    #[error("policy answered `{action}` to a {role}'s `{event}`, which that role and event do not allow")]
    ActionNotAllowed {
        /// The asking node's role.
        role: Role,
        /// The event.
        event: EventKind,
        /// The policy's action.
        action: Action,
    },
    /// A related decision's answer that makes no sense for what was asked.
    #[error("policy answered `{outcome}`, which makes no sense here: {why}")]
    OutcomeNotAllowed {
        /// The answer.
        outcome: &'static str,
        /// Why it makes no sense.
        why: &'static str,
    },
    /// The active policy does not export the interface this decision needs.
    #[error("policy does not export `{interface}`, so this decision fails closed: export it (Rust SDK: `{sdk_macro}`)")]
    NotProvided {
        /// The interface, e.g. `pathsec:policy/trigger-guard@0.1.0`.
        interface: &'static str,
        /// How a policy built on the Rust SDK exports it.
        sdk_macro: &'static str,
    },
    /// The policy's packed answer (`decide-packed` or `decide-one`) is a byte that names no action or
    /// reason of the WIT.
    #[error(
        "policy's packed answer is byte {byte:#04x}, which names no action (bits 0-2, 0..=5) and reason (bits 3-7, 0..=16)"
    )]
    PackedDecisionInvalid {
        /// The byte.
        byte: u8,
    },
    /// At the self-check, the policy's packed export answered a request otherwise than its `decide`
    /// did: the WIT requires them to decide alike.
    #[error(
        "policy's `{export}` answers `{packed}` where its `decide` answers `{record}` (self-check request: {request}); \
         they must decide alike — a Rust SDK policy with `KEYED = true` must not override a step that takes a `Request`"
    )]
    ExportsDisagree {
        /// The packed export, e.g. `decide-one`.
        export: &'static str,
        /// The request, as the self-check put it.
        request: String,
        /// `decide`'s answer (action / reason).
        record: String,
        /// The packed export's answer (action / reason).
        packed: String,
    },
    /// The policy answered a batch with the wrong number of decisions.
    #[error("policy answered a batch of {expected} requests with {got} decisions")]
    BatchLength {
        /// Requests in the batch.
        expected: usize,
        /// Decisions returned.
        got: usize,
    },
}

named_enum! {
    /// The kinds of [`PolicyFault`], as metrics count them.
    #[non_exhaustive]
    pub enum FaultKind as "a fault kind" {
        /// [`PolicyFault::Trap`].
        Trap = "trap",
        /// [`PolicyFault::DeadlineExceeded`].
        Deadline = "deadline",
        /// [`PolicyFault::MemoryLimitExceeded`].
        Memory = "memory",
        /// [`PolicyFault::TableLimitExceeded`].
        Table = "table",
        /// [`PolicyFault::InstanceLimitExceeded`].
        Instances = "instances",
        /// [`PolicyFault::FactsRejected`].
        FactsRejected = "facts-rejected",
        /// [`PolicyFault::ListTooLong`].
        ListTooLong = "list-too-long",
        /// [`PolicyFault::Instantiate`].
        Instantiate = "instantiate",
        /// [`PolicyFault::ActionNotAllowed`] and [`PolicyFault::OutcomeNotAllowed`]: an answer that does
        /// not fit what was asked.
        ActionNotAllowed = "action-not-allowed",
        /// [`PolicyFault::PackedDecisionInvalid`], [`PolicyFault::BatchLength`] and
        /// [`PolicyFault::ExportsDisagree`]: answers that name nothing, do not match the batch, or differ
        /// between exports.
        InvalidAnswer = "invalid-answer",
        /// [`PolicyFault::NotProvided`]: the policy lacks the interface a decision needs.
        NotProvided = "not-provided",
    }
}

impl PolicyFault {
    /// The fault's kind.
    pub fn kind(&self) -> FaultKind {
        match self {
            PolicyFault::Trap { .. } => FaultKind::Trap,
            PolicyFault::DeadlineExceeded { .. } => FaultKind::Deadline,
            PolicyFault::MemoryLimitExceeded { .. } => FaultKind::Memory,
            PolicyFault::TableLimitExceeded { .. } => FaultKind::Table,
            PolicyFault::InstanceLimitExceeded { .. } => FaultKind::Instances,
            PolicyFault::FactsRejected { .. } => FaultKind::FactsRejected,
            PolicyFault::ListTooLong { .. } => FaultKind::ListTooLong,
            PolicyFault::Instantiate { .. } => FaultKind::Instantiate,
            PolicyFault::ActionNotAllowed { .. } | PolicyFault::OutcomeNotAllowed { .. } => FaultKind::ActionNotAllowed,
            PolicyFault::PackedDecisionInvalid { .. }
            | PolicyFault::BatchLength { .. }
            | PolicyFault::ExportsDisagree { .. } => FaultKind::InvalidAnswer,
            PolicyFault::NotProvided { .. } => FaultKind::NotProvided,
        }
    }
}

named_enum! {
    /// Which of a runtime's policies made a decision: the active one, or — during a canary rollout —
    /// the candidate that enforces for the device (see [`Runtime::start_canary`](crate::Runtime::start_canary)).
    /// [`Runtime::rollout`](crate::Runtime::rollout) names both.
    #[non_exhaustive]
    #[derive(Default)]
    pub enum MadeBy as "a policy role" {
        /// The active (stable) policy; every decision outside a canary rollout.
        #[default]
        Active = "active",
        /// The canary rollout's candidate policy.
        Candidate = "candidate",
    }
}

/// A policy's answer to a request.
///
/// A decision always exists: when the policy fails, it is the fail-closed decision for the event
/// ([`Action::fail_closed`]) with reason [`Reason::PolicyFault`] and the fault attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// What to do.
    pub action: Action,
    /// Why.
    pub reason: Reason,
    /// Why the policy could not decide, when it could not.
    pub fault: Option<Arc<PolicyFault>>,
    /// Which of the runtime's policies made it ([`MadeBy::Active`] outside a canary rollout, and for a
    /// decision a [`Decider`](crate::Decider) made by itself).
    pub made_by: MadeBy,
}

impl Decision {
    /// A decision the policy made.
    pub fn new(action: Action, reason: Reason) -> Decision {
        Decision { action, reason, fault: None, made_by: MadeBy::Active }
    }

    /// The same action and reason as `other` (whichever policy made each; faults aside).
    pub fn same_outcome(&self, other: &Decision) -> bool {
        (self.action, self.reason) == (other.action, other.reason)
    }

    /// The decision rests on a secure network path (reason `path-secure`): no application-layer
    /// security is used.
    pub fn path_trusted(&self) -> bool {
        self.reason == Reason::PathSecure
    }

    /// The fail-closed decision for `event`, without a fault: the engine lacked a fact.
    pub(crate) fn unknown(event: EventKind, reason: Reason) -> Decision {
        Decision { action: Action::fail_closed(event), reason, fault: None, made_by: MadeBy::Active }
    }

    /// The fail-closed decision for `event`, because of `fault`.
    pub fn fail_closed(event: EventKind, fault: Arc<PolicyFault>) -> Decision {
        Decision {
            action: Action::fail_closed(event),
            reason: Reason::PolicyFault,
            fault: Some(fault),
            made_by: MadeBy::Active,
        }
    }
}

/// `: <fault>` after a verdict, when it has one: how every decision and verdict shows its fault.
pub(crate) fn write_fault(f: &mut fmt::Formatter<'_>, fault: Option<&PolicyFault>) -> fmt::Result {
    match fault {
        Some(fault) => write!(f, ": {fault}"),
        None => Ok(()),
    }
}

impl fmt::Display for Decision {
    /// `action (reason: explanation)`, and the fault when there is one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}: {})", self.action, self.reason, self.reason.explain())?;
        write_fault(f, self.fault.as_deref())
    }
}
