//! Runs every scenario file in `tests/cases/` as its own test: each case must get the decision it
//! wants from the bundled policy it is for (`reference` unless it names another), and — for the
//! reference policy — the native-Rust rule must agree.

use std::path::{Path, PathBuf};

use libtest_mimic::{Arguments, Failed, Trial};
use pathsec::cases::CaseFile;
use pathsec_suite::native::NativeRule;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut files = Vec::new();
    collect(&root, &mut files);
    files.sort();
    let trials = files
        .into_iter()
        .map(|path| {
            let name = path.strip_prefix(&root).unwrap_or(&path).with_extension("").display().to_string();
            Trial::test(name, move || run(&path))
        })
        .collect();
    libtest_mimic::run(&Arguments::from_args(), trials).exit();
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list `{}`: {e}", dir.display()));
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, files);
        } else if path.extension().is_some_and(|ext| ext == "toml" || ext == "json") {
            files.push(path);
        }
    }
}

fn run(path: &Path) -> Result<(), Failed> {
    let (facts, cases, related, sequences) = match CaseFile::read(path).map_err(|e| e.to_string())? {
        CaseFile::RefusedAsWanted { .. } => return Ok(()),
        CaseFile::Cases { facts, cases, related, sequences, .. } => (facts, cases, related, sequences),
    };
    // Sequences run on live runtimes; every decision the reference policy was asked for must be the
    // native rule's too.
    for sequence in &sequences {
        let name = sequence.policy.as_deref().unwrap_or("reference");
        let policy = pathsec_suite::bundled(name).ok_or_else(|| format!("no bundled policy `{name}`"))?;
        let mut disagreements = Vec::new();
        sequence
            .run(&policy, &facts, |lists, request, decision| {
                let native = NativeRule::new(lists).decide(request);
                if name == "reference" && native != (decision.action, decision.reason) {
                    disagreements.push(format!("{request:?}: policy {decision}, native {} ({})", native.0, native.1));
                }
            })
            .map_err(|e| format!("{}: {e}", sequence.note))?;
        if let Some(first) = disagreements.first() {
            return Err(format!("{}: the native rule disagrees: {first}", sequence.note).into());
        }
    }
    for case in &related {
        let name = case.policy.as_deref().unwrap_or("reference");
        let policy = pathsec_suite::bundled(name).ok_or_else(|| format!("no bundled policy `{name}`"))?;
        case.run(&mut policy.decider(), &facts).map_err(|e| format!("{}: {e}", case.note))?;
    }
    let native = NativeRule::new(&facts);
    for case in &cases {
        let name = case.policy.as_deref().unwrap_or("reference");
        let policy = pathsec_suite::bundled(name).ok_or_else(|| format!("no bundled policy `{name}`"))?;
        let decision = policy.decider().decide(&facts, &case.request);
        case.check(&decision).map_err(|e| format!("{}: {e}", case.note))?;
        if name == "reference" {
            let got = native.decide(&case.request);
            if got != (case.want.action, case.want.reason) {
                return Err(format!("{}: the native rule says {} ({})", case.note, got.0, got.1).into());
            }
        }
    }
    Ok(())
}
