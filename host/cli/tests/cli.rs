//! The `pathsec` command line, end to end, over the sample data in the repository's `tests/data/` and
//! `tests/cases/`. The last test is the README's newcomer walk: a new policy that also trusts every
//! network of one MCC, written from the template, built, tested and evaluated.

use std::path::{Path, PathBuf};
use std::process::Command as Process;

use assert_cmd::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The build's target directory (`CARGO_TARGET_DIR` when set, shared between clones).
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| repo().join("target"), PathBuf::from)
}

fn data(name: &str) -> PathBuf {
    repo().join("tests/data").join(name)
}

fn pathsec() -> Command {
    let mut command = Command::cargo_bin("pathsec").expect("the pathsec binary");
    command.env_remove("PATHSEC_CACHE");
    command
}

/// A bundled policy written to a file named `name`.
fn policy_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write policy");
    path
}

/// `pathsec eval` of `policy` on the sample facts, for `device` and `server`.
fn eval_sample(policy: &Path, device: &str, server: &str) -> std::process::Output {
    pathsec()
        .args(["eval", "--facts"])
        .arg(data("facts.toml"))
        .arg("--policy")
        .arg(policy)
        .args(["--device", device, "--server", server])
        .output()
        .expect("runs")
}

/// The ```rust block of `markdown` that holds `signature`.
fn shown_function(markdown: &str, signature: &str) -> String {
    let block = markdown
        .split("```rust\n")
        .skip(1)
        .filter_map(|rest| rest.split("\n```").next())
        .find(|block| block.contains(signature));
    block.unwrap_or_else(|| panic!("no ```rust block with `{signature}`")).to_owned()
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn check_reports_a_good_policy_and_refuses_a_bad_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let good = policy_file(dir.path(), "reference.wasm", pathsec::bundled::REFERENCE);
    let output = pathsec().arg("check").arg(&good).output().expect("runs");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.starts_with("policy `reference.wasm` implements pathsec:policy/path-secure"), "{text}");
    assert!(text.contains("self-check passed"), "{text}");
    assert!(text.contains("wasi:"), "imports are listed: {text}");
    assert!(text.contains("triggers   guarded (exports pathsec:policy/trigger-guard)"), "{text}");
    assert!(text.contains("admission  decided (exports pathsec:policy/attach-admission)"), "{text}");
    assert!(text.contains("access     decided (exports pathsec:policy/access-trust)"), "{text}");
    assert!(text.contains("media      decided (exports pathsec:policy/media-security)"), "{text}");
    assert!(text.contains("bindings   decided (exports pathsec:policy/binding-update)"), "{text}");

    let bad = policy_file(dir.path(), "bad.wasm", b"not a policy");
    let output = pathsec().arg("check").arg(&bad).output().expect("runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).starts_with("error: cannot load policy `bad.wasm`: not a WebAssembly component"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn keygen_sign_and_check_with_a_trusted_key() {
    let dir = tempfile::tempdir().expect("temp dir");
    let policy = policy_file(dir.path(), "reference.wasm", pathsec::bundled::REFERENCE);
    let ops = dir.path().join("ops");
    let output = pathsec().arg("keygen").arg(&ops).output().expect("runs");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("ops.key")).expect("secret key").permissions().mode();
        assert_eq!(mode & 0o077, 0, "the secret key is readable by its owner only");
    }
    let again = pathsec().arg("keygen").arg(&ops).output().expect("runs");
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("ops.key` exists: a key is never overwritten"), "{}", stderr(&again));

    let public = dir.path().join("ops.pub");
    let check = |key: &Path| pathsec().arg("check").arg("--trusted-key").arg(key).arg(&policy).output().expect("runs");
    let unsigned = check(&public);
    assert_eq!(unsigned.status.code(), Some(2));
    assert!(stderr(&unsigned).starts_with("error: policy `reference.wasm` is not signed"), "{}", stderr(&unsigned));

    let output =
        pathsec().arg("sign").arg("--key").arg(dir.path().join("ops.key")).arg(&policy).output().expect("runs");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).contains("reference.wasm.sig"), "{}", stdout(&output));
    let signed = check(&public);
    assert_eq!(signed.status.code(), Some(0), "{}", stderr(&signed));

    // A stranger's key is not the one that signed.
    let stranger = dir.path().join("stranger");
    pathsec().arg("keygen").arg(&stranger).output().expect("runs");
    let output = check(&dir.path().join("stranger.pub"));
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("which this host does not trust"), "{}", stderr(&output));

    // A secret key where a public one belongs says so.
    let output = check(&dir.path().join("ops.key"));
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("is it a public key?"), "{}", stderr(&output));
}

