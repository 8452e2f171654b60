//! Fuzzes `pathsec_suite::checks::service_request` (`tests/support/checks.rs`): the bodies
//! `pathsec serve` decodes must never make it panic, and errors must name the input.
#![no_main]

#[path = "../../tests/support/checks.rs"]
#[allow(dead_code)] // each target uses one of the checks
mod checks;

libfuzzer_sys::fuzz_target!(|text: &str| checks::service_request(text));
