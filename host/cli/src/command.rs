//! The command line, and what its subcommands (one file each) share: loading a policy (through the artifact cache
//! when asked), and the exit codes.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use pathsec::{
    Engine, Policy,
    signing::{PublicKey, TrustedKeys},
    wasm::ArtifactCache,
};

/// Decides whether the network path to a peer is secure, with operator policies in WebAssembly.
#[derive(clap::Parser)]
#[command(name = "pathsec", version, about)]
pub enum Command {
    /// Check that a policy implements `path-secure`: its imports, size, compile time, self-check.
    Check(crate::check::Check),
    /// Precompile a policy: into the artifact cache, or into one artifact for a target (`--out`).
    Compile(crate::compile::Compile),
    /// Decide one request with a policy and a facts file.
    Eval(crate::eval::Eval),
    /// Run policy test-case files against a policy (like `opa test`).
    Test(crate::test::Test),
    /// Re-decide a decision log with a candidate policy: what would change.
    Replay(crate::replay::Replay),
    /// Where two policies decide otherwise, over the request space of a facts file's lists.
    Diff(crate::diff::Diff),
    /// Run a simulated server: a realistic mix of flows, a fact change and a policy swap mid-run.
    Demo(crate::demo::Demo),
    /// Create a new Rust policy from the template.
    NewPolicy(crate::new_policy::NewPolicy),
    /// Make an ed25519 key pair for signing policies.
    Keygen(crate::keygen::Keygen),
    /// Sign a policy, for hosts that load only signed policies.
    Sign(crate::sign::Sign),
    /// Signed list bundles: sign, verify, show, diff.
    #[command(subcommand)]
    Lists(crate::lists::Lists),
    /// Push a policy or a signed list bundle to an OCI registry; prints the reference to pull by.
    #[cfg(feature = "fleet")]
    Push(crate::registry::Push),
    /// Push a policy or a signed list bundle to an OCI registry (not in this build: feature `fleet`).
    #[cfg(not(feature = "fleet"))]
    Push(crate::absent::Absent),
    /// Pull a policy or list bundle from an OCI registry, by digest only.
    #[cfg(feature = "fleet")]
    Pull(crate::registry::Pull),
    /// Pull a policy or list bundle from an OCI registry (not in this build: feature `fleet`).
    #[cfg(not(feature = "fleet"))]
    Pull(crate::absent::Absent),
    /// A fleet on this machine: a registry, NATS and three gateways; a rollout, an outage, recovery.
    #[cfg(feature = "fleet")]
    FleetDemo(crate::fleet_demo::FleetDemo),
    /// A fleet on this machine (not in this build: feature `fleet`).
    #[cfg(not(feature = "fleet"))]
    FleetDemo(crate::absent::Absent),
    /// The decision as a service: HTTP/JSON and gRPC, /metrics, decision logs shipped.
    #[cfg(feature = "serve")]
    Serve(crate::serve::Serve),
    /// The decision as a service (not in this build: feature `serve`).
    #[cfg(not(feature = "serve"))]
    Serve(crate::absent::Absent),
}

/// How a command ended: its exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// 0: done; decided that the network path is trusted; every case passed.
    Success,
    /// 1: done, negatively: application-layer security or discard; a case failed.
    Negative,
    /// 2: an error.
    Error,
}

impl From<Outcome> for ExitCode {
    fn from(outcome: Outcome) -> ExitCode {
        ExitCode::from(match outcome {
            Outcome::Success => 0,
            Outcome::Negative => 1,
            Outcome::Error => 2,
        })
    }
}

/// What a subcommand returns.
pub type Result = std::result::Result<Outcome, Box<dyn std::error::Error>>;

impl Command {
    pub fn run(self) -> Result {
        match self {
            Command::Check(command) => command.run(),
            Command::Compile(command) => command.run(),
            Command::Eval(command) => command.run(),
            Command::Replay(command) => command.run(),
            Command::Diff(command) => command.run(),
            Command::Test(command) => command.run(),
            Command::Demo(command) => command.run(),
            Command::NewPolicy(command) => command.run(),
            Command::Keygen(command) => command.run(),
            Command::Sign(command) => command.run(),
            Command::Lists(command) => command.run(),
            #[cfg(feature = "fleet")]
            Command::Push(command) => command.run(),
            #[cfg(not(feature = "fleet"))]
            Command::Push(command) => command.run("push", "fleet"),
            #[cfg(feature = "fleet")]
            Command::Pull(command) => command.run(),
            #[cfg(not(feature = "fleet"))]
            Command::Pull(command) => command.run("pull", "fleet"),
            #[cfg(feature = "fleet")]
            Command::FleetDemo(command) => command.run(),
            #[cfg(not(feature = "fleet"))]
            Command::FleetDemo(command) => command.run("fleet-demo", "fleet"),
            #[cfg(feature = "serve")]
            Command::Serve(command) => command.run(),
            #[cfg(not(feature = "serve"))]
            Command::Serve(command) => command.run("serve", "serve"),
        }
    }
}

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// For people.
    Human,
    /// One JSON document.
    Json,
}

/// Where precompiled artifacts go by default: `$PATHSEC_CACHE`, else `$XDG_CACHE_HOME/pathsec`, else
/// `~/.cache/pathsec`.
pub fn default_cache() -> Option<PathBuf> {
    let from = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty()).map(PathBuf::from);
    from("PATHSEC_CACHE")
        .or_else(|| from("XDG_CACHE_HOME").map(|dir| dir.join("pathsec")))
        .or_else(|| from("HOME").map(|home| home.join(".cache/pathsec")))
}

/// A policy file loaded, and how long it took.
pub struct Loaded {
    pub policy: Policy,
    pub took: Duration,
}

/// An engine that trusts the public keys in `files` (none: signatures are not required).
pub fn engine(files: &[PathBuf]) -> std::result::Result<Engine, Box<dyn std::error::Error>> {
    let mut keys = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read the trusted key `{}`: {e}", file.display()))?;
        keys.push(PublicKey::parse(&file.display().to_string(), &text)?);
    }
    Ok(Engine::builder().trusted_keys(TrustedKeys::new(keys)).build()?)
}

/// Loads a policy file (and its signature, `<file>.sig`, when there is one), through the artifact
/// cache in `cache` if given.
pub fn load_policy(
    engine: &Engine,
    path: &Path,
    cache: Option<&Path>,
) -> std::result::Result<Loaded, Box<dyn std::error::Error>> {
    let started = Instant::now();
    let file = engine.read_policy_file(path)?;
    let signature = file.signature.as_deref();
    let policy = match cache {
        // A precompiled artifact needs no cache.
        _ if pathsec::wasm::is_artifact(&file.bytes) => engine.load_artifact(&file.name, &file.bytes, signature)?,
        Some(dir) => ArtifactCache::open(dir)?.load_signed_policy(engine, &file.name, &file.bytes, signature)?.0,
        None => engine.load_signed_policy(&file.name, &file.bytes, signature)?,
    };
    Ok(Loaded { policy, took: started.elapsed() })
}

/// A policy's name for case selection: its file name without the extension.
pub fn policy_name(path: &Path) -> String {
    path.file_stem().map_or_else(|| path.display().to_string(), |stem| stem.to_string_lossy().into_owned())
}

/// A duration for people: `63.2 ms`, `412 µs`.
pub fn human(duration: Duration) -> String {
    let micros = duration.as_secs_f64() * 1e6;
    if micros >= 1000.0 { format!("{:.1} ms", micros / 1000.0) } else { format!("{micros:.0} µs") }
}
