//! How the trust lists reach a node authentically (000, FIGS. 14-16: the lists are delivered to servers
//! and devices, and must be authentic): signed list bundles, checked before use, with the highest
//! generation accepted kept on disk so a restart does not reopen rollback. Uses the vocabulary, the
//! facts and `wasm`'s signing keys; no network, no async runtime.

pub mod bundle;

pub use bundle::{AcceptedGenerations, BundleError, BundleKeys, BundleStore, ListBundle};
