//! The case-file reader: it refuses files that cannot fail, names the file, line and field in errors,
//! and reads both the one-case and the `[[case]]` forms, in TOML and in JSON.

use pathsec::{Action, Reason, cases::CaseFile};

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

fn read(name: &str, text: &str) -> Result<CaseFile, String> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write case");
    CaseFile::read(&path).map_err(|e| e.to_string().replace(&dir.path().display().to_string(), "DIR"))
}

#[test]
fn a_case_that_wants_nothing_is_refused() {
    let error = read("neither.toml", &format!("note = \"x\"\n{REQUEST}")).expect_err("refused");
    assert_eq!(error, "`DIR/neither.toml`, field `want`: the input was accepted, and the case has no `[want]`");
    let error = read("empty.toml", "note = \"x\"\n").expect_err("refused");
    assert_eq!(
        error,
        "`DIR/empty.toml`, field ``: a case file must say what it wants: `[want]` (action, reason), `want_error`, or `[[case]]` entries (or those of a related decision: `[[trigger-case]]`, `[[admission-case]]`, `[[submission-case]]`, `[[access-case]]`, `[[media-case]]`, `[[location-case]]`, `[[name-case]]`), or `[[sequence]]` entries"
    );
}

#[test]
fn a_sequence_step_is_checked_when_the_file_is_read() {
    let text = r#"note = "x"
[[sequence]]
note = "a trigger without its checks"
steps = [{ do = "decide", role = "device", event = "receive-trigger", device = "d", server = "s.example.com",
           want = { action = "discard", reason = "trigger-unprotected" } }]
"#;
    let error = read("trigger.toml", text).expect_err("refused");
    assert_eq!(
        error,
        "`DIR/trigger.toml`, field `sequence[0].steps[0]`: `receive-trigger` needs `access-integrity` and `end-to-end`"
    );
    let unknown = read("unknown.toml", "note = \"x\"\n[[sequence]]\nnote = \"y\"\nsteps = [{ do = \"fly\" }]\n")
        .expect_err("refused");
    assert!(unknown.contains("unknown variant `fly`"), "{unknown}");
}

#[test]
fn a_case_that_wants_both_is_refused() {
    // The wanted text must not occur in the message, which names the (random) temporary directory.
    let text = format!(
        "note = \"x\"\nwant_error = \"NOT IN ANY MESSAGE\"\n{REQUEST}\n[want]\naction = \"accept\"\nreason = \"path-secure\"\n"
    );
    let error = read("both.toml", &text).expect_err("refused");
    assert!(error.contains("wanted an error containing `NOT IN ANY MESSAGE`, got: "), "{error}");
    assert!(error.contains("a case wants `[want]` or `want_error`, not both"), "{error}");
}

#[test]
fn a_wanted_error_that_does_not_happen_fails() {
    let text = format!("note = \"x\"\nwant_error = \"is not a PLMN-ID\"\n{REQUEST}");
    let error = read("no-error.toml", &text).expect_err("fails");
    assert!(
        error.starts_with(
            "`DIR/no-error.toml`, field `want_error`: wanted an error containing `is not a PLMN-ID`, got: "
        ),
        "{error}"
    );
}

#[test]
fn a_wanted_error_that_happens_passes() {
    let text = format!(
        "note = \"x\"\nwant_error = \"`3101` is not a PLMN-ID\"\n{}",
        REQUEST.replace("\"310410\"\nhome", "\"3101\"\nhome")
    );
    assert!(matches!(read("error.toml", &text), Ok(CaseFile::RefusedAsWanted { .. })));
}

