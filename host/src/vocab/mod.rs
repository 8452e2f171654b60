//! The words every wing shares: identifiers ([`PlmnId`], [`Fqdn`], [`ServerId`]), a [`Request`] and its
//! parts, a [`Decision`] with the [`PolicyFault`] behind a fail-closed one, and the named-enum helper.
//! It uses nothing else of the crate; every other wing may use it.

pub(crate) mod decision;
pub(crate) mod fqdn;
pub(crate) mod named;
pub(crate) mod plmn;
pub(crate) mod request;

pub(crate) use decision::write_fault;
pub use decision::{Action, Decision, FaultKind, MadeBy, PolicyFault, Reason};
pub use fqdn::{Fqdn, FqdnError};
pub use named::NameError;
pub use plmn::{PlmnId, PlmnIdError};
pub use request::{
    AccessIntegrity, AccessKind, Agreement, Attach, EndToEnd, Event, EventKind, LinkState, Registration,
    RegistrationSource, Request, Role, ServerId, TriggerCheck,
};
