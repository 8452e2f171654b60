//! Replays through the fuzz targets' checks (`tests/support/checks.rs`): every input fuzzing has found
//! (`tests/fuzz/<target>/`, one file each, added when `fuzz/run.sh` reports one), every facts, request
//! and case file of the repository, and the identifier look-alikes real cores got wrong.

use std::path::Path;

use pathsec::exchange::{Format, Indication, Report};
use pathsec_suite::checks;

/// Every file under `dir`, recursively.
use pathsec_suite::files_under as files;

fn replay(target: &str, check: fn(&str), also: &[&str]) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut inputs = vec![root.join("fuzz").join(target)];
    inputs.extend(also.iter().map(|dir| root.join(dir)));
    let mut replayed = 0;
    for path in inputs.iter().flat_map(|dir| files(dir)) {
        let bytes = std::fs::read(&path).expect("readable");
        // libFuzzer hands a `&str` target the longest valid UTF-8 prefix: so does this.
        let text = match std::str::from_utf8(&bytes) {
            Ok(text) => text,
            Err(error) => std::str::from_utf8(&bytes[..error.valid_up_to()]).expect("valid prefix"),
        };
        let outcome = std::panic::catch_unwind(|| check(text));
        assert!(outcome.is_ok(), "`{}` fails the {target} check", path.display());
        replayed += 1;
    }
    replayed
}

#[test]
fn identifier_inputs() {
    for text in [
        "31041",
        "310410",
        "00170",
        "001070",
        "070",
        "310,070",
        "310,70",
        "310,4100",
        "31,041",
        "+3104",
        "３１０４１",
        "310 41",
        "mtc.example.com",
        "MTC.Example.COM.",
        "a..b",
        ".",
        "",
        "-a.b",
        "a-.b",
        "xn--bcher-kva.example",
        "localhost",
        "a.b.",
        "a.b..",
        "1.2.3.4",
    ] {
        checks::identifiers(text);
    }
    replay("identifiers", checks::identifiers, &[]);
}

#[test]
fn facts_and_request_inputs() {
    let replayed = replay("facts_file", checks::facts_file, &["data", "cases"]);
    assert!(replayed > 10, "the repository's own files are replayed: {replayed}");
}

#[test]
fn service_request_inputs() {
    for text in [
        r#"{"role":"server","event":"send-data","server":"mtc.example.com","device":"meter-17"}"#,
        r#"{"requests":[{"role":"server","event":"receive-trigger","server":"a.b","home":"310410"}]}"#,
        r#"{"path-a":["310410",{"mcc":"208","mnc":"01"}],"path-b":[{"home":"310410","server":"x.y"}]}"#,
        r#"{"naf":"n.example","registered":true,"window":{"opens-in":5,"closes-in":1}}"#,
        r#"{"role":"server","event":"send-data","server":"x.y","home":"31041","device":"d"}"#,
        "{\"role\": 5",
        "",
    ] {
        checks::service_request(text);
    }
    let replayed = replay("service_request", checks::service_request, &["data"]);
    assert!(replayed > 5, "the repository's own files are replayed: {replayed}");
}

#[test]
fn case_inputs() {
    let replayed = replay("case_file", checks::case_file, &["data", "cases"]);
    assert!(replayed > 10, "the repository's own files are replayed: {replayed}");
}

#[test]
fn wire_inputs() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz/wire");
    let mut replayed = 0;
    for path in files(&dir) {
        let bytes = std::fs::read(&path).expect("readable");
        let outcome = std::panic::catch_unwind(|| checks::wire(&bytes));
        assert!(outcome.is_ok(), "`{}` fails the wire check", path.display());
        // The seeds are messages this engine reads, so fuzzing starts from the current wire form.
        let format = if path.extension().is_some_and(|ext| ext == "json") { Format::Json } else { Format::Cbor };
        assert!(
            Report::decode(format, &bytes).is_ok() || Indication::decode(format, &bytes).is_ok(),
            "`{}` is neither a report nor an indication this engine reads",
            path.display()
        );
        replayed += 1;
    }
    assert!(replayed >= 6, "the seeds are replayed: {replayed}");
}
