//! The integration tests, in one binary (as wasmtime's `tests/all/`): every test binary links
//! wasmtime and Cranelift again, so one binary builds and links once. The scenario files run in
//! `tests/cases.rs` (their own harness, one test per file); the command line's tests in
//! `host/cli/tests/`.

mod access_trust;
mod attach_admission;
mod binding_update;
mod bundles;
mod case_schema;
mod device_build;
mod differential;
mod directory;
mod docs;
mod engine;
mod errors;
mod feed;
mod fuzz_regressions;
mod hostile;
mod identifiers;
mod layout;
mod live;
mod live_model;
mod log;
mod media_security;
mod method_table;
mod precompiled;
mod properties;
mod python_policy;
mod registration;
mod review;
mod rollout;
mod sessions;
mod signing;
mod stress;
mod trigger_guard;
