//! The policy directory: operators drop `NAME.wasm` (or a precompiled `NAME.cwasm`, which a build
//! without the compiler needs) into one directory; a new or changed file is loaded and swapped in, a broken one is reported and ignored (the active policy stays). A policy's signature
//! is `NAME.wasm.sig` beside it; a new or changed signature counts as a change of its policy, so a
//! signature that arrives after its policy was refused unsigned gets it loaded. The directory is
//! opened through cap-std, so nothing outside it is read, even through a symlink.
//!
//! A directory that holds a rollout plan, `rollout.toml` ([`RolloutPlan`]), runs what the plan names
//! instead — an active policy, a canary candidate for part of the devices, a shadow — each a file of the
//! directory. A change to the plan or to a file it names applies the plan again, whole (each new policy
//! self-checked first; a bad plan or a policy that does not load is reported and the rollout in force
//! stays). Promoting and rolling back are edits of the plan. Other policy files are not run while a plan
//! governs the directory (each is reported once); removing the plan ends its canary and shadow, and the
//! active policy runs alone.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use cap_std::ambient_authority;
use cap_std::fs::Dir;

use crate::deciding::live::Runtime;
use crate::rollout::{Rollout, RolloutPlan};
use crate::wasm::artifact::is_artifact;
use crate::wasm::artifacts::{ArtifactCache, Origin};
use crate::wasm::digest;
use crate::wasm::engine::Engine;
use crate::wasm::policy::Policy;
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
    /// The directory's rollout plan was applied (or, removed, its canary and shadow ended).
    RolledOut {
        /// The plan's file name.
        file: String,
        /// What runs now.
        rollout: String,
        /// From reading the plan to the rollout being in force.
        elapsed: Duration,
    },
}

/// The rollout plan's file name in a policy directory.
pub const ROLLOUT_FILE: &str = "rollout.toml";

/// A watched policy directory; see the module docs.
pub struct PolicyDirectory {
    dir: Dir,
    path: PathBuf,
    engine: Engine,
    artifacts: Option<ArtifactCache>,
    /// What each file looked like when last seen, so unchanged files are not read again.
    seen: HashMap<String, Seen>,
    /// The rollout plan last applied (or refused), while the directory has one.
    plan: Option<PlanState>,
}

