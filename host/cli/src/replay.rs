//! `pathsec replay LOG --policy CANDIDATE --facts F | --bundle B`: re-decides every decision of a
//! decision log with a candidate policy, on the lists each was made on (matched by content digest to
//! the facts files and list bundles given), and reports what would change. Exit 0 when nothing
//! changes, 1 when a decision does, 2 on an error.

use std::io::BufReader;
use std::path::PathBuf;

use pathsec::delivery::ListBundle;
use pathsec::files::FactsFile;
use pathsec::review::{ListsAtHand, ReplayReport, replay};

use crate::command::{Format, Outcome, Result, load_policy};

/// Options of `pathsec replay`.
#[derive(clap::Args)]
pub struct Replay {
    /// The decision log (JSON lines, as `DecisionLog` and `pathsec serve` write them; format 3).
    log: PathBuf,
    /// The candidate policy (component or precompiled artifact).
    #[arg(long)]
    policy: PathBuf,
    /// Facts files whose lists the logged decisions may have been made on.
    #[arg(long)]
    facts: Vec<PathBuf>,
    /// List bundles whose lists the logged decisions may have been made on (read, not verified: a
    /// replay decides nothing live).
    #[arg(long)]
    bundle: Vec<PathBuf>,
    /// Load the policy through this artifact cache.
    #[arg(long)]
    cache: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

impl Replay {
    pub fn run(self) -> Result {
        if self.facts.is_empty() && self.bundle.is_empty() {
            return Err(
                "give the lists the log was made on: `--facts FILE` or `--bundle FILE` (each may repeat)".into()
            );
        }
        let mut lists = ListsAtHand::new();
        for path in &self.facts {
            lists.add(&path.display().to_string(), FactsFile::read(path)?.builder().build());
        }
        for path in &self.bundle {
            let name = path.display().to_string();
            let bytes = std::fs::read(path).map_err(|e| format!("cannot read the list bundle `{name}`: {e}"))?;
            lists.add(&name, ListBundle::inspect(&name, &bytes)?.0.facts());
        }
        let engine = pathsec::Engine::new()?;
        let policy = load_policy(&engine, &self.policy, self.cache.as_deref())?.policy;
        let name = self.log.display().to_string();
        let file = std::fs::File::open(&self.log).map_err(|e| format!("cannot open the decision log `{name}`: {e}"))?;
        let report = replay(&name, BufReader::new(file), &policy, &lists)?;
        match self.format {
            Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
            Format::Human => print_human(&name, &report),
        }
        Ok(if report.changed == 0 { Outcome::Success } else { Outcome::Negative })
    }
}

fn print_human(log: &str, report: &ReplayReport) {
    let replayed = report.identical + report.changed;
    println!("replayed `{log}` with `{}`: {} decisions", report.policy, report.decisions);
    println!(
        "  identical        {:>9}  ({:.2} % of {replayed} replayed)",
        report.identical,
        report.identical_percent()
    );
    println!("  changed          {:>9}", report.changed);
    println!("  engine-decided   {:>9}  (before any policy: the same under every policy)", report.engine_decided);
    let not_replayable: u64 = report.not_replayable.values().sum();
    println!("  not replayable   {not_replayable:>9}");
    for (why, count) in &report.not_replayable {
        println!("    {count:>9}  {why}");
    }
    for (digest, count) in &report.missing_lists {
        println!("    lists {digest} not at hand ({count} decisions): give the facts file or bundle that holds them");
    }
    if report.dropped > 0 {
        println!("  the log says {} decisions were dropped (never logged, not replayed)", report.dropped);
    }
    if report.changes.is_empty() {
        return;
    }
    println!("changes:");
    let width = report.changes.iter().map(|change| outcome(change.from).len()).max().unwrap_or(0);
    for change in &report.changes {
        println!(
            "  {:>9}  {:<width$}  ->  {}   e.g. {}",
            change.count,
            outcome(change.from),
            outcome(change.to),
            change.examples.join(", ")
        );
    }
}

/// `action (reason)`.
pub fn outcome((action, reason): (pathsec::Action, pathsec::Reason)) -> String {
    format!("{action} ({reason})")
}
