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
use crate::wasm::{sandbox, signing};

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
#[derive(Clone, Debug, Default)]
pub struct EngineBuilder {
    limits: Limits,
    trusted_keys: TrustedKeys,
}

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

    /// Checks the settings and starts the engine.
    pub fn build(self) -> Result<Engine, EngineError> {
        self.limits.validate()?;
        let config_error = |e: wasmtime::Error| EngineError::Config { message: format!("{e:#}") };
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        // Concurrent component calls are never used; their per-store bookkeeping halves the speed of
        // every synchronous call (see `docs/host-guest-boundary.md`).
        config.concurrency_support(false);
        let wasmtime = wasmtime::Engine::new(&config).map_err(config_error)?;
        let linker = sandbox::linker(&wasmtime).map_err(config_error)?;
        let ticker = Ticker::start(wasmtime.clone())?;
        let (limits, trusted_keys) = (self.limits, self.trusted_keys);
        let limit_hits = Arc::default();
        let live = Arc::default();
        let inner = EngineInner { wasmtime, linker, limits, trusted_keys, limit_hits, live, ticker };
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
        let limit = self.inner.limits.module_size;
        if size > limit as u64 {
            self.inner.limit_hits.module_too_large();
            return Err(LoadError::TooLarge { name: name.to_owned(), size, limit });
        }
        Ok(())
    }

    /// The keys policies must be signed by (empty: no signature needed).
    pub fn trusted_keys(&self) -> &TrustedKeys {
        &self.inner.trusted_keys
    }

    /// Compiles a policy component, checks it implements `path-secure` and pre-instantiates it.
    /// `name` names the policy in messages. Refused when the engine trusts keys: see
    /// [`Engine::load_signed_policy`].
    pub fn load_policy(&self, name: &str, bytes: &[u8]) -> Result<Policy, LoadError> {
        self.load_signed_policy(name, bytes, None)
    }

    /// As [`Engine::load_policy`], with the text of the policy's signature file, if it has one: an
    /// engine with [`TrustedKeys`] refuses a policy without a valid signature by one of them.
    pub fn load_signed_policy(&self, name: &str, bytes: &[u8], signature: Option<&str>) -> Result<Policy, LoadError> {
        Policy::load(self, name, bytes, signature)
    }

    /// Reads and loads a policy file, and its signature from `<file>.sig` when there is one; the file
    /// name names the policy.
    pub fn load_policy_file(&self, path: impl AsRef<Path>) -> Result<Policy, LoadError> {
        let file = self.read_policy_file(path)?;
        self.load_signed_policy(&file.name, &file.bytes, file.signature.as_deref())
    }

    /// Reads a policy file and its signature (`<file>.sig`, when there is one) without loading it — for
    /// a caller that loads through an [`ArtifactCache`](crate::wasm::ArtifactCache). A file larger than
    /// [`Limits::module_size`] is refused from its length, never read.
    pub fn read_policy_file(&self, path: impl AsRef<Path>) -> Result<PolicyFile, LoadError> {
        let path = path.as_ref();
        let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
        let read_error = |source| LoadError::Read { path: path.to_owned(), source };
        self.check_size(&name, std::fs::metadata(path).map_err(read_error)?.len())?;
        let bytes = std::fs::read(path).map_err(read_error)?;
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
        limit: usize,
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
    /// wasmtime refused the configuration.
    #[error("cannot configure the WebAssembly engine: {message}")]
    Config {
        /// wasmtime's message.
        message: String,
    },
}
