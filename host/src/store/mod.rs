//! What a running engine keeps about the world: every device (a 4-byte handle, its name in one arena,
//! its attach, link and registration facts in a slot read without a lock), the lists in force, the
//! registration outcomes each node holds and when they are voided, the settings file's registration
//! and device sections, the flow a decision is keyed by, and the clock. Uses the vocabulary, the facts
//! and `exchange`'s report digests; nothing of the running engine above it.

pub(crate) mod clock;
pub(crate) mod device;
pub(crate) mod fact_store;
pub(crate) mod flow;
pub(crate) mod held;
pub(crate) mod names;
pub(crate) mod registration;
pub(crate) mod settings;