#[test]
fn errors_name_the_file_the_line_and_the_field() {
    let text = "[lists]\npath-b = []\npath-a = [\"310410\", \"3101\"]\n";
    let error = read("lists.toml", text).expect_err("refused");
    assert_eq!(
        error,
        "`DIR/lists.toml` line 3, field `lists.path-a[1]`: `3101` is not a PLMN-ID: expected MCC (3 digits) + MNC (2 or 3 digits)"
    );
    let json =
        "{\n  \"lists\": {\n    \"path-b\": [{ \"home\": \"310410\", \"server\": \"bad_name.example\" }]\n  }\n}";
    let error = read("lists.json", json).expect_err("refused");
    assert_eq!(
        error,
        "`DIR/lists.json` line 3, field `lists.path-b[0].server`: `bad_name.example` is not a valid FQDN: label `bad_name` has `_`: only letters, digits and `-` are allowed"
    );
    let error = read("typo.toml", "[lists]\npath_a = []\n").expect_err("refused");
    assert!(
        error.starts_with(
            "`DIR/typo.toml` line 2, field `lists.path_a`: unknown field `path_a`, expected one of `integrity-required`, `path-a`"
        ),
        "{error}"
    );
    let error = read("lists.yaml", "").expect_err("refused");
    assert_eq!(error, "`DIR/lists.yaml`: unknown format: name the file `.toml` or `.json`");
}

#[test]
fn the_wanted_text_is_matched_against_the_message_not_the_source() {
    // A parser that quoted the offending line would let a `want_error` match its own echo.
    let text = format!("note = \"x\"\nwant_error = \"zz zz\"\n{REQUEST}bogus = \"zz zz\"\n");
    let error = read("echo.toml", &text).expect_err("fails");
    assert!(error.contains("got: `DIR/echo.toml` line 12, field `request.bogus`: unknown field `bogus`"), "{error}");
}

#[test]
fn many_cases_share_one_set_of_facts_and_devices() {
    let text = r#"
[lists]
path-a = ["310410"]
path-b = [{ home = "310410", server = "mtc.example.com" }]

[[devices]]
name = "meter"
home = "310410"
serving = "310410"
ciphering = true
integrity = true

[[case]]
note = "at home"
request = { role = "server", event = "send-data", server = "mtc.example.com", device = "meter" }
want = { action = "send-plain", reason = "path-secure" }

[[case]]
note = "another server"
policy = "reference"
request = { role = "device", event = "send-data", server = "other.example.com", device = "meter" }
want = { action = "secure-then-send", reason = "path-b-not-trusted" }
"#;
    let Ok(CaseFile::Cases { facts, cases, .. }) = read("many.toml", text) else { panic!("reads") };
    assert_eq!(cases.len(), 2);
    assert_eq!(cases[1].want.action, Action::SecureThenSend);
    assert_eq!(cases[1].want.reason, Reason::PathBNotTrusted);
    assert!(cases[1].applies_to("reference") && !cases[1].applies_to("strict") && cases[0].applies_to("strict"));
    assert!(facts.server_id(&"other.example.com".parse().expect("valid")).is_some(), "request servers are interned");

    let missing = text.replace(
        "device = \"meter\" }\nwant = { action = \"secure-then-send\"",
        "device = \"boiler\" }\nwant = { action = \"secure-then-send\"",
    );
    let error = read("missing.toml", &missing).expect_err("refused");
    assert_eq!(error, "`DIR/missing.toml`, field `case[1].request.device`: no device `boiler` in the facts");
}

#[test]
fn json_case_files_read_like_toml() {
    let json = r#"{
  "note": "one case, JSON",
  "lists": { "path-a": [{ "mcc": "310", "mnc": "410" }], "path-b": [{ "home": "310410", "server": "mtc.example.com" }] },
  "request": { "role": "server", "event": "send-data", "server": "MTC.example.com.", "home": "310410",
               "serving": "310410", "ciphering": true, "integrity": true },
  "want": { "action": "send-plain", "reason": "path-secure" }
}"#;
    let Ok(CaseFile::Cases { cases, .. }) = read("one.json", json) else { panic!("reads") };
    assert_eq!(cases[0].note, "one case, JSON");
}