#[test]
fn eval_exit_codes_tell_trusted_untrusted_and_error_apart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let policy = policy_file(dir.path(), "reference.wasm", pathsec::bundled::REFERENCE);
    let eval = |device: &str, server: &str| {
        pathsec()
            .args(["eval", "--facts"])
            .arg(data("facts.toml"))
            .arg("--policy")
            .arg(&policy)
            .args(["--device", device, "--server", server])
            .output()
            .expect("runs")
    };
    let home = eval("meter-17", "meter.utility.example");
    assert_eq!(home.status.code(), Some(0));
    assert_eq!(stdout(&home).trim(), "send-plain (path-secure: every part of the path is secure)");
    let roaming = eval("tracker-9", "fleet.example.com");
    assert_eq!(roaming.status.code(), Some(1));
    assert!(stdout(&roaming).starts_with("secure-then-send (interconnect-not-trusted"), "{}", stdout(&roaming));
    let access_off = eval("camera-2", "meter.utility.example");
    assert!(stdout(&access_off).starts_with("secure-then-send (access-not-protected"));
    let unknown = eval("boiler-1", "meter.utility.example");
    assert_eq!(unknown.status.code(), Some(2));
    assert_eq!(
        stderr(&unknown).trim(),
        "error: `the command line`, field `request.device`: no device `boiler-1` in the facts"
    );

    let json = pathsec()
        .args(["eval", "--format", "json", "--facts"])
        .arg(data("facts.json"))
        .arg("--policy")
        .arg(&policy)
        .args(["--device", "meter-17", "--server", "METER.utility.example."])
        .output()
        .expect("runs");
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert_eq!(report["action"], "send-plain");
    assert_eq!(report["reason"], "path-secure");
    assert_eq!(report["fault"], serde_json::Value::Null);
    assert_eq!(report["policy"]["sha256"].as_str().map(str::len), Some(64));

    let trigger = pathsec()
        .args(["eval", "--facts"])
        .arg(data("facts.toml"))
        .arg("--policy")
        .arg(&policy)
        .arg("--request")
        .arg(data("trigger.toml"))
        .output()
        .expect("runs");
    assert_eq!(trigger.status.code(), Some(1));
    assert!(stdout(&trigger).starts_with("discard (interconnect-not-trusted"), "{}", stdout(&trigger));
}

#[test]
fn bad_fact_files_name_the_file_the_line_and_the_field() {
    let dir = tempfile::tempdir().expect("temp dir");
    let policy = policy_file(dir.path(), "reference.wasm", pathsec::bundled::REFERENCE);
    let output = pathsec()
        .args(["eval", "--facts"])
        .arg(data("bad-facts.toml"))
        .arg("--policy")
        .arg(&policy)
        .args(["--device", "meter-17", "--server", "meter.utility.example"])
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output).trim(),
        format!(
            "error: `{}` line 10, field `devices[0].home`: `3101` is not a PLMN-ID: expected MCC (3 digits) + MNC (2 or 3 digits)",
            data("bad-facts.toml").display()
        )
    );
}

