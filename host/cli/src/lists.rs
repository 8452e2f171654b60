//! `pathsec lists sign | verify | show | diff`: signed list bundles (the trust lists with a generation,
//! an issuer and a validity period) for delivery to servers and devices.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use pathsec::delivery::{AcceptedGenerations, BundleKeys, ListBundle};
use pathsec::facts::digest;
use pathsec::files::FactsFile;
use pathsec::signing::{PublicKey, SecretKey};

use crate::command::{Outcome, Result};

/// Options of `pathsec lists`.
#[derive(clap::Subcommand)]
pub enum Lists {
    /// Make a signed bundle of a facts file's lists.
    Sign(SignBundle),
    /// Check a bundle as a host would: signature by a key trusted for lists, validity, generation.
    Verify(Verify),
    /// Print a bundle's header and lists (without checking it).
    Show(Show),
    /// Print what a bundle adds to and removes from another's lists.
    Diff(Diff),
}

impl Lists {
    pub fn run(self) -> Result {
        match self {
            Lists::Sign(command) => command.run(),
            Lists::Verify(command) => command.run(),
            Lists::Show(command) => command.run(),
            Lists::Diff(command) => command.run(),
        }
    }
}

/// Options of `pathsec lists sign`.
#[derive(clap::Args)]
pub struct SignBundle {
    /// The secret key file (`pathsec keygen` makes one).
    #[arg(long)]
    key: PathBuf,
    /// The facts file whose `[lists]` the bundle carries.
    #[arg(long)]
    facts: PathBuf,
    /// The bundle's generation: larger than every earlier one of this issuer.
    #[arg(long)]
    generation: u64,
    /// Who issues it.
    #[arg(long)]
    issuer: String,
    /// How many days it holds, from now.
    #[arg(long, default_value_t = 30)]
    valid_days: u64,
    /// Where to write it.
    #[arg(long, short)]
    output: PathBuf,
}

/// Options of `pathsec lists verify`.
#[derive(clap::Args)]
pub struct Verify {
    /// A public key file trusted for lists (repeat for more).
    #[arg(long = "trust", required = true)]
    trusted: Vec<PathBuf>,
    /// The record of accepted generations to check against (as the host keeps it); not written.
    #[arg(long)]
    record: Option<PathBuf>,
    /// The bundle.
    bundle: PathBuf,
}

/// Options of `pathsec lists show`.
#[derive(clap::Args)]
pub struct Show {
    /// The bundle.
    bundle: PathBuf,
}

/// Options of `pathsec lists diff`.
#[derive(clap::Args)]
pub struct Diff {
    /// The bundle before.
    old: PathBuf,
    /// The bundle after.
    new: PathBuf,
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_secs())
}

fn read(path: &Path) -> std::result::Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read `{}`: {e}", path.display()))
}

fn inspect(path: &Path) -> std::result::Result<(ListBundle, Option<String>), Box<dyn std::error::Error>> {
    Ok(ListBundle::inspect(&path.display().to_string(), &read(path)?)?)
}

impl SignBundle {
    fn run(self) -> Result {
        let text = std::fs::read_to_string(&self.key)
            .map_err(|e| format!("cannot read the secret key `{}`: {e}", self.key.display()))?;
        let secret = SecretKey::parse(&self.key.display().to_string(), &text)?;
        let facts = FactsFile::read(&self.facts)?;
        let now = now();
        let not_after = now.saturating_add(self.valid_days.saturating_mul(86_400));
        let bundle = ListBundle::new(self.generation, &self.issuer, now, not_after, &facts.builder().build());
        let signed = bundle.sign(&secret);
        // What a host trusting this key for lists will check, before anything is written.
        let name = self.output.display().to_string();
        ListBundle::open(
            &name,
            &signed,
            &BundleKeys::new([secret.public_key()]),
            now,
            &AcceptedGenerations::in_memory(),
        )?;
        std::fs::write(&self.output, &signed).map_err(|e| format!("cannot write `{name}`: {e}"))?;
        println!(
            "signed generation {} of `{}` with key {} into `{name}` (lists {}, valid {} days)",
            bundle.generation,
            bundle.issuer,
            secret.public_key().id(),
            bundle.facts().lists_digest(),
            self.valid_days
        );
        Ok(Outcome::Success)
    }
}

impl Verify {
    fn run(self) -> Result {
        let mut keys = Vec::new();
        for path in &self.trusted {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read the public key `{}`: {e}", path.display()))?;
            keys.push(PublicKey::parse(&path.display().to_string(), &text)?);
        }
        let accepted = match &self.record {
            Some(path) => AcceptedGenerations::open(path)?,
            None => AcceptedGenerations::in_memory(),
        };
        let name = self.bundle.display().to_string();
        let bundle = ListBundle::open(&name, &read(&self.bundle)?, &BundleKeys::new(keys), now(), &accepted)?;
        println!(
            "`{name}`: generation {} of `{}`, valid until {} (Unix seconds), lists {}: a host trusting these keys accepts it",
            bundle.generation,
            bundle.issuer,
            bundle.not_after,
            bundle.facts().lists_digest()
        );
        Ok(Outcome::Success)
    }
}

impl Show {
    fn run(self) -> Result {
        let (bundle, key_id) = inspect(&self.bundle)?;
        println!("bundle     {} (not checked: `pathsec lists verify` checks it)", self.bundle.display());
        println!("issuer     {}", bundle.issuer);
        println!("generation {}", bundle.generation);
        println!("valid      {} to {} (Unix seconds)", bundle.not_before, bundle.not_after);
        println!("signed by  {}", key_id.as_deref().unwrap_or("nobody (unsigned)"));
        let facts = bundle.facts();
        println!("lists      {}", facts.lists_digest());
        for line in digest::canonical(&facts).lines().skip(1) {
            println!("  {line}");
        }
        Ok(Outcome::Success)
    }
}

impl Diff {
    fn run(self) -> Result {
        let (old, _) = inspect(&self.old)?;
        let (new, _) = inspect(&self.new)?;
        let lines = |bundle: &ListBundle| -> std::collections::BTreeSet<String> {
            digest::canonical(&bundle.facts()).lines().skip(1).map(str::to_owned).collect()
        };
        let (before, after) = (lines(&old), lines(&new));
        println!("generation {} -> {} ({} -> {})", old.generation, new.generation, old.issuer, new.issuer);
        for removed in before.difference(&after) {
            println!("- {removed}");
        }
        for added in after.difference(&before) {
            println!("+ {added}");
        }
        let changed = before != after;
        println!("{}", if changed { "the lists differ" } else { "the lists are the same" });
        Ok(if changed { Outcome::Negative } else { Outcome::Success })
    }
}
