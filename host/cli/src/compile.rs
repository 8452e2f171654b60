//! `pathsec compile POLICY.wasm`: precompile into the artifact cache, keyed by the component's digest
//! and the engine's settings, so a host (or `pathsec eval/test --cache`) loads it without compiling.
//!
//! `pathsec compile --out POLICY.cwasm [--target TRIPLE] POLICY.wasm`: a precompiled artifact for a
//! host or device of that target (`pulley64` for wasmtime's interpreter), which a build without the
//! compiler loads. The policy is loaded and self-checked on this host first, so what is written is a
//! policy that works; `--sign KEY` writes `POLICY.cwasm.sig` for hosts that trust that key.

use std::path::{Path, PathBuf};
use std::time::Instant;

use pathsec::{
    Engine,
    signing::{SecretKey, TrustedKeys},
    wasm::{ArtifactCache, HOST_TARGET, Origin},
};

use crate::command::{Outcome, Result, default_cache, human};

/// Options of `pathsec compile`.
#[derive(clap::Args)]
pub struct Compile {
    /// The policy component.
    policy: PathBuf,
    /// The artifact cache (default: `$PATHSEC_CACHE`, `$XDG_CACHE_HOME/pathsec` or `~/.cache/pathsec`).
    #[arg(long, conflicts_with = "out")]
    cache: Option<PathBuf>,
    /// Write one precompiled artifact here instead of filling the cache.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// The target triple the artifact is for (with `--out`; default this host's, with its architecture's
    /// baseline CPU features, so it runs on any such CPU): another architecture
    /// (`aarch64-unknown-linux-gnu`: this build needs the `cross-compile` feature), or `pulley64` for wasmtime's portable interpreter.
    #[arg(long, requires = "out", value_name = "TRIPLE")]
    target: Option<String>,
    /// Code for an engine without signal-based traps (`EngineBuilder::signals_based_traps(false)`):
    /// bounds checked in the code. An artifact runs only on an engine with the same setting.
    #[arg(long, requires = "out")]
    explicit_bounds_checks: bool,
    /// Sign the artifact with this secret key, into `FILE.sig` (with `--out`).
    #[arg(long, requires = "out", value_name = "KEY")]
    sign: Option<PathBuf>,
}

impl Compile {
    pub fn run(self) -> Result {
        let bytes = std::fs::read(&self.policy)
            .map_err(|source| pathsec::wasm::LoadError::Read { path: self.policy.clone(), source })?;
        let name = self.policy.file_name().map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        if let Some(out) = &self.out {
            return self.artifact(&name, &bytes, out);
        }
        let cache_dir =
            self.cache.or_else(default_cache).ok_or("no artifact cache: give `--cache DIR` or set `PATHSEC_CACHE`")?;
        let engine = Engine::new()?;
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

    /// Checks the policy on this host, then writes one artifact for the target.
    fn artifact(&self, name: &str, bytes: &[u8], out: &Path) -> Result {
        let signed_by = match &self.sign {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read the secret key `{}`: {e}", path.display()))?;
                Some(SecretKey::parse(&path.display().to_string(), &text)?)
            }
            None => None,
        };
        let signature = pathsec::signing::read_signature_beside(&self.policy)?;
        // The policy works: loaded and self-checked here, as a host loading it would.
        let here = Engine::new()?;
        let policy = here.load_signed_policy(name, bytes, signature.as_deref())?;
        pathsec::Runtime::new(policy.clone())
            .map_err(|e| format!("`{name}` loads, but fails its self-check, so no artifact is written: {e}"))?;
        let target = self.target.as_deref().unwrap_or(HOST_TARGET);
        let engine = Engine::builder().target(target).signals_based_traps(!self.explicit_bounds_checks).build()?;
        let started = Instant::now();
        let artifact = engine.precompile(name, bytes, signature.as_deref())?;
        let took = started.elapsed();
        write_atomically(out, &artifact)?;
        let (header, _) = pathsec::wasm::read_header(name, &artifact)?;
        println!(
            "compiled `{name}` for `{}` ({}) in {} into `{}`: {} bytes, component sha-256 {}",
            header.target,
            header.profile,
            human(took),
            out.display(),
            artifact.len(),
            header.component_sha256
        );
        if let Some(secret) = signed_by {
            let signature = secret.sign(&artifact).to_text();
            let shown = out.display().to_string();
            TrustedKeys::new([secret.public_key()]).check(&shown, &artifact, Some(&signature))?;
            let file = pathsec::signing::signature_path(out);
            write_atomically(&file, signature.as_bytes())?;
            println!("signed it with key {} into `{}`", secret.public_key().id(), file.display());
        }
        Ok(Outcome::Success)
    }
}

/// Writes `bytes` beside `path` and renames, so a reader never sees half an artifact.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::result::Result<(), String> {
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(".{}.tmp", std::process::id()));
    let temporary = PathBuf::from(temporary);
    std::fs::write(&temporary, bytes)
        .and_then(|()| std::fs::rename(&temporary, path))
        .inspect_err(|_| {
            let _ = std::fs::remove_file(&temporary);
        })
        .map_err(|e| format!("cannot write `{}`: {e}", path.display()))
}
