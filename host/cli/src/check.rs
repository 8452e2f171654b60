//! `pathsec check POLICY.wasm`: does it implement `path-secure`; what it imports; size; compile time;
//! and the self-check a swap runs.

use std::path::PathBuf;

use pathsec::Runtime;

use crate::command::{Format, Outcome, Result, engine, human, load_policy};

/// Options of `pathsec check`.
#[derive(clap::Args)]
pub struct Check {
    /// The policy component.
    policy: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// A public key (`pathsec keygen`'s `NAME.pub`) the policy must be signed by, as a host trusting
    /// it requires; repeat for several. The signature is read from `POLICY.wasm.sig`.
    #[arg(long = "trusted-key", value_name = "FILE")]
    trusted_keys: Vec<PathBuf>,
}

impl Check {
    pub fn run(self) -> Result {
        let engine = engine(&self.trusted_keys)?;
        let loaded = load_policy(&engine, &self.policy, None)?;
        let policy = &loaded.policy;
        // The self-check a swap runs: probe facts, every event of both roles.
        let self_check = Runtime::new(policy.clone()).map(|_| ());
        match self.format {
            Format::Human => {
                println!("policy `{}` implements pathsec:policy/path-secure", policy.name());
                println!(
                    "  wit        pathsec:policy@{}{}",
                    policy.wit_version(),
                    if policy.wit_version() == "0.2.0" {
                        ""
                    } else {
                        " (run through the adapter: flat List 3 only, no related decisions; rebuild with the 0.2 SDK)"
                    }
                );
                println!("  size       {} bytes", policy.size());
                println!("  sha-256    {}", policy.digest());
                println!("  compiled   in {}", human(loaded.took));
                println!(
                    "  imports    {} (linked with no capability: no files, environment, network or stdio)",
                    imports(policy.imports())
                );
                println!(
                    "  batches    {}",
                    if policy.has_packed_batch() {
                        "packed (exports pathsec:policy/decide-packed)"
                    } else {
                        "record by record (decide-batch; build with the Rust SDK for the packed batch)"
                    }
                );
                println!(
                    "  singles    {}",
                    if policy.has_scalar_decision() {
                        "scalar (exports pathsec:policy/decide-scalar)"
                    } else {
                        "as a record (decide; build with the Rust SDK for the scalar single decision)"
                    }
                );
                for interface in pathsec::related::INTERFACES {
                    let said = if interface.exported_by(policy) { interface.exported } else { interface.missing };
                    println!("  {:<10} {said}", interface.label);
                }
                match &self_check {
                    Ok(()) => println!(
                        "  self-check passed: it answers every event of both roles without a fault, alike through each export"
                    ),
                    Err(error) => println!("  self-check FAILED: {error}"),
                }
            }
            Format::Json => {
                let mut report = serde_json::json!({
                    "policy": policy.name(),
                    "implements": "pathsec:policy/path-secure",
                    "wit": policy.wit_version(),
                    "size": policy.size(),
                    "sha256": policy.digest(),
                    "compile_ms": loaded.took.as_secs_f64() * 1000.0,
                    "imports": policy.imports(),
                    "packed_batch": policy.has_packed_batch(),
                    "scalar_decision": policy.has_scalar_decision(),
                });
                for interface in pathsec::related::INTERFACES {
                    report[interface.key] = interface.exported_by(policy).into();
                }
                report["self_check"] =
                    self_check.as_ref().map_or_else(|e| e.to_string(), |()| "passed".to_owned()).into();
                println!("{report:#}");
            }
        }
        Ok(if self_check.is_ok() { Outcome::Success } else { Outcome::Error })
    }
}

fn imports(imports: &[String]) -> String {
    if imports.is_empty() { "nothing".to_owned() } else { imports.join(", ") }
}
