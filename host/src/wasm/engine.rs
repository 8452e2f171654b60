//! `Engine`: compiles policies. One per process is typical; it is cheap to clone and shared by threads.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread;

use wasmtime::component::Linker;

use crate::wasm::limits::{LimitCounters, LimitError, LimitHits, Limits, TICK};
use crate::wasm::policy::Policy;
use crate::wasm::sandbox::StoreState;
use crate::wasm::signing::{SignatureError, TrustedKeys};
use crate::wasm::{artifact, sandbox, signing};

/// How much larger than [`Limits::module_size`] an artifact may be: native code is several times the
/// size of the component it was compiled from.
const ARTIFACT_SIZE_FACTOR: u64 = 16;

/// Compiles and loads policies, and runs the clock their deadlines are measured with.
///
/// ```no_run
/// let engine = pathsec::Engine::new()?;
/// let policy = engine.load_policy_file("reference.wasm")?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Engine {
    inner: Arc<EngineInner>,
}

struct EngineInner {
    wasmtime: wasmtime::Engine,
    /// The target triple code is made for.
    target: String,
    /// Whether this engine's code may run on this host (its target is the host's, or Pulley).
    runs_here: bool,
    /// Whether the target was given (code for the architecture's baseline), or inferred from this CPU.
    baseline: bool,
    signals_based_traps: bool,
    linker: Linker<StoreState>,
    limits: Limits,
    trusted_keys: TrustedKeys,
    limit_hits: Arc<LimitCounters>,
    /// Policy instances (stores) alive now.
    live: Arc<AtomicUsize>,
    ticker: Ticker,
}

/// A policy file as read by [`Engine::read_policy_file`], not yet loaded.
#[derive(Clone, Debug)]
pub struct PolicyFile {
    /// The file name, which names the policy.
    pub name: String,
    /// The component.
    pub bytes: Vec<u8>,
    /// The signature file's text, when there is one.
    pub signature: Option<String>,
}

/// Settings for an [`Engine`]; see [`Engine::builder`].
#[derive(Clone, Debug)]
pub struct EngineBuilder {
    limits: Limits,
    trusted_keys: TrustedKeys,
    target: Option<String>,
    signals_based_traps: bool,
}

impl Default for EngineBuilder {
    fn default() -> EngineBuilder {
        EngineBuilder {
            limits: Limits::default(),
            trusted_keys: TrustedKeys::default(),
            target: None,
            signals_based_traps: true,
        }
    }
}

/// The target this library was built for: the default [`EngineBuilder::target`].
pub const HOST_TARGET: &str = env!("PATHSEC_HOST_TARGET");
/// Pulley, wasmtime's portable interpreter (64-bit): the target for a device with no code generator.
pub const PULLEY64: &str = "pulley64";

impl EngineBuilder {
    /// The limits every policy of this engine runs under.
    pub fn limits(mut self, limits: Limits) -> EngineBuilder {
        self.limits = limits;
        self
    }

    /// Loads only policies signed by one of `keys` (none, the default: signatures are not required).
    /// A refused policy is an error of the load; whatever policy a runtime runs stays active.
    pub fn trusted_keys(mut self, keys: TrustedKeys) -> EngineBuilder {
        self.trusted_keys = keys;
        self
    }

    /// The target triple code is made for. By default [`HOST_TARGET`] with this CPU's features; given
    /// (even as [`HOST_TARGET`]), with only the architecture's baseline features, so an artifact runs
    /// on any CPU of that target. Give another one to precompile policies for a device
    /// ([`Engine::precompile`]; aarch64 on x86-64, or x86-64 on aarch64, needs the `cross-compile`
    /// feature; Cranelift's riscv64 and s390x backends are not built), or
    /// [`PULLEY64`] to run Pulley bytecode (the `pulley` feature). An engine for another architecture
    /// compiles only: its loads are refused.
    pub fn target(mut self, target: &str) -> EngineBuilder {
        self.target = Some(target.to_owned());
        self
    }

    /// Whether out-of-bounds accesses trap through signal handlers and guard pages (the default, and
    /// the fastest), or through explicit checks in the code (`false`: for hosts where signal handlers
    /// are not wanted, and for memory checkers such as valgrind). Part of the engine profile: an
    /// artifact runs only on an engine with the same setting.
    pub fn signals_based_traps(mut self, enabled: bool) -> EngineBuilder {
        self.signals_based_traps = enabled;
        self
    }