#[test]
fn test_runs_case_files_and_reports_each() {
    let dir = tempfile::tempdir().expect("temp dir");
    let reference = policy_file(dir.path(), "reference.wasm", pathsec::bundled::REFERENCE);
    let output = pathsec()
        .args(["test", "--policy"])
        .arg(&reference)
        .arg(repo().join("tests/cases/reference"))
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(0), "{}{}", stdout(&output), stderr(&output));
    let last = stdout(&output).lines().last().unwrap_or_default().to_owned();
    assert!(last.ends_with("passed, 0 failed, 0 skipped"), "{last}");

    // Cases for another policy are skipped; a run where nothing applies is an error.
    let output = pathsec()
        .args(["test", "--policy"])
        .arg(&reference)
        .arg(repo().join("tests/cases/always-secure"))
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("no case ran: every case was for another policy"));
    let strict = policy_file(dir.path(), "always-secure.wasm", pathsec::bundled::ALWAYS_SECURE);
    let output = pathsec()
        .args(["test", "--policy"])
        .arg(&strict)
        .arg(repo().join("tests/cases/always-secure"))
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));

    // A failing case: exit 1, and the case is named with what it wanted and got.
    let failing = dir.path().join("failing.toml");
    std::fs::write(
        &failing,
        r#"[lists]
path-a = ["310410"]
[[case]]
note = "wants too much"
request = { role = "server", event = "send-data", server = "a.example", home = "310410", serving = "310410", ciphering = true, integrity = true }
want = { action = "send-plain", reason = "path-secure" }
"#,
    )
    .expect("write");
    let output = pathsec().args(["test", "--policy"]).arg(&reference).arg(&failing).output().expect("runs");
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(text.contains("FAIL"), "{text}");
    assert!(
        text.contains("— wants too much: want send-plain (path-secure), got secure-then-send (path-b-not-trusted)"),
        "{text}"
    );
    assert!(text.trim_end().ends_with("0 passed, 1 failed, 0 skipped"), "{text}");
}

#[test]
fn compile_fills_the_artifact_cache_that_eval_loads_from() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cache = dir.path().join("cache");
    let policy = policy_file(dir.path(), "reference.wasm", pathsec::bundled::REFERENCE);
    let first = pathsec().arg("compile").arg(&policy).arg("--cache").arg(&cache).output().expect("runs");
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert!(stdout(&first).starts_with("compiled `reference.wasm` in "), "{}", stdout(&first));
    let again = pathsec().arg("compile").arg(&policy).arg("--cache").arg(&cache).output().expect("runs");
    assert!(stdout(&again).starts_with("`reference.wasm` was already compiled"), "{}", stdout(&again));
    let artifacts = std::fs::read_dir(&cache).expect("cache").count();
    assert_eq!(artifacts, 1);
    let eval = pathsec()
        .args(["eval", "--facts"])
        .arg(data("facts.toml"))
        .arg("--policy")
        .arg(&policy)
        .arg("--cache")
        .arg(&cache)
        .args(["--device", "tracker-5", "--server", "fleet.example.com"])
        .output()
        .expect("runs");
    assert_eq!(eval.status.code(), Some(0), "{}", stderr(&eval));
}

