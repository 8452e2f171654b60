//! `pathsec eval --policy P --facts F (--request R | --device D --server S)`: one decision, with its
//! reason. Exit 0 when the decision rests on a trusted network path (`path-secure`), 1 when it does not
//! (application-layer security is used, or the input is discarded), 2 on an error — including a
//! policy that failed (the decision shown is then the fail-closed one).

use std::path::PathBuf;

use pathsec::{
    Engine, Role,
    files::{FactsFile, RequestFile},
    vocab::EventKind,
};

use crate::command::{Format, Outcome, Result, load_policy};

/// Options of `pathsec eval`.
#[derive(clap::Args)]
pub struct Eval {
    /// The policy component.
    #[arg(long)]
    policy: PathBuf,
    /// The facts file (`.toml` or `.json`): lists, servers, devices.
    #[arg(long)]
    facts: PathBuf,
    /// A request file (`.toml` or `.json`); or give `--device` and `--server`.
    #[arg(long, conflicts_with_all = ["device", "server"])]
    request: Option<PathBuf>,
    /// A device of the facts file.
    #[arg(long, requires = "server")]
    device: Option<String>,
    /// The server's FQDN.
    #[arg(long, requires = "device")]
    server: Option<String>,
    /// Which node asks.
    #[arg(long, default_value = "server")]
    role: Role,
    /// What it handles (`receive-trigger` needs a request file, for the trigger's checks).
    #[arg(long, default_value = "send-data")]
    event: EventKind,
    /// Load the policy through this artifact cache.
    #[arg(long)]
    cache: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

impl Eval {
    pub fn run(self) -> Result {
        let facts = FactsFile::read(&self.facts)?;
        let request = match (&self.request, &self.device, &self.server) {
            (Some(path), _, _) => RequestFile::read(path)?,
            (None, Some(device), Some(server)) => RequestFile {
                role: self.role,
                event: self.event,
                server: server.parse()?,
                device: Some(device.clone()),
                serving: None,
                home: None,
                access: None,
                ciphering: None,
                integrity: None,
                access_integrity: None,
                end_to_end: None,
                registration: None,
            },
            _ => return Err("give `--request FILE`, or `--device NAME --server FQDN`".into()),
        };
        let source = self.request.as_ref().map_or_else(|| "the command line".to_owned(), |p| p.display().to_string());
        let mut builder = facts.builder();
        let request = request.resolve(&facts, &mut builder, &source, "request")?;
        let fact_set = builder.build();

        let engine = Engine::new()?;
        let policy = load_policy(&engine, &self.policy, self.cache.as_deref())?.policy;
        let decision = policy.decider().decide(&fact_set, &request);
        match self.format {
            Format::Human => {
                println!("{decision}");
                if let Some(fault) = &decision.fault {
                    eprintln!(
                        "error: policy `{}` failed, so the decision is the fail-closed one: {fault}",
                        policy.name()
                    );
                }
            }
            Format::Json => {
                let report = serde_json::json!({
                    "action": decision.action,
                    "reason": decision.reason,
                    "explanation": decision.reason.explain(),
                    "fault": decision.fault.as_ref().map(|fault| fault.to_string()),
                    "policy": { "name": policy.name(), "sha256": policy.digest() },
                });
                println!("{report:#}");
            }
        }
        Ok(match (&decision.fault, decision.path_trusted()) {
            (Some(_), _) => Outcome::Error,
            (None, true) => Outcome::Success,
            (None, false) => Outcome::Negative,
        })
    }
}