    /// Checks the settings and starts the engine.
    pub fn build(self) -> Result<Engine, EngineError> {
        self.limits.validate()?;
        let config_error = |e: wasmtime::Error| EngineError::Config { message: format!("{e:#}") };
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        // Concurrent component calls are never used; their per-store bookkeeping halves the speed of
        // every synchronous call (see `docs/host-guest-boundary.md`).
        config.concurrency_support(false);
        config.signals_based_traps(self.signals_based_traps);
        if !self.signals_based_traps {
            // Without guard pages, a memory is reserved as it grows; bounds are checked in the code.
            config.memory_reservation(0).memory_guard_size(0).memory_init_cow(false);
        }
        // A target given, even this host's, is compiled for without the host's CPU features: the code
        // runs on every CPU of that architecture (and under emulators such as valgrind).
        if let Some(target) = &self.target {
            config
                .target(target)
                .map_err(|e| EngineError::Target { target: target.clone(), message: format!("{e:#}") })?;
        }
        let baseline = self.target.is_some();
        let target = self.target.unwrap_or_else(|| HOST_TARGET.to_owned());
        let runs_here = target == HOST_TARGET || (target.starts_with("pulley") && cfg!(feature = "pulley"));
        let wasmtime = wasmtime::Engine::new(&config)
            .map_err(|e| EngineError::Target { target: target.clone(), message: format!("{e:#}") })?;
        let linker = sandbox::linker(&wasmtime).map_err(config_error)?;
        let ticker = Ticker::start(wasmtime.clone())?;
        let (limits, trusted_keys) = (self.limits, self.trusted_keys);
        let limit_hits = Arc::default();
        let live = Arc::default();
        let signals_based_traps = self.signals_based_traps;
        let inner = EngineInner {
            wasmtime,
            target,
            runs_here,
            baseline,
            signals_based_traps,
            linker,
            limits,
            trusted_keys,
            limit_hits,
            live,
            ticker,
        };
        Ok(Engine { inner: Arc::new(inner) })
    }
}

impl Engine {
    /// An engine with the default [`Limits`].
    pub fn new() -> Result<Engine, EngineError> {
        Engine::builder().build()
    }

    /// Settings for a new engine.
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// The limits every policy of this engine runs under.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// How often each limit was hit since the engine started.
    pub fn limit_hits(&self) -> LimitHits {
        self.inner.limit_hits.hits()
    }

    /// Policy instances alive now, over every policy of this engine: one per decider (or worker) that
    /// has decided, plus any a self-check is running. A failed instance is dropped before its
    /// replacement is made, so faults never make this grow.
    pub fn live_instances(&self) -> usize {
        self.inner.live.load(Ordering::Relaxed)
    }

    pub(crate) fn live_gauge(&self) -> Arc<AtomicUsize> {
        Arc::clone(&self.inner.live)
    }

    pub(crate) fn limit_counters(&self) -> &LimitCounters {
        &self.inner.limit_hits
    }

    /// The counters, for a store's limiter to count the growths it refuses.
    pub(crate) fn limit_counters_shared(&self) -> Arc<LimitCounters> {
        Arc::clone(&self.inner.limit_hits)
    }

    /// Refuses a component of `size` bytes larger than [`Limits::module_size`], counting the hit.
    pub(crate) fn check_size(&self, name: &str, size: u64) -> Result<(), LoadError> {
        self.check_size_times(name, size, 1)
    }

    /// Refuses a policy file of `size` bytes over the limit: [`Limits::module_size`], or 16 times that
    /// for a precompiled `artifact`.
    pub(crate) fn check_file_size(&self, name: &str, size: u64, artifact: bool) -> Result<(), LoadError> {
        self.check_size_times(name, size, if artifact { ARTIFACT_SIZE_FACTOR } else { 1 })
    }

    /// Refuses a file of `size` bytes larger than `factor` times [`Limits::module_size`].
    fn check_size_times(&self, name: &str, size: u64, factor: u64) -> Result<(), LoadError> {
        let limit = (self.inner.limits.module_size as u64).saturating_mul(factor);
        if size > limit {
            self.inner.limit_hits.module_too_large();
            return Err(LoadError::TooLarge { name: name.to_owned(), size, limit });
        }
        Ok(())
    }

    /// The target triple this engine makes code for ([`EngineBuilder::target`]).
    pub fn target(&self) -> &str {
        &self.inner.target
    }