#[test]
fn compile_out_makes_signed_artifacts_for_other_targets_and_eval_runs_this_hosts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let policy = policy_file(dir.path(), "reference.wasm", pathsec::bundled::REFERENCE);
    let key = dir.path().join("ops.key");
    let output = pathsec().arg("keygen").arg(dir.path().join("ops")).output().expect("runs");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));

    // Another architecture: the header names it (nothing here can run it).
    let aarch64 = dir.path().join("reference-aarch64.cwasm");
    let output = pathsec()
        .args(["compile", "--target", "aarch64-unknown-linux-gnu", "--sign"])
        .arg(&key)
        .arg("--out")
        .arg(&aarch64)
        .arg(&policy)
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stdout(&output).starts_with("compiled `reference.wasm` for `aarch64-unknown-linux-gnu`"),
        "{}",
        stdout(&output)
    );
    let bytes = std::fs::read(&aarch64).expect("the artifact");
    let (header, _) = pathsec::wasm::read_header("a", &bytes).expect("an artifact");
    assert_eq!(header.target, "aarch64-unknown-linux-gnu");
    assert!(pathsec::signing::signature_path(&aarch64).exists());
    let output = pathsec().arg("check").arg(&aarch64).output().expect("runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("it was compiled for target `aarch64-unknown-linux-gnu`, and this engine is target `"),
        "{}",
        stderr(&output)
    );

    // This host's: `eval` loads it without compiling, and decides as with the component.
    let native = dir.path().join("reference.cwasm");
    let output = pathsec().args(["compile", "--out"]).arg(&native).arg(&policy).output().expect("runs");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let eval = |policy: &Path| eval_sample(policy, "tracker-5", "fleet.example.com");
    let (from_artifact, from_component) = (eval(&native), eval(&policy));
    assert_eq!(from_artifact.status.code(), from_component.status.code(), "{}", stderr(&from_artifact));
    assert_eq!(stdout(&from_artifact).replace("reference.cwasm", "reference.wasm"), stdout(&from_component));

    // `--target` without `--out` is refused by the parser.
    let output = pathsec().args(["compile", "--target", "pulley64"]).arg(&policy).output().expect("runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--out"), "{}", stderr(&output));
}

/// Through the artifact cache too, a policy over the size limit is refused from its length: a sparse
/// 100 MB file, never read.
#[test]
fn eval_through_the_cache_refuses_a_huge_policy_unread() {
    let dir = tempfile::tempdir().expect("temp dir");
    let policy = dir.path().join("huge.wasm");
    std::fs::File::create(&policy).expect("create").set_len(100 << 20).expect("sparse 100 MB");
    let eval = pathsec()
        .args(["eval", "--facts"])
        .arg(data("facts.toml"))
        .arg("--policy")
        .arg(&policy)
        .arg("--cache")
        .arg(dir.path().join("cache"))
        .args(["--device", "tracker-5", "--server", "fleet.example.com"])
        .output()
        .expect("runs");
    assert_ne!(eval.status.code(), Some(0));
    assert!(
        stderr(&eval).contains("cannot load policy `huge.wasm`: it is 104857600 bytes, more than the limit"),
        "{}",
        stderr(&eval)
    );
}

#[test]
fn demo_runs_a_server_with_a_fact_change_and_swaps() {
    let output = pathsec().args(["demo", "--packets", "3000", "--devices", "60"]).output().expect("runs");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    for expected in [
        "phase 1 steady state",
        "change: List 3 drops 20801",
        "swap: the operator switches to `always-secure`",
        "phase 4 back to normal",
        "cache hit rate",
        "latency p50",
        "swaps: 2",
    ] {
        assert!(text.contains(expected), "missing `{expected}` in:\n{text}");
    }
    assert!(!text.contains(" 1 faults") && text.matches(", 0 faults").count() == 4, "{text}");
    assert!(text.contains("0 policy faults, 2 swaps (0 refused)"), "{text}");
}

/// `demo --decision-log`: every decision is a line of the log or counted as dropped, and it says so.
#[test]
fn demo_writes_a_decision_log_and_accounts_for_every_decision() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = dir.path().join("decisions.jsonl");
    let output = pathsec()
        .args(["demo", "--packets", "2000", "--devices", "40", "--decision-log"])
        .arg(&log)
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    let number = |after: &str, before: &str| -> u64 {
        let start = text.find(after).unwrap_or_else(|| panic!("no `{after}` in:\n{text}")) + after.len();
        text[start..].split(before).next().and_then(|n| n.trim().parse().ok()).expect("a number")
    };
    let written = number("`: ", " written");
    let dropped = number(" written, ", " dropped");
    let decisions = number("metrics: ", " decisions");
    assert_eq!(written + dropped, decisions, "{text}");
    let lines = std::fs::read_to_string(&log).expect("the log");
    let entries = lines.lines().filter(|line| !line.contains("\"dropped\":")).count();
    assert_eq!(entries as u64, written, "one line per written decision");
}

