//! Fuzzes `pathsec_suite::checks::wire` (`tests/support/checks.rs`): the registration exchange's
//! reports and indications, in JSON and CBOR, from arbitrary bytes.
#![no_main]

#[path = "../../tests/support/checks.rs"]
#[allow(dead_code)] // each target uses one of the checks
mod checks;

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| checks::wire(bytes));
