//! Runs every scenario file in `tests/cases/` as its own test: the bundled policy it names must make
//! the decision it wants, and — for the reference policy — the native-Rust rule must agree.

use std::path::{Path, PathBuf};

use libtest_mimic::{Arguments, Failed, Trial};
use pathsec_suite::cases::{self, Parsed};
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
        } else if path.extension().is_some_and(|ext| ext == "toml") {
            files.push(path);
        }
    }
}

fn run(path: &Path) -> Result<(), Failed> {
    let case = match cases::load(path)? {
        Parsed::ErrorAsWanted => return Ok(()),
        Parsed::Run(case) => case,
    };
    let policy = pathsec_suite::bundled(&case.policy).ok_or_else(|| format!("no bundled policy `{}`", case.policy))?;
    let decision = policy.decider().decide(&case.facts, &case.request);
    if let Some(fault) = &decision.fault {
        return Err(format!("{}: the policy failed: {fault}", case.note).into());
    }
    let got = (decision.action, decision.reason);
    let want = (case.want.action, case.want.reason);
    if got != want {
        return Err(format!("{}\n  want {} ({})\n  got  {} ({})", case.note, want.0, want.1, got.0, got.1).into());
    }
    if case.policy == "reference" {
        let native = NativeRule::new(&case.facts).decide(&case.request);
        if native != want {
            return Err(format!("{}: the native rule says {} ({})", case.note, native.0, native.1).into());
        }
    }
    Ok(())
}
