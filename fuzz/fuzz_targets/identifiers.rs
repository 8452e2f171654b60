//! Fuzzes `pathsec_suite::checks::identifiers` (`tests/support/checks.rs`): arbitrary text must never make
//! the reader panic, and must hold to what the check asserts.
#![no_main]

#[path = "../../tests/support/checks.rs"]
#[allow(dead_code)] // each target uses one of the checks
mod checks;

libfuzzer_sys::fuzz_target!(|text: &str| checks::identifiers(text));
