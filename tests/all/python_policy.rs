//! The contract is language-neutral: the reference rule written in Python (`guest-policies/python`),
//! built by `scripts/build-python-policy.sh` with componentize-py from the tool cache outside the clone,
//! loads in the unchanged host and passes the same scenario files — and agrees with the rule as `docs/method.md` writes it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use pathsec::{cases::CaseFile, wasm::ArtifactCache};
use pathsec_suite::generate::{self, Rng};
use pathsec_suite::method;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The built component, rebuilt when its source or the WIT is newer.
fn build() -> PathBuf {
    let output = repo().join("target/python-policies/reference-py.wasm");
    let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).unwrap_or(SystemTime::UNIX_EPOCH);
    let sources = [repo().join("guest-policies/python/reference/app.py"), repo().join("wit/path-secure.wit")];
    if sources.iter().any(|source| modified(source) >= modified(&output)) {
        let status = Command::new("bash")
            .arg(repo().join("scripts/build-python-policy.sh"))
            .arg(&output)
            .status()
            .expect("bash runs the build script");
        assert!(status.success(), "scripts/build-python-policy.sh failed");
    }
    output
}

#[test]
fn the_python_reference_policy_passes_the_scenario_files_and_agrees_with_the_method_table() {
    let wasm = build();
    let bytes = std::fs::read(&wasm).expect("built component");
    // Compiling 18 MB of CPython takes seconds: keep the artifact for the next run.
    let artifacts = repo().join("target/python-policies/artifacts");
    std::fs::create_dir_all(&artifacts).expect("artifact directory");
    let cache = ArtifactCache::open(&artifacts).expect("artifact cache");
    let (policy, _) =
        cache.load_policy(pathsec_suite::engine(), "reference-py.wasm", &bytes).expect("the host loads it");
    assert!(
        policy.imports().iter().all(|import| import.starts_with("wasi:") || import.starts_with("pathsec:policy/types"))
    );

    assert!(!policy.has_packed_batch(), "built for `path-secure` alone: its batches go through decide-batch");
    assert!(!pathsec::related::TRIGGER_GUARD.exported_by(&policy), "nor does it export the optional trigger guard");

    let mut decider = policy.decider();
    let mut files = Vec::new();
    files.extend(
        pathsec_suite::files_under(&repo().join("tests/cases/reference"))
            .into_iter()
            .filter(|path| path.extension().is_some_and(|ext| ext == "toml")),
    );
    files.sort();
    let (mut ran, mut path_files, mut sequences_ran) = (0, 0, 0);
    for file in &files {
        let CaseFile::Cases { facts, cases, sequences, .. } = CaseFile::read(file).expect("scenario file") else {
            continue;
        };
        // The Python reference exports no related decisions: sequences that ask them are the Rust one's.
        for sequence in sequences.iter().filter(|sequence| sequence.applies_to("reference") && !sequence.asks_related())
        {
            sequence
                .run(&policy, &facts, |_, _, _| {})
                .unwrap_or_else(|problem| panic!("{}: {}: {problem}", file.display(), sequence.note));
            sequences_ran += 1;
        }
        // The trigger-guard files have only `[[trigger-case]]`s, which are for the Rust reference.
        path_files += usize::from(!cases.is_empty());
        for case in cases {
            let decision = decider.decide(&facts, &case.request);
            case.check(&decision).unwrap_or_else(|problem| panic!("{}: {}: {problem}", file.display(), case.note));
            ran += 1;
        }
    }
    assert!(
        ran >= path_files && path_files > 60,
        "every path-decision scenario file ran: {ran} cases of {path_files} files"
    );
    assert!(ran > 60, "{ran} cases of {} files", files.len());
    assert!(sequences_ran >= 10, "the sequences run on the Python policy too: {sequences_ran}");

    let networks = generate::networks();
    for seed in 0..4 {
        let mut rng = Rng::new(seed);
        let (facts, servers) = generate::facts(&mut rng, 4, 0.3 + 0.15 * seed as f64);
        let requests: Vec<_> = (0..500).map(|_| generate::request(&mut rng, &networks, &servers)).collect();
        for (request, decision) in requests.iter().zip(decider.decide_batch(&facts, &requests)) {
            assert!(decision.fault.is_none(), "{decision}");
            assert_eq!((decision.action, decision.reason), method::expected(&facts, request), "{request:?}");
        }
    }
}