    /// The engine settings that shape compiled code, as an artifact header names them: an artifact
    /// loads only into an engine with the same profile (and target, and wasmtime).
    pub fn profile(&self) -> String {
        let traps = if self.inner.signals_based_traps { "signals-based-traps" } else { "explicit-bounds-checks" };
        format!("epoch-interruption, {traps}")
    }

    /// Whether code is for the target's baseline CPU (a target was given), not this CPU's features:
    /// artifacts of both kinds share a header, and the artifact cache keeps them apart.
    pub(crate) fn baseline(&self) -> bool {
        self.inner.baseline
    }

    /// Refuses to load on an engine whose code cannot run on this host.
    pub(crate) fn check_runs_here(&self, name: &str) -> Result<(), LoadError> {
        match self.inner.runs_here {
            true => Ok(()),
            false => Err(LoadError::OtherTarget {
                name: name.to_owned(),
                target: self.inner.target.clone(),
                host: HOST_TARGET.to_owned(),
                remedy: match self.inner.target.starts_with("pulley") {
                    true => "this build cannot run Pulley bytecode: build pathsec with the `pulley` feature",
                    false => "use it to precompile (`Engine::precompile`), and load on an engine for this host",
                },
            }),
        }
    }

    /// The keys policies must be signed by (empty: no signature needed).
    pub fn trusted_keys(&self) -> &TrustedKeys {
        &self.inner.trusted_keys
    }

    /// Compiles a policy component, checks it implements `path-secure` and pre-instantiates it.
    /// `name` names the policy in messages. Refused when the engine trusts keys: see
    /// [`Engine::load_signed_policy`]. A build without the `compiler` feature refuses every component
    /// ([`LoadError::NoCompiler`]): it loads precompiled artifacts ([`Engine::load_artifact`]).
    pub fn load_policy(&self, name: &str, bytes: &[u8]) -> Result<Policy, LoadError> {
        self.load_signed_policy(name, bytes, None)
    }

    /// As [`Engine::load_policy`], with the text of the policy's signature file, if it has one: an
    /// engine with [`TrustedKeys`] refuses a policy without a valid signature by one of them.
    pub fn load_signed_policy(&self, name: &str, bytes: &[u8], signature: Option<&str>) -> Result<Policy, LoadError> {
        Policy::load(self, name, bytes, signature)
    }

    /// Reads and loads a policy file, and its signature from `<file>.sig` when there is one; the file
    /// name names the policy. The file is a component, or a precompiled artifact (told apart by its
    /// first bytes; see [`Engine::load_artifact`]).
    pub fn load_policy_file(&self, path: impl AsRef<Path>) -> Result<Policy, LoadError> {
        let file = self.read_policy_file(path)?;
        match artifact::is_artifact(&file.bytes) {
            true => self.load_artifact(&file.name, &file.bytes, file.signature.as_deref()),
            false => self.load_signed_policy(&file.name, &file.bytes, file.signature.as_deref()),
        }
    }

    /// Loads a precompiled policy (`pathsec compile --target ... --out`): no compiler needed. Refused,
    /// with an error naming both sides, when it was made for another target, engine profile or
    /// wasmtime; refused when truncated or changed since it was compiled; when the engine trusts keys,
    /// `signature` (the text of `<artifact>.sig`) must be a trusted key's signature of these bytes.
    ///
    /// Trust: an artifact's code runs unchecked once loaded. Without trusted keys, load only artifacts
    /// from storage you trust as you trust the host's own binary.
    pub fn load_artifact(&self, name: &str, bytes: &[u8], signature: Option<&str>) -> Result<Policy, LoadError> {
        self.check_runs_here(name)?;
        self.check_size_times(name, bytes.len() as u64, ARTIFACT_SIZE_FACTOR)?;
        artifact::load(self, name, bytes, signature)
    }

    /// Compiles a component into a precompiled artifact for this engine's target and profile, for
    /// [`Engine::load_artifact`] on a host (or device) of that target. The component is admitted as
    /// for a load (size, signature, header), not run: check it on an engine of this host first.
    #[cfg(feature = "compiler")]
    pub fn precompile(&self, name: &str, bytes: &[u8], signature: Option<&str>) -> Result<Vec<u8>, LoadError> {
        crate::wasm::policy::admit(self, name, bytes, signature)?;
        self.precompile_admitted(name, bytes)
    }

