//! The precompiled-artifact cache: compiled policies on disk, keyed by the component's digest and the
//! engine's settings, so a restart or a swap loads in microseconds instead of compiling.
//!
//! Each file is a precompiled artifact (see `artifact.rs`), checked on every load: one made by another
//! wasmtime or engine profile, or truncated or altered since, is compiled again and replaced.
//!
//! Trust: an artifact is native code that runs unchecked once loaded. The cache directory must be
//! writable by the host's user only; [`ArtifactCache::open`] refuses a directory others may write.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};

use crate::wasm::engine::{Engine, LoadError};
use crate::wasm::policy::Policy;
use crate::wasm::{artifact, digest, policy};
use cap_std::ambient_authority;
use cap_std::fs::Dir;

/// A directory of precompiled policies; see the module docs for the trust it needs.
pub struct ArtifactCache {
    dir: Dir,
    path: PathBuf,
}

/// Where a loaded policy's machine code came from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Origin {
    /// Read from the artifact cache: no compilation.
    Cached,
    /// Compiled now, and written to the cache for next time.
    Compiled,
    /// Loaded from a precompiled artifact file given as the policy (`pathsec compile --out`).
    Precompiled,
    /// Compiled now; writing the artifact failed (the policy is loaded all the same).
    CompiledNotCached {
        /// Why the artifact could not be written.
        reason: String,
    },
}

impl ArtifactCache {
    /// Opens (creating if needed) the cache directory.
    pub fn open(path: impl AsRef<Path>) -> Result<ArtifactCache, ArtifactCacheError> {
        let path = path.as_ref().to_owned();
        let open_error = |source| ArtifactCacheError::Open { path: path.clone(), source };
        std::fs::create_dir_all(&path).map_err(open_error)?;
        let dir = Dir::open_ambient_dir(&path, ambient_authority()).map_err(open_error)?;
        if writable_by_others(&dir).map_err(open_error)? {
            return Err(ArtifactCacheError::WritableByOthers { path });
        }
        Ok(ArtifactCache { dir, path })
    }

    /// The cache's directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Loads a policy: from its cached artifact when there is one for these bytes and this engine,
    /// else by compiling it and caching the artifact.
    pub fn load_policy(&self, engine: &Engine, name: &str, bytes: &[u8]) -> Result<(Policy, Origin), LoadError> {
        self.load_signed_policy(engine, name, bytes, None)
    }

    /// As [`ArtifactCache::load_policy`], with the text of the policy's signature file, if it has one
    /// (see [`Engine::load_signed_policy`]). The signature is checked before the cache is looked in.
    pub fn load_signed_policy(
        &self,
        engine: &Engine,
        name: &str,
        bytes: &[u8],
        signature: Option<&str>,
    ) -> Result<(Policy, Origin), LoadError> {
        engine.check_runs_here(name)?;
        policy::admit(engine, name, bytes, signature)?;
        let digest = digest::sha256_hex(bytes);
        let key = self.key(engine, &digest);
        // A missing, stale (another wasmtime or profile), truncated or altered artifact is compiled again.
        if let Ok(file) = self.dir.read(&key)
            && let Ok(policy) = artifact::load_cached(engine, name, &file, &digest)
        {
            return Ok((policy, Origin::Cached));
        }
        self.compile(engine, name, bytes, &key)
    }

    #[cfg(feature = "compiler")]
    fn compile(&self, engine: &Engine, name: &str, bytes: &[u8], key: &str) -> Result<(Policy, Origin), LoadError> {
        let file = engine.precompile_admitted(name, bytes)?;
        let policy = artifact::load_cached(engine, name, &file, &digest::sha256_hex(bytes))?;
        let origin = match self.store(key, &file) {
            Ok(()) => Origin::Compiled,
            Err(error) => Origin::CompiledNotCached {
                reason: format!("cannot write `{}`: {error}", self.path.join(key).display()),
            },
        };
        Ok((policy, origin))
    }

    #[cfg(not(feature = "compiler"))]
    fn compile(&self, engine: &Engine, name: &str, _bytes: &[u8], _key: &str) -> Result<(Policy, Origin), LoadError> {
        Err(LoadError::NoCompiler { name: name.to_owned(), target: engine.target().to_owned() })
    }

    /// `<sha256 of the component>-<engine settings hash>.cwasm`
    fn key(&self, engine: &Engine, digest: &str) -> String {
        let mut settings = DefaultHasher::new();
        (engine.target(), engine.baseline(), engine.profile(), artifact::WASMTIME_VERSION).hash(&mut settings);
        format!("{digest}-{:016x}.cwasm", settings.finish())
    }

    /// Writes an artifact under a temporary name and renames it, so no reader sees half a file.
    #[cfg(feature = "compiler")]
    fn store(&self, key: &str, artifact: &[u8]) -> std::io::Result<()> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static WRITES: AtomicU64 = AtomicU64::new(0);
        let temporary = format!(".{key}.{}.{}.tmp", std::process::id(), WRITES.fetch_add(1, Ordering::Relaxed));
        self.dir.write(&temporary, artifact)?;
        self.dir.rename(&temporary, &self.dir, key).inspect_err(|_| {
            let _ = self.dir.remove_file(&temporary);
        })
    }
}

#[cfg(unix)]
fn writable_by_others(dir: &Dir) -> std::io::Result<bool> {
    use cap_std::fs::PermissionsExt;
    Ok(dir.dir_metadata()?.permissions().mode() & 0o022 != 0)
}

#[cfg(not(unix))]
fn writable_by_others(_dir: &Dir) -> std::io::Result<bool> {
    Ok(false)
}

/// An artifact cache directory that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArtifactCacheError {
    /// The directory cannot be created or opened.
    #[error("cannot open the artifact cache `{}`", path.display())]
    Open {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Others may write the directory: their files would run as this host's native code.
    #[error("the artifact cache `{}` is writable by group or others: precompiled code from it would run unchecked: `chmod go-w` it, or choose a private directory", path.display())]
    WritableByOthers {
        /// The directory.
        path: PathBuf,
    },
}