/// "Writing a policy" (the README and `docs/guides/writing-policies.md`): from the template to a
/// tested policy that also trusts every network of MCC 208, and a decision on it.
#[test]
fn a_newcomer_writes_tests_and_evaluates_a_policy() {
    let dir = tempfile::tempdir().expect("temp dir");
    let policy_dir = dir.path().join("trust-france");
    let created = pathsec()
        .args(["new-policy", "trust-france", "--dir"])
        .arg(&policy_dir)
        .arg("--sdk")
        .arg(repo().join("guest-policies/sdk"))
        .output()
        .expect("runs");
    assert_eq!(created.status.code(), Some(0), "{}", stderr(&created));
    assert!(stdout(&created).contains("created policy `trust-france`"));

    // Edit one function as the README and the policy guide show it (taken from them, so what they show
    // is what is built): path A is also protected in every network of MCC 208.
    let lib = policy_dir.join("src/lib.rs");
    let source = std::fs::read_to_string(&lib).expect("template source");
    let mut edited = source.clone();
    for page in ["README.md", "docs/guides/writing-policies.md"] {
        let shown = shown_function(&std::fs::read_to_string(repo().join(page)).expect("page"), "fn path_a_trusted");
        let (changed, kept): (Vec<&str>, Vec<&str>) = shown.lines().partition(|line| line.contains("208"));
        for line in kept {
            assert!(source.contains(line), "{page} shows `{line}`, which the template does not have");
        }
        edited = source.replace("        facts.path_a(serving, access)\n", &format!("{}\n", changed.concat()));
    }
    assert_ne!(source, edited, "the template has the line to edit");
    std::fs::write(&lib, edited).expect("edit");

    // Build it as the README says (sharing the guest build directory, so the SDK's dependencies are
    // compiled once).
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Process::new(cargo)
        .args(["build", "--release", "--target", "wasm32-wasip2", "--manifest-path"])
        .arg(policy_dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(target_dir().join("pathsec-guests-newcomer"))
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .expect("cargo runs");
    assert!(status.success(), "the new policy builds");
    let wasm = target_dir().join("pathsec-guests-newcomer/wasm32-wasip2/release/trust_france.wasm");

    // The template's cases: the tracker in 20810 was untrusted by the reference; now it is trusted.
    let cases = policy_dir.join("cases");
    let output = pathsec().args(["test", "--policy"]).arg(&wasm).arg(&cases).output().expect("runs");
    assert_eq!(output.status.code(), Some(1), "the old expectation fails: {}", stdout(&output));
    assert!(stdout(&output).contains("want secure-then-send (path-a-not-trusted), got send-plain (path-secure)"));
    let example = cases.join("example.toml");
    let text = std::fs::read_to_string(&example).expect("cases");
    let updated = text.replacen(
        "want = { action = \"secure-then-send\", reason = \"path-a-not-trusted\" }",
        "want = { action = \"send-plain\", reason = \"path-secure\" }",
        1,
    );
    std::fs::write(&example, updated).expect("update the case");
    let output = pathsec().args(["test", "--policy"]).arg(&wasm).arg(&cases).output().expect("runs");
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(stdout(&output).trim_end().ends_with("3 passed, 0 failed, 0 skipped"), "{}", stdout(&output));

    // And it decides: sensor-3 is served by 20810, which no List 1 names.
    let eval = |policy: &Path| eval_sample(policy, "sensor-3", "meter.utility.example");
    let new = eval(&wasm);
    assert_eq!(new.status.code(), Some(0), "{}", stderr(&new));
    assert_eq!(stdout(&new).trim(), "send-plain (path-secure: every part of the path is secure)");
    let reference = eval(&policy_file(dir.path(), "reference.wasm", pathsec::bundled::REFERENCE));
    assert_eq!(reference.status.code(), Some(1));
    assert!(stdout(&reference).starts_with("secure-then-send (path-a-not-trusted"));
}

#[test]
fn lists_sign_verify_show_and_diff_a_bundle() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (ops, stranger) = (dir.path().join("ops"), dir.path().join("stranger"));
    for key in [&ops, &stranger] {
        assert!(pathsec().arg("keygen").arg(key).output().expect("runs").status.success());
    }
    let bundle = |generation: &str, facts: &Path, name: &str| {
        let out = dir.path().join(name);
        let output = pathsec()
            .args(["lists", "sign", "--key"])
            .arg(ops.with_extension("key"))
            .arg("--facts")
            .arg(facts)
            .args(["--generation", generation, "--issuer", "ops.example.net", "-o"])
            .arg(&out)
            .output()
            .expect("runs");
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        assert!(stdout(&output).contains(&format!("signed generation {generation} of `ops.example.net`")));
        out
    };
    let first = bundle("1", &data("facts.toml"), "lists-1.json");
    let verify = |trust: &Path, file: &Path, record: Option<&Path>| {
        let mut command = pathsec();
        command.args(["lists", "verify", "--trust"]).arg(trust.with_extension("pub")).arg(file);
        if let Some(record) = record {
            command.arg("--record").arg(record);
        }
        command.output().expect("runs")
    };
    let accepted = verify(&ops, &first, None);
    assert_eq!(accepted.status.code(), Some(0), "{}", stderr(&accepted));
    assert!(stdout(&accepted).contains("a host trusting these keys accepts it"));
    let untrusted = verify(&stranger, &first, None);
    assert_eq!(untrusted.status.code(), Some(2));
    assert!(stderr(&untrusted).contains("which this host does not trust for lists"), "{}", stderr(&untrusted));
    // A record that has seen generation 1 refuses it again.
    let record = dir.path().join("accepted");
    std::fs::write(&record, "ops.example.net 1\n").expect("write");
    let replayed = verify(&ops, &first, Some(&record));
    assert_eq!(replayed.status.code(), Some(2));
    assert!(stderr(&replayed).contains("generation 1 was accepted already"), "{}", stderr(&replayed));

    let shown = pathsec().args(["lists", "show"]).arg(&first).output().expect("runs");
    assert_eq!(shown.status.code(), Some(0));
    assert!(stdout(&shown).contains("generation 1\n") && stdout(&shown).contains("  1 310260"), "{}", stdout(&shown));

    // The next generation drops one network from List 1: the diff says so, and exits 1.
    let facts = std::fs::read_to_string(data("facts.toml")).expect("facts");
    let edited = dir.path().join("facts-2.toml");
    std::fs::write(&edited, facts.replacen("\"310260\", ", "", 1)).expect("write");
    let second = bundle("2", &edited, "lists-2.json");
    let diff = pathsec().args(["lists", "diff"]).arg(&first).arg(&second).output().expect("runs");
    assert_eq!(diff.status.code(), Some(1), "{}", stdout(&diff));
    assert!(stdout(&diff).contains("- 1 310260\n"), "{}", stdout(&diff));
    let same = pathsec().args(["lists", "diff"]).arg(&first).arg(&first).output().expect("runs");
    assert_eq!(same.status.code(), Some(0));
}

