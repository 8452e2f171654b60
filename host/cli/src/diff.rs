//! `pathsec diff POLICY_A POLICY_B --facts F`: where two policies decide otherwise, over the request
//! space that matters for the facts' lists (every role, event, trigger check, access, link state and
//! registration outcome, against each listed network and server, look-alike networks and unlisted
//! ones). Exit 0 when they never differ, 1 when they do, 2 on an error.

use std::path::PathBuf;

use pathsec::files::{FactsFile, RequestFile};
use pathsec::review::{PolicyDiff, diff};

use crate::command::{Format, Outcome, Result, load_policy};
use crate::replay::outcome;

/// Options of `pathsec diff`.
#[derive(clap::Args)]
pub struct Diff {
    /// The first policy (the one running today, say).
    policy_a: PathBuf,
    /// The second (the candidate).
    policy_b: PathBuf,
    /// The facts file whose lists span the request space.
    #[arg(long)]
    facts: PathBuf,
    /// Refuse a request space larger than this (each policy decides every request: ~1 µs each).
    #[arg(long, default_value_t = 50_000_000)]
    max_requests: u64,
    /// Load the policies through this artifact cache.
    #[arg(long)]
    cache: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

impl Diff {
    pub fn run(self) -> Result {
        let lists = FactsFile::read(&self.facts)?.builder().build();
        let engine = pathsec::Engine::new()?;
        let a = load_policy(&engine, &self.policy_a, self.cache.as_deref())?.policy;
        let b = load_policy(&engine, &self.policy_b, self.cache.as_deref())?.policy;
        let report = diff(&a, &b, &lists, self.max_requests)?;
        match self.format {
            Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
            Format::Human => print_human(&self.facts.display().to_string(), &report),
        }
        Ok(if report.differing == 0 { Outcome::Success } else { Outcome::Negative })
    }
}

fn print_human(facts: &str, report: &PolicyDiff) {
    println!(
        "`{}` vs `{}` over {} requests of `{facts}`'s lists: {} decided otherwise",
        report.a, report.b, report.requests, report.differing
    );
    for difference in &report.differences {
        println!("  {:>9}  {}  ->  {}", difference.count, outcome(difference.a), outcome(difference.b));
        for example in &difference.examples {
            println!("             e.g. {}", request(example));
        }
    }
}

/// A request in one line.
fn request(request: &RequestFile) -> String {
    let network = |plmn: Option<pathsec::PlmnId>| plmn.map_or_else(|| "unknown".to_owned(), |plmn| plmn.to_string());
    let on = |flag: Option<bool>| if flag == Some(true) { "on" } else { "off" };
    let mut text = format!(
        "{} {} with {}: home {}, serving {} ({}), ciphering {}, integrity {}, registration {}",
        request.role,
        request.event,
        request.server,
        network(request.home),
        network(request.serving),
        request.access.map_or("3gpp", |access| access.name()),
        on(request.ciphering),
        on(request.integrity),
        request.registration.map_or("none", |registration| registration.name())
    );
    if let (Some(integrity), Some(end_to_end)) = (request.access_integrity, request.end_to_end) {
        text.push_str(&format!(", trigger integrity {integrity}, end-to-end {end_to_end}"));
    }
    text
}