/// A rollout plan and what it was applied on.
struct PlanState {
    /// The plan file's and each named file's stamps when last applied or refused.
    key: Vec<(String, Option<Stamp>)>,
    /// The files the plan names, as last read (none while it does not parse): the plan file is read
    /// again only when it changes.
    names: Vec<String>,
    /// The policies the plan loaded, by file, with the digest of their bytes and signature: an unchanged
    /// file is not loaded (or self-checked) again.
    loaded: HashMap<String, (String, Policy)>,
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
        Ok(PolicyDirectory { dir, path, engine: engine.clone(), artifacts: None, seen: HashMap::new(), plan: None })
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
        if entries.get(ROLLOUT_FILE).is_some_and(|metadata| metadata.is_file()) || self.plan.is_some() {
            let stamps: HashMap<String, Stamp> = entries
                .iter()
                .filter(|(_, metadata)| metadata.is_file())
                .map(|(file, metadata)| {
                    let signature =
                        entries.get(&format!("{file}{SIGNATURE_SUFFIX}")).filter(|m| m.is_file()).map(stamp);
                    (file.clone(), Stamp { policy: stamp(metadata), signature })
                })
                .collect();
            events.extend(self.follow_plan(runtime, &stamps));
            if self.plan.is_some() {
                let names = self.plan.as_ref().map(|state| state.names.clone()).unwrap_or_default();
                for (_, file, stamp) in changed {
                    let named = names.contains(&file);
                    self.seen.insert(file.clone(), Seen { stamp, digest: String::new() });
                    if !named {
                        let error = format!(
                            "not run: `{ROLLOUT_FILE}` governs this directory; name `{file}` in it (active, canary or shadow) to run it"
                        );
                        events.push(DirectoryEvent::Rejected { file, error });
                    }
                }
                return Ok(events);
            }
        }
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
        let (policy, origin) = match self.load(&file, &bytes, signature.as_deref()) {
            Ok(loaded) => loaded,
            Err(error) => return Some(DirectoryEvent::Rejected { file, error }),
        };
        match runtime.swap(policy) {
            Ok(()) => Some(DirectoryEvent::Swapped { file, origin, elapsed: started.elapsed() }),
            Err(error) => Some(DirectoryEvent::Rejected { file, error: error.to_string() }),
        }
    }

    /// Loads a policy file's bytes (a component, or a precompiled artifact).
    fn load(&self, file: &str, bytes: &[u8], signature: Option<&str>) -> Result<(Policy, Origin), String> {
        let loaded = match &self.artifacts {
            // A precompiled artifact needs no cache (and is checked against its own signature).
            _ if is_artifact(bytes) => {
                self.engine.load_artifact(file, bytes, signature).map(|policy| (policy, Origin::Precompiled))
            }
            Some(cache) => cache.load_signed_policy(&self.engine, file, bytes, signature),
            None => self.engine.load_signed_policy(file, bytes, signature).map(|policy| (policy, Origin::Compiled)),
        };
        loaded.map_err(|error| error.to_string())
    }

    /// Reads a file the plan names, with its signature: its bytes, signature and their digest.
    fn read_named(&self, file: &str, stamp: &Stamp) -> Result<(Vec<u8>, Option<String>, String), String> {
        self.engine
            .check_file_size(file, stamp.policy.0, file.ends_with(".cwasm"))
            .map_err(|error| error.to_string())?;
        let bytes = self.dir.read(file).map_err(|error| format!("cannot read `{file}`: {error}"))?;
        let signature_file = format!("{file}{SIGNATURE_SUFFIX}");
        let signature = stamp
            .signature
            .map(|_| self.dir.read_to_string(&signature_file))
            .transpose()
            .map_err(|error| format!("cannot read `{signature_file}`: {error}"))?;
        let digest = digest::sha256_hex(&bytes)
            + &signature.as_deref().map(|s| digest::sha256_hex(s.as_bytes())).unwrap_or_default();
        Ok((bytes, signature, digest))
    }

    /// The directory's plan, read and checked.
    fn read_plan(&self, stamps: &HashMap<String, Stamp>) -> Result<RolloutPlan, String> {
        if !stamps.contains_key(ROLLOUT_FILE) {
            return Err(format!("`{ROLLOUT_FILE}` is gone"));
        }
        let text =
            self.dir.read_to_string(ROLLOUT_FILE).map_err(|error| format!("cannot read `{ROLLOUT_FILE}`: {error}"))?;
        RolloutPlan::parse(ROLLOUT_FILE, &text).map_err(|error| error.to_string())
    }

    /// Applies the directory's rollout plan when it, or a file it names, changed; ends its canary and
    /// shadow when it is gone.
    fn follow_plan(&mut self, runtime: &Runtime, stamps: &HashMap<String, Stamp>) -> Option<DirectoryEvent> {
        let started = Instant::now();
        let file = ROLLOUT_FILE.to_owned();
        if !stamps.contains_key(ROLLOUT_FILE) {
            // The plan is gone: the active policy runs alone.
            self.plan = None;
            let Rollout { active, .. } = runtime.rollout();
            let rollout = format!("`{ROLLOUT_FILE}` removed: `{}` runs alone", active.name());
            return match runtime.set_rollout(Rollout::only(active)) {
                Ok(()) => Some(DirectoryEvent::RolledOut { file, rollout, elapsed: started.elapsed() }),
                Err(error) => Some(DirectoryEvent::Rejected { file, error: error.to_string() }),
            };
        }
        let plan_stamp = stamps.get(ROLLOUT_FILE).copied();
        // The plan file is read again only when it changed; a named file's change re-applies it too.
        let unchanged =
            self.plan.as_ref().and_then(|state| state.key.first()).is_some_and(|(_, stamp)| *stamp == plan_stamp);
        let plan = (!unchanged).then(|| self.read_plan(stamps));
        let state =
            self.plan.get_or_insert_with(|| PlanState { key: Vec::new(), names: Vec::new(), loaded: HashMap::new() });
        if let Some(read) = &plan {
            let names =
                read.as_ref().map(|plan| plan.policies().iter().map(|(_, named)| (*named).to_owned()).collect());
            state.names = names.unwrap_or_default();
        }
        let mut key = vec![(file.clone(), plan_stamp)];
        key.extend(state.names.iter().map(|named| (named.clone(), stamps.get(named).copied())));
        if state.key == key {
            return None;
        }
        state.key = key;
        let plan = match plan.unwrap_or_else(|| self.read_plan(stamps)) {
            Ok(plan) => plan,
            Err(error) => return Some(DirectoryEvent::Rejected { file, error }),
        };
        let mut loaded = self.plan.as_mut().map(|state| std::mem::take(&mut state.loaded)).unwrap_or_default();
        let mut kept = HashMap::new();
        let rollout = plan.rollout(ROLLOUT_FILE, |named| {
            let stamp = stamps.get(named).ok_or_else(|| "not in the directory: add it, or fix the name".to_owned())?;
            if named.contains('/') || named.starts_with('.') || !(named.ends_with(".wasm") || named.ends_with(".cwasm"))
            {
                return Err("name a `.wasm` or `.cwasm` file of this directory".to_owned());
            }
            let (bytes, signature, digest) = self.read_named(named, stamp)?;
            let policy = match loaded.remove(named) {
                Some((before, policy)) if before == digest => policy,
                _ => self.load(named, &bytes, signature.as_deref())?.0,
            };
            kept.insert(named.to_owned(), (digest, policy.clone()));
            Ok(policy)
        });
        let result = rollout.and_then(|rollout| {
            let description = format!("{rollout:?}");
            runtime.set_rollout(rollout).map(|()| description).map_err(|error| error.to_string())
        });
        if let Some(state) = &mut self.plan {
            // What loaded is kept, so a plan fixed later does not load it again.
            kept.extend(loaded);
            state.loaded = kept;
        }
        Some(match result {
            Ok(rollout) => DirectoryEvent::RolledOut { file, rollout, elapsed: started.elapsed() },
            Err(error) => DirectoryEvent::Rejected { file, error },
        })
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
