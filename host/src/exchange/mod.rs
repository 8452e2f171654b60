//! The registration exchange's messages (000, FIG. 7 steps 4 and 7; FIG. 10 steps 2 and 4): the
//! device's [`Report`] and the server's [`Indication`], in a compact versioned wire form — JSON, or
//! CBOR for constrained devices — that a device not written in Rust can implement from
//! `docs/registration-wire.md`. Uses the vocabulary and the lists' digest; what each node does with a
//! message is the runtime's (`store::registration`).
//!
//! The wire form carries no signature: its integrity and confidentiality come from the protected
//! registration exchange that carries it (the method sets up application-layer security for the
//! registration itself). The runtime refuses a report the embedder says did not arrive protected.

pub(crate) mod indication;
pub(crate) mod report;
pub(crate) mod wire;

pub use indication::Indication;
pub use report::{Report, ReportDigest, SecurityOption};
pub use wire::{Format, WireError};