/// Output piped into a reader that stops early (`pathsec demo | head -1`) ends the command quietly,
/// not with a panic.
#[test]
fn a_closed_output_pipe_ends_the_command_quietly() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let mut child = Process::new(env!("CARGO_BIN_EXE_pathsec"))
        .arg("demo")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("piped")).read_line(&mut first).expect("a line");
    assert!(!first.is_empty());
    // The reader is gone now: the next writes fail.
    let output = child.wait_with_output().expect("ends");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// `pathsec push`, `pull` and `sign --oci` against a real registry (Debian's docker-registry, started on
/// a loopback port): an unsigned push, refused by `check` with a trusted key, signed in place, pulled by
/// digest with its signature beside it, accepted; a pull by tag refused.
#[cfg(feature = "fleet")]
#[test]
fn push_pull_and_sign_in_a_registry() {
    let dir = tempfile::tempdir().expect("temp dir");
    let registry = pathsec_lab::OciRegistry::start(&dir.path().join("registry")).expect("registry starts");
    let policy = policy_file(dir.path(), "reference.wasm", pathsec::bundled::REFERENCE);
    assert!(pathsec().arg("keygen").arg(dir.path().join("ops")).output().expect("runs").status.success());
    let tag = format!("{}/pathsec/reference:1", registry.host());

    let pushed = pathsec().arg("push").arg(&policy).arg(&tag).output().expect("runs");
    assert_eq!(pushed.status.code(), Some(0), "{}", stderr(&pushed));
    let by_tag = pathsec().arg("pull").arg(&tag).arg("--store").arg(dir.path().join("store")).output().expect("runs");
    assert_eq!(by_tag.status.code(), Some(2));
    assert!(stderr(&by_tag).contains("nodes pull by digest only"), "{}", stderr(&by_tag));

    let signed =
        pathsec().args(["sign", "--key"]).arg(dir.path().join("ops.key")).args(["--oci", &tag]).output().expect("runs");
    assert_eq!(signed.status.code(), Some(0), "{}", stderr(&signed));
    let reference = stdout(&signed).split("now ").nth(1).expect("the new reference").trim().to_owned();
    assert!(reference.contains("@sha256:"), "{reference}");

    let out = dir.path().join("pulled.wasm");
    let pulled = pathsec()
        .arg("pull")
        .arg(&reference)
        .arg("-o")
        .arg(&out)
        .arg("--store")
        .arg(dir.path().join("store"))
        .output()
        .expect("runs");
    assert_eq!(pulled.status.code(), Some(0), "{}", stderr(&pulled));
    assert!(stdout(&pulled).contains("signed by key"), "{}", stdout(&pulled));
    assert_eq!(std::fs::read(&out).expect("written"), pathsec::bundled::REFERENCE);
    let check =
        pathsec().arg("check").arg("--trusted-key").arg(dir.path().join("ops.pub")).arg(&out).output().expect("runs");
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
}

