//! The scenario-case reader refuses cases that cannot fail: no `[want]` and no `want_error`, both,
//! or a `want_error` the input does not give.

use std::path::PathBuf;

use pathsec_suite::cases::{self, Parsed};

const REQUEST: &str = r#"
[request]
role = "server"
event = "send-data"
server = "mtc.example.com"
serving = "310410"
home = "310410"
ciphering = true
integrity = true
"#;

fn read(name: &str, text: &str) -> Result<Parsed, String> {
    let dir = std::env::temp_dir().join(format!("pathsec-case-schema-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path: PathBuf = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).expect("write case");
    let parsed = cases::load(&path);
    let _ = std::fs::remove_file(&path);
    parsed
}

#[test]
fn a_case_that_wants_nothing_is_refused() {
    let error = read("neither", &format!("note = \"x\"\n{REQUEST}")).err().expect("refused");
    assert_eq!(error, "a case must say what it wants: `[want]` (action, reason) or `want_error`");
}

#[test]
fn a_case_that_wants_both_is_refused() {
    let text =
        format!("note = \"x\"\nwant_error = \"y\"\n{REQUEST}\n[want]\naction = \"accept\"\nreason = \"path-secure\"\n");
    assert_eq!(read("both", &text).err().expect("refused"), "a case wants `[want]` or `want_error`, not both");
}

#[test]
fn a_wanted_error_that_does_not_happen_fails() {
    let text = format!("note = \"x\"\nwant_error = \"is not a PLMN-ID\"\n{REQUEST}");
    let error = read("no-error", &text).err().expect("fails");
    assert!(error.starts_with("wanted an error containing `is not a PLMN-ID`, got: "), "{error}");
}

#[test]
fn a_wanted_error_that_happens_passes() {
    let text = format!(
        "note = \"x\"\nwant_error = \"`3101` is not a PLMN-ID\"\n{}",
        REQUEST.replace("\"310410\"\nhome", "\"3101\"\nhome")
    );
    assert!(matches!(read("error", &text), Ok(Parsed::ErrorAsWanted)));
}

#[test]
fn a_case_with_a_want_runs() {
    let text = format!("note = \"x\"\n{REQUEST}\n[want]\naction = \"send-plain\"\nreason = \"path-secure\"\n");
    assert!(matches!(read("run", &text), Ok(Parsed::Run(_))));
}

#[test]
fn the_wanted_text_is_matched_against_the_message_not_the_source_excerpt() {
    // The parser quotes the offending line; a `want_error` must not match its own echo.
    let text = format!("note = \"x\"\nwant_error = \"zzz\"\n{REQUEST}bogus = \"zzz\"\n");
    let error = read("echo", &text).err().expect("fails");
    assert!(error.contains("got: line 12: unknown field `bogus`"), "{error}");
}
