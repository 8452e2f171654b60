//! `pathsec compile POLICY.wasm`: precompile into the artifact cache, keyed by the component's digest
//! and the engine's settings, so a host (or `pathsec eval/test --cache`) loads it without compiling.

use std::path::PathBuf;
use std::time::Instant;

use pathsec::{
    Engine,
    wasm::{ArtifactCache, Origin},
};

use crate::command::{Outcome, Result, default_cache, human};

/// Options of `pathsec compile`.
#[derive(clap::Args)]
pub struct Compile {
    /// The policy component.
    policy: PathBuf,
    /// The artifact cache (default: `$PATHSEC_CACHE`, `$XDG_CACHE_HOME/pathsec` or `~/.cache/pathsec`).
    #[arg(long)]
    cache: Option<PathBuf>,
}

impl Compile {
    pub fn run(self) -> Result {
        let cache_dir =
            self.cache.or_else(default_cache).ok_or("no artifact cache: give `--cache DIR` or set `PATHSEC_CACHE`")?;
        let engine = Engine::new()?;
        let bytes = std::fs::read(&self.policy)
            .map_err(|source| pathsec::wasm::LoadError::Read { path: self.policy.clone(), source })?;
        let name = self.policy.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let cache = ArtifactCache::open(&cache_dir)?;
        let started = Instant::now();
        let (policy, origin) = cache.load_policy(&engine, &name, &bytes)?;
        let took = started.elapsed();
        match origin {
            Origin::Compiled => {
                println!("compiled `{}` in {} into `{}`", policy.name(), human(took), cache_dir.display())
            }
            Origin::Cached => println!(
                "`{}` was already compiled in `{}` (loaded in {})",
                policy.name(),
                cache_dir.display(),
                human(took)
            ),
            Origin::CompiledNotCached { reason } => {
                return Err(format!("compiled `{}`, but {reason}", policy.name()).into());
            }
            other => println!("loaded `{}` in {} ({other:?})", policy.name(), human(took)),
        }
        let started = Instant::now();
        ArtifactCache::open(&cache_dir)?.load_policy(&engine, &name, &bytes)?;
        println!("  loads in {} from the cache (sha-256 {})", human(started.elapsed()), policy.digest());
        Ok(Outcome::Success)
    }
}
