//! The policy directory: operators drop `NAME.wasm` (or a precompiled `NAME.cwasm`, which a build
//! without the compiler needs) into one directory; a new or changed file is loaded and swapped in, a broken one is reported and ignored (the active policy stays). A policy's signature
//! is `NAME.wasm.sig` beside it; a new or changed signature counts as a change of its policy, so a
//! signature that arrives after its policy was refused unsigned gets it loaded. The directory is
//! opened through cap-std, so nothing outside it is read, even through a symlink.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use cap_std::ambient_authority;
use cap_std::fs::Dir;

use crate::runtime::live::Runtime;
use crate::wasm::artifact::is_artifact;
use crate::wasm::artifacts::{ArtifactCache, Origin};
use crate::wasm::digest;
use crate::wasm::engine::Engine;
use crate::wasm::signing::SIGNATURE_SUFFIX;

/// What one scan of the directory did.
#[derive(Debug)]
#[non_exhaustive]
pub enum DirectoryEvent {
    /// A new or changed policy passed its checks and is now the active policy.
    Swapped {
        /// The file name.
        file: String,
        /// Where its machine code came from.
        origin: Origin,
        /// From reading the file to the policy being active.
        elapsed: Duration,
    },
    /// A new or changed file could not become the active policy; the active policy stays.
    Rejected {
        /// The file name.
        file: String,
        /// Why, for the operator.
        error: String,
    },
}

/// A watched policy directory; see the module docs.
pub struct PolicyDirectory {
    dir: Dir,
    path: PathBuf,
    engine: Engine,
    artifacts: Option<ArtifactCache>,
    /// What each file looked like when last seen, so unchanged files are not read again.
    seen: HashMap<String, Seen>,
}

#[derive(Clone, PartialEq, Eq)]
struct Seen {
    stamp: Stamp,
    /// Of the policy and its signature.
    digest: String,
}

/// A policy file's and its signature file's length and modification time.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Stamp {
    policy: (u64, Option<SystemTime>),
    signature: Option<(u64, Option<SystemTime>)>,
}

impl PolicyDirectory {
    /// Opens the directory. Files already in it count as new at the first scan.
    pub fn open(path: impl AsRef<Path>, engine: &Engine) -> Result<PolicyDirectory, WatchError> {
        let path = path.as_ref().to_owned();
        let dir = Dir::open_ambient_dir(&path, ambient_authority())
            .map_err(|source| WatchError::Open { path: path.clone(), source })?;
        Ok(PolicyDirectory { dir, path, engine: engine.clone(), artifacts: None, seen: HashMap::new() })
    }

    /// Keeps precompiled artifacts in `cache`, so restarts and swaps do not recompile.
    pub fn with_artifacts(mut self, cache: ArtifactCache) -> PolicyDirectory {
        self.artifacts = Some(cache);
        self
    }

    /// The watched directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Scans once: every new or changed `*.wasm` file, oldest change first, is loaded and offered to
    /// `runtime` — so after a scan the most recently changed good file is active.
    pub fn scan(&mut self, runtime: &Runtime) -> Result<Vec<DirectoryEvent>, WatchError> {
        let scan_error = |source| WatchError::Scan { path: self.path.clone(), source };
        let mut entries = HashMap::new();
        for entry in self.dir.entries().map_err(scan_error)? {
            let entry = entry.map_err(scan_error)?;
            let Ok(file) = entry.file_name().into_string() else { continue };
            // The entry itself, not what a symbolic link points to.
            let Ok(metadata) = entry.metadata() else { continue };
            entries.insert(file, metadata);
        }
        let stamp = |metadata: &cap_std::fs::Metadata| (metadata.len(), metadata.modified().ok().map(|t| t.into_std()));
        let mut changed = Vec::new();
        let mut symlinks = Vec::new();
        for (file, metadata) in &entries {
            if !(file.ends_with(".wasm") || file.ends_with(".cwasm")) || file.starts_with('.') {
                continue;
            }
            let signature = entries.get(&format!("{file}{SIGNATURE_SUFFIX}")).filter(|m| m.is_file()).map(stamp);
            let now = Stamp { policy: stamp(metadata), signature };
            if self.seen.get(file).is_some_and(|seen| seen.stamp == now) {
                continue;
            }
            if metadata.is_file() {
                changed.push((now.policy.1.max(signature.and_then(|s| s.1)), file.clone(), now));
            } else if metadata.file_type().is_symlink() {
                let error = format!("`{file}` is a symbolic link: put the policy file itself in the directory");
                self.seen.insert(file.clone(), Seen { stamp: now, digest: String::new() });
                symlinks.push(DirectoryEvent::Rejected { file: file.clone(), error });
            }
        }
        // Oldest change first, so the most recent good policy ends up active.
        changed.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        let mut events = symlinks;
        for (_, file, stamp) in changed {
            if let Some(event) = self.offer(runtime, file, stamp) {
                events.push(event);
            }
        }
        Ok(events)
    }

