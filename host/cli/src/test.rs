//! `pathsec test --policy P CASES...`: run policy test-case files (files, or directories searched for
//! `.toml` and `.json`) and report each case, like `opa test`. Exit 0 when every case passed, 1 when one
//! failed, 2 when the policy does not load or no case was found.

use std::path::{Path, PathBuf};

use pathsec::{Engine, cases::CaseFile};

use crate::command::{Format, Outcome, Result, load_policy, policy_name};

/// Options of `pathsec test`.
#[derive(clap::Args)]
pub struct Test {
    /// The policy component.
    #[arg(long)]
    policy: PathBuf,
    /// Case files, or directories of them.
    #[arg(required = true)]
    cases: Vec<PathBuf>,
    /// Print passing and skipped cases too.
    #[arg(long, short)]
    verbose: bool,
    /// Load the policy through this artifact cache.
    #[arg(long)]
    cache: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

/// The outcome of one case (or of one case file that could not be read).
struct CaseResult {
    file: String,
    case: String,
    status: &'static str,
    detail: String,
}

impl Test {
    pub fn run(self) -> Result {
        let mut files = Vec::new();
        for path in &self.cases {
            collect(path, &mut files)?;
        }
        if files.is_empty() {
            return Err("no case files (`.toml`, `.json`) found".into());
        }
        let engine = Engine::new()?;
        let policy = load_policy(&engine, &self.policy, self.cache.as_deref())?.policy;
        let name = policy_name(&self.policy);
        let mut decider = policy.decider();
        let mut results = Vec::new();
        for file in &files {
            let shown = file.display().to_string();
            let result = |case: &str, status, detail: String| CaseResult {
                file: shown.clone(),
                case: case.to_owned(),
                status,
                detail,
            };
            match CaseFile::read(file) {
                Err(error) => results.push(result("", "fail", error.to_string())),
                Ok(CaseFile::RefusedAsWanted { note, error }) => {
                    results.push(result(&note, "pass", format!("refused as wanted: {error}")))
                }
                Ok(CaseFile::Cases { facts, cases, related, sequences, .. }) => {
                    for case in &cases {
                        if !case.applies_to(&name) {
                            let detail = format!("for policy `{}`", case.policy.as_deref().unwrap_or_default());
                            results.push(result(&case.note, "skip", detail));
                            continue;
                        }
                        let decision = decider.decide(&facts, &case.request);
                        results.push(match case.check(&decision) {
                            Ok(()) => result(&case.note, "pass", decision.to_string()),
                            Err(problem) => result(&case.note, "fail", problem),
                        });
                    }
                    for case in &related {
                        if !case.applies_to(&name) {
                            let detail = format!("for policy `{}`", case.policy.as_deref().unwrap_or_default());
                            results.push(result(&case.note, "skip", detail));
                            continue;
                        }
                        results.push(match case.run(&mut decider, &facts) {
                            Ok(verdict) => result(&case.note, "pass", verdict),
                            Err(problem) => result(&case.note, "fail", problem),
                        });
                    }
                    for sequence in &sequences {
                        if !sequence.applies_to(&name) {
                            let detail = format!("for policy `{}`", sequence.policy.as_deref().unwrap_or_default());
                            results.push(result(&sequence.note, "skip", detail));
                            continue;
                        }
                        results.push(match sequence.run(&policy, &facts, |_, _, _| {}) {
                            Ok(steps) => result(&sequence.note, "pass", format!("{steps} steps")),
                            Err(problem) => result(&sequence.note, "fail", problem),
                        });
                    }
                }
            }
        }
        let count = |status| results.iter().filter(|r| r.status == status).count();
        let (passed, failed, skipped) = (count("pass"), count("fail"), count("skip"));
        match self.format {
            Format::Human => {
                for r in &results {
                    if r.status == "fail" || self.verbose {
                        let case = if r.case.is_empty() { String::new() } else { format!(" — {}", r.case) };
                        println!("{} {}{case}: {}", r.status.to_uppercase(), r.file, r.detail);
                    }
                }
                println!("policy `{}` ({})", policy.name(), policy.digest());
                println!("{passed} passed, {failed} failed, {skipped} skipped");
            }
            Format::Json => {
                let cases: Vec<_> = results
                    .iter()
                    .map(|r| serde_json::json!({ "file": r.file, "case": r.case, "status": r.status, "detail": r.detail }))
                    .collect();
                let report = serde_json::json!({
                    "policy": { "name": policy.name(), "sha256": policy.digest() },
                    "passed": passed, "failed": failed, "skipped": skipped, "cases": cases,
                });
                println!("{report:#}");
            }
        }
        Ok(if failed > 0 {
            Outcome::Negative
        } else if passed == 0 {
            return Err("no case ran: every case was for another policy".into());
        } else {
            Outcome::Success
        })
    }
}

/// Case files under `path`, in a stable order.
fn collect(path: &Path, files: &mut Vec<PathBuf>) -> std::result::Result<(), Box<dyn std::error::Error>> {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| format!("cannot list `{}`: {e}", path.display()))?
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .collect();
        entries.sort();
        for entry in entries {
            if entry.is_dir() || entry.extension().is_some_and(|ext| ext == "toml" || ext == "json") {
                collect(&entry, files)?;
            }
        }
    } else if path.exists() {
        files.push(path.to_owned());
    } else {
        return Err(format!("`{}` does not exist", path.display()).into());
    }
    Ok(())
}