/// `pathsec fleet-demo`, small: every step it prints happens (rollout, fact change, staleness, recovery).
#[cfg(feature = "fleet")]
#[test]
fn the_fleet_demo_runs() {
    let output = pathsec().args(["fleet-demo", "--devices", "50", "--max-staleness-ms", "500"]).output().expect("runs");
    assert_eq!(output.status.code(), Some(0), "{}{}", stdout(&output), stderr(&output));
    let text = stdout(&output);
    for step in ["✓ rollout", "switched to", "✓ facts", "facts-stale 50", "✓ recovery", "✓ done"] {
        assert!(text.contains(step), "`{step}` missing:\n{text}");
    }
    assert_eq!(
        text.matches("gw-0: path-secure 35, interconnect-not-trusted 10, access-not-protected 5").count(),
        2,
        "{text}"
    );
}

#[test]
fn serve_answers_until_sigterm_then_stops_gracefully_with_the_log_flushed() {
    use std::io::{BufRead, BufReader, Read, Write};

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pathsec.toml");
    let facts = repo().join("examples/serve/facts.toml");
    let log = dir.path().join("decisions.jsonl");
    std::fs::write(
        &config,
        format!(
            "[listen]\ntcp = \"127.0.0.1:0\"\n[policy]\nbundled = \"reference\"\n[facts]\nfile = \"{}\"\n[log]\nfile = \"{}\"\n",
            facts.display(),
            log.display()
        ),
    )
    .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_pathsec"))
        .args(["serve", "--config"])
        .arg(&config)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    let address = first.trim().rsplit("http://").next().unwrap().to_owned();
    assert!(first.contains("HTTP and gRPC on http://127.0.0.1:"), "{first}");

    // 50 decisions over plain HTTP/1.1, each on its own connection.
    let body = r#"{"role":"server","event":"send-data","server":"mtc.example.com","device":"meter-17"}"#;
    for _ in 0..50 {
        let mut stream = std::net::TcpStream::connect(&address).unwrap();
        write!(
            stream,
            "POST /v1/decide HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200") && answer.contains("send-plain"), "{answer}");
    }
    let status = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    assert_eq!(exit.code(), Some(0), "{rest}");
    assert!(rest.contains("pathsec serve: stopped"), "{rest}");
    let lines = std::fs::read_to_string(&log).unwrap();
    assert_eq!(lines.lines().count(), 50, "every decision is in the log at exit");
}