    /// Loads one changed file and swaps it in; `None` when its content did not change after all.
    fn offer(&mut self, runtime: &Runtime, file: String, stamp: Stamp) -> Option<DirectoryEvent> {
        let started = Instant::now();
        // A file over the size limit is not read; it is looked at again when it changes.
        if let Err(error) = self.engine.check_file_size(&file, stamp.policy.0, file.ends_with(".cwasm")) {
            self.seen.insert(file.clone(), Seen { stamp, digest: String::new() });
            return Some(DirectoryEvent::Rejected { file, error: error.to_string() });
        }
        let bytes = match self.dir.read(&file) {
            Ok(bytes) => bytes,
            Err(error) => {
                return Some(DirectoryEvent::Rejected { error: format!("cannot read `{file}`: {error}"), file });
            }
        };
        let signature_file = format!("{file}{SIGNATURE_SUFFIX}");
        let signature = match stamp.signature.map(|_| self.dir.read_to_string(&signature_file)).transpose() {
            Ok(signature) => signature,
            Err(error) => {
                let error = format!("cannot read `{signature_file}`: {error}");
                return Some(DirectoryEvent::Rejected { error, file });
            }
        };
        let digest = digest::sha256_hex(&bytes)
            + &signature.as_deref().map(|s| digest::sha256_hex(s.as_bytes())).unwrap_or_default();
        let seen = Seen { stamp, digest };
        let same_content = self.seen.get(&file).is_some_and(|before| before.digest == seen.digest);
        self.seen.insert(file.clone(), seen);
        if same_content {
            return None;
        }
        let loaded = match &self.artifacts {
            // A precompiled artifact needs no cache (and is checked against its own signature).
            _ if is_artifact(&bytes) => self
                .engine
                .load_artifact(&file, &bytes, signature.as_deref())
                .map(|policy| (policy, Origin::Precompiled)),
            Some(cache) => cache.load_signed_policy(&self.engine, &file, &bytes, signature.as_deref()),
            None => self
                .engine
                .load_signed_policy(&file, &bytes, signature.as_deref())
                .map(|policy| (policy, Origin::Compiled)),
        };
        let (policy, origin) = match loaded {
            Ok(loaded) => loaded,
            Err(error) => return Some(DirectoryEvent::Rejected { file, error: error.to_string() }),
        };
        match runtime.swap(policy) {
            Ok(()) => Some(DirectoryEvent::Swapped { file, origin, elapsed: started.elapsed() }),
            Err(error) => Some(DirectoryEvent::Rejected { file, error: error.to_string() }),
        }
    }

    /// Scans every `interval` on a thread of its own until the returned handle is dropped; each event
    /// (and each failed scan) goes to `report`.
    pub fn watch(
        mut self,
        runtime: Runtime,
        interval: Duration,
        mut report: impl FnMut(Result<DirectoryEvent, WatchError>) + Send + 'static,
    ) -> Result<Watcher, WatchError> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let path = self.path.clone();
        let thread = std::thread::Builder::new()
            .name("pathsec-watch".to_owned())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    match self.scan(&runtime) {
                        Ok(events) => events.into_iter().for_each(|event| report(Ok(event))),
                        Err(error) => report(Err(error)),
                    }
                    std::thread::park_timeout(interval);
                }
            })
            .map_err(|source| WatchError::Open { path, source })?;
        Ok(Watcher { stop, thread: Some(thread) })
    }
}

/// A running directory watch; dropping it stops the watch.
pub struct Watcher {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

/// A policy directory that cannot be watched.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WatchError {
    /// The directory cannot be opened.
    #[error("cannot open the policy directory `{}`", path.display())]
    Open {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Listing the directory failed.
    #[error("cannot list the policy directory `{}`", path.display())]
    Scan {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}