    /// [`Engine::precompile`] of a component already admitted (its signature checked).
    #[cfg(feature = "compiler")]
    pub(crate) fn precompile_admitted(&self, name: &str, bytes: &[u8]) -> Result<Vec<u8>, LoadError> {
        let compile_error = |message: String| LoadError::Compile { name: name.to_owned(), message };
        // A Cranelift backend for another architecture can panic on code it does not support (riscv64
        // without its extensions did, when pathsec built it): a refused compilation, not a crash.
        let compiled =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.inner.wasmtime.precompile_component(bytes)))
                .map_err(|panic| {
                    let why = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned());
                    compile_error(format!(
                        "the compiler failed for target `{}`: {}",
                        self.inner.target,
                        why.unwrap_or_else(|| "it panicked".to_owned())
                    ))
                })?;
        let payload = compiled.map_err(|e| compile_error(format!("{e:#}")))?;
        Ok(artifact::write(self, name, bytes, &payload))
    }

    /// Reads a policy file and its signature (`<file>.sig`, when there is one) without loading it — for
    /// a caller that loads through an [`ArtifactCache`](crate::wasm::ArtifactCache). A file larger than
    /// [`Limits::module_size`] (16 times that for a precompiled artifact) is refused from its length,
    /// never read whole.
    pub fn read_policy_file(&self, path: impl AsRef<Path>) -> Result<PolicyFile, LoadError> {
        use std::io::Read;
        let path = path.as_ref();
        let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
        let read_error = |source| LoadError::Read { path: path.to_owned(), source };
        let mut file = std::fs::File::open(path).map_err(read_error)?;
        let length = file.metadata().map_err(read_error)?.len();
        let mut bytes = Vec::with_capacity(usize::try_from(length).unwrap_or(0).min(1 << 20));
        (&mut file).take(artifact::MAGIC.len() as u64).read_to_end(&mut bytes).map_err(read_error)?;
        let factor = if artifact::is_artifact(&bytes) { ARTIFACT_SIZE_FACTOR } else { 1 };
        self.check_size_times(&name, length, factor)?;
        file.read_to_end(&mut bytes).map_err(read_error)?;
        let signature = signing::read_signature_beside(path)?;
        Ok(PolicyFile { name, bytes, signature })
    }

    pub(crate) fn wasmtime(&self) -> &wasmtime::Engine {
        &self.inner.wasmtime
    }

    pub(crate) fn linker(&self) -> &Linker<StoreState> {
        &self.inner.linker
    }

    /// Ticks of the deadline clock so far: a cheap clock of [`TICK`] resolution.
    pub(crate) fn ticks(&self) -> u64 {
        self.inner.ticker.ticks.load(Ordering::Relaxed)
    }
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("limits", &self.inner.limits)
            .field("trusted_keys", &self.inner.trusted_keys)
            .finish_non_exhaustive()
    }
}

/// Advances the engine's epoch every [`TICK`] until dropped: the clock of every deadline. `ticks` counts
/// the same ticks, one step ahead of the epoch, so how long a policy ran can be told without a clock
/// read per call.
struct Ticker {
    stop: Arc<AtomicBool>,
    ticks: Arc<AtomicU64>,
}