#[test]
fn replay_and_diff_show_what_another_policy_would_change() {
    let dir = tempfile::tempdir().expect("temp dir");
    let reference = policy_file(dir.path(), "reference.wasm", pathsec::bundled::REFERENCE);
    let strict = policy_file(dir.path(), "always-secure.wasm", pathsec::bundled::ALWAYS_SECURE);
    let log = dir.path().join("demo.log");
    let demo = pathsec()
        .args(["demo", "--packets", "1000", "--devices", "60", "--decision-log"])
        .arg(&log)
        .output()
        .expect("runs");
    assert!(demo.status.success(), "{}", stderr(&demo));
    let lists: Vec<PathBuf> = (1..=2).map(|n| PathBuf::from(format!("{}.lists-{n}.toml", log.display()))).collect();
    assert!(stdout(&demo).contains("pathsec replay"), "{}", stdout(&demo));

    // The demo ran the reference, then the strict baseline for a phase: replayed with the reference,
    // exactly the strict phase's decisions change.
    let replay = |policy: &Path| {
        let mut command = pathsec();
        command.arg("replay").arg(&log).arg("--policy").arg(policy).args(["--format", "json"]);
        for file in &lists {
            command.arg("--facts").arg(file);
        }
        command.output().expect("runs")
    };
    let output = replay(&reference);
    assert_eq!(output.status.code(), Some(1), "changes found: {}", stderr(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert!(report["decisions"].as_u64() > Some(0));
    assert!(report["changed"].as_u64() > Some(0));
    assert_eq!(report["not_replayable"], serde_json::json!({}));
    for change in report["changes"].as_array().expect("changes") {
        assert_eq!(change["from"][1], "policy-requires-application-security", "{change}");
    }
    // Replayed with the strict baseline, only the reference's decisions that were not already strict change.
    let report: serde_json::Value = serde_json::from_slice(&replay(&strict).stdout).expect("JSON");
    for change in report["changes"].as_array().expect("changes") {
        assert_eq!(change["to"][1], "policy-requires-application-security", "{change}");
    }
    // Without the lists, replay says what to give.
    let output = pathsec().arg("replay").arg(&log).arg("--policy").arg(&reference).output().expect("runs");
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--facts FILE"), "{}", stderr(&output));

    // diff: the same two policies over the lists' request space, and a policy against itself.
    let output =
        pathsec().arg("diff").arg(&reference).arg(&strict).arg("--facts").arg(&lists[0]).output().expect("runs");
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.contains("send-plain (path-secure)  ->  secure-then-send (policy-requires-application-security)"),
        "{text}"
    );
    assert!(text.contains("e.g. server send-data with "), "{text}");
    let same =
        pathsec().arg("diff").arg(&reference).arg(&reference).arg("--facts").arg(&lists[0]).output().expect("runs");
    assert_eq!(same.status.code(), Some(0), "{}", stdout(&same));
    assert!(stdout(&same).contains(": 0 decided otherwise"), "{}", stdout(&same));
}