impl Ticker {
    fn start(engine: wasmtime::Engine) -> Result<Ticker, EngineError> {
        let stop = Arc::new(AtomicBool::new(false));
        let ticks = Arc::new(AtomicU64::new(0));
        let (flag, counter) = (Arc::clone(&stop), Arc::clone(&ticks));
        thread::Builder::new()
            .name("pathsec-epoch".to_owned())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    thread::sleep(TICK);
                    counter.fetch_add(1, Ordering::Relaxed);
                    engine.increment_epoch();
                }
            })
            .map_err(|e| EngineError::Config { message: format!("cannot start the deadline clock thread: {e}") })?;
        Ok(Ticker { stop, ticks })
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// A policy that cannot be loaded. The message names the policy and says what to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The policy's signature is missing or refused.
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// The component is larger than [`Limits::module_size`](crate::Limits).
    #[error(
        "cannot load policy `{name}`: it is {size} bytes, more than the limit of {limit}: is it the policy build's `.wasm`? (raise `Limits::module_size` if it is)"
    )]
    TooLarge {
        /// The policy's name.
        name: String,
        /// Its size in bytes.
        size: u64,
        /// The limit in bytes.
        limit: u64,
    },
    /// The policy file cannot be read.
    #[error("cannot read policy `{}`", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The bytes are not WebAssembly at all.
    #[error(
        "cannot load policy `{name}`: not a WebAssembly component (no `\\0asm` header): give the `.wasm` file the policy build produced"
    )]
    NotWasm {
        /// The policy's name.
        name: String,
    },
    /// A core module where a component is needed.
    #[error(
        "cannot load policy `{name}`: it is a core WebAssembly module, not a component: build it for `wasm32-wasip2`, or wrap it with `wasm-tools component new`"
    )]
    CoreModule {
        /// The policy's name.
        name: String,
    },
    /// The component is invalid or cannot be compiled.
    #[error("cannot load policy `{name}`: invalid component: {message}")]
    Compile {
        /// The policy's name.
        name: String,
        /// The validator's or compiler's message.
        message: String,
    },
    /// The component does not export the decision interface (of 0.2.0, or of 0.1.0, which the host
    /// still runs through its adapter).
    #[error(
        "cannot load policy `{name}`: component does not export `{export}` (nor 0.1.0's, which this host still runs): it must implement the world `pathsec:policy/path-secure`"
    )]
    MissingExport {
        /// The policy's name.
        name: String,
        /// The missing export.
        export: &'static str,
    },
    /// The component exports the interface with other types (another version of the WIT?).
    #[error(
        "cannot load policy `{name}`: its `{export}` does not match the world `pathsec:policy/path-secure` this host implements: {message}: rebuild it against this host's `wit/`"
    )]
    WrongWorld {
        /// The policy's name.
        name: String,
        /// The export that does not match.
        export: &'static str,
        /// What does not match.
        message: String,
    },
    /// A component given to a build without a compiler.
    #[error(
        "cannot load policy `{name}`: this build of pathsec has no compiler (the `compiler` feature is off), so it loads only precompiled artifacts: run `pathsec compile --target {target} --out {name}.cwasm {name}` where the compiler is, and load the `.cwasm`"
    )]
    NoCompiler {
        /// The policy's name.
        name: String,
        /// This engine's target, for the command.
        target: String,
    },
    /// Something that is not a precompiled artifact, where one is needed.
    #[error(
        "cannot load policy `{name}`: not a precompiled pathsec artifact (it does not start with `pathsec-artifact`): give the file `pathsec compile --out` wrote, or load a `.wasm` component with a build that has the compiler"
    )]
    NotArtifact {
        /// The policy's name.
        name: String,
    },
    /// A precompiled artifact that is truncated, altered, or in a format this host does not read.
    #[error("cannot load precompiled policy `{name}`: {problem}")]
    BadArtifact {
        /// The artifact's name.
        name: String,
        /// What is wrong, and what to do.
        problem: String,
    },
    /// A precompiled artifact made for another target, engine profile or wasmtime version.
    #[error(
        "cannot load precompiled policy `{name}`: it was compiled for {what} `{artifact}`, and this engine is {what} `{host}`: compile it again for this engine (`pathsec compile --target <this target>`, with the same engine settings and pathsec version)"
    )]
    ArtifactMismatch {
        /// The artifact's name.
        name: String,
        /// What differs: `target`, `engine profile` or `wasmtime`.
        what: &'static str,
        /// What the artifact was compiled for.
        artifact: String,
        /// What this engine is.
        host: String,
    },
    /// A load on an engine that compiles for another architecture: its code cannot run here.
    #[error(
        "cannot load policy `{name}`: this engine makes code for `{target}`, which cannot run on this host (`{host}`): {remedy}"
    )]
    OtherTarget {
        /// The policy's name.
        name: String,
        /// The engine's target.
        target: String,
        /// This host's target.
        host: String,
        /// What to do.
        remedy: &'static str,
    },
    /// The component imports something the host does not provide.
    #[error(
        "cannot load policy `{name}`: it imports `{import}`, which this host does not offer: policies may import only WASI 0.2 interfaces, and get no capability through them"
    )]
    UnsupportedImport {
        /// The policy's name.
        name: String,
        /// The import.
        import: String,
    },
}

/// An engine that cannot be built from its settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// A limit is out of range.
    #[error(transparent)]
    Limit(#[from] LimitError),
    /// The target cannot be compiled for or run by this build.
    #[error(
        "cannot make an engine for target `{target}`: {message} (aarch64 and x86-64 need the `cross-compile` feature, Pulley the `pulley` feature; riscv64 and s390x are not built into pathsec)"
    )]
    Target {
        /// The target triple asked for.
        target: String,
        /// wasmtime's message.
        message: String,
    },
    /// wasmtime refused the configuration.
    #[error("cannot configure the WebAssembly engine: {message}")]
    Config {
        /// wasmtime's message.
        message: String,
    },
}
