//! The real servers a fleet runs on, started on this machine for tests and the fleet demo: Debian's
//! `nats-server` (JetStream on) and `docker-registry` (the distribution registry), each on a free
//! loopback port with its storage in a directory the caller owns, stopped by process id — and killed
//! on purpose, to test what a fleet does when one goes away.
//!
//! [`ensure_installed`] installs the Debian packages when a binary is missing: once per machine,
//! behind a file lock, since tests run in parallel. Traffic stays on loopback.

use std::fs::File;
use std::io::Write as _;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian installs the servers.
pub const NATS_SERVER: &str = "/usr/sbin/nats-server";
/// The distribution registry 2.8, as Debian packages it.
pub const DOCKER_REGISTRY: &str = "/usr/bin/docker-registry";

/// How long a server may take to accept connections.
const READY: Duration = Duration::from_secs(20);

/// A server that could not be installed or started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LabError {
    /// Installing the Debian packages failed.
    #[error(
        "cannot install {packages}: {reason}; install them by hand (`apt-get update && apt-get install -y {packages}`, as root)"
    )]
    Install {
        /// The packages.
        packages: String,
        /// What went wrong.
        reason: String,
    },
    /// The server did not start, or did not accept connections in time.
    #[error("{server} did not start on 127.0.0.1:{port}: {reason} (its output is in {log})")]
    Start {
        /// Which server.
        server: &'static str,
        /// Its port.
        port: u16,
        /// What went wrong.
        reason: String,
        /// Its output.
        log: PathBuf,
    },
    /// A file of the server's could not be written.
    #[error("cannot write {path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why (in the message, so not also the error's source).
        error: std::io::Error,
    },
}

/// Installs `nats-server` and `docker-registry` from Debian's packages when either is missing
/// ([`ensure_packages`]: `apt-get install -y --no-install-recommends nats-server docker-registry`). Debian starts the packaged registry as a service where it can; the lab runs
/// its own, so that one is disabled.
pub fn ensure_installed() -> Result<(), LabError> {
    if ensure_packages(&[(NATS_SERVER, "nats-server"), (DOCKER_REGISTRY, "docker-registry")])? {
        let _ = Command::new("systemctl").args(["disable", "--now", "docker-registry"]).output();
    }
    Ok(())
}

/// Installs the Debian packages whose programs (`(path, package)`) are missing, with `apt-get update &&
/// apt-get install -y --no-install-recommends <packages>` (as root). Runs `apt-get` once at a time on
/// this machine (a lock file in the temp directory); answers whether it installed anything (false:
/// all were there).
pub fn ensure_packages(programs: &[(&str, &str)]) -> Result<bool, LabError> {
    let missing = || programs.iter().filter(|(path, _)| !Path::new(path).exists()).map(|(_, package)| *package);
    let packages = programs.iter().map(|(_, package)| *package).collect::<Vec<_>>().join(" ");
    if missing().next().is_none() {
        return Ok(false);
    }
    let lock_path = std::env::temp_dir().join("pathsec-lab-install.lock");
    let install_error = |reason: String| LabError::Install { packages: packages.clone(), reason };
    let lock = File::create(&lock_path).map_err(|e| install_error(format!("lock {}: {e}", lock_path.display())))?;
    lock.lock().map_err(|e| install_error(format!("lock {}: {e}", lock_path.display())))?;
    let wanted: Vec<&str> = missing().collect();
    if wanted.is_empty() {
        return Ok(false);
    }
    let install: Vec<&str> =
        ["install", "-y", "--no-install-recommends"].into_iter().chain(wanted.iter().copied()).collect();
    for args in [&["update"][..], &install] {
        let output = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
            .map_err(|e| install_error(format!("apt-get: {e}")))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(install_error(format!("apt-get {}: {}", args.join(" "), stderr.trim())));
        }
    }
    if let Some(package) = missing().next() {
        return Err(install_error(format!("apt-get succeeded but `{package}`'s program is still missing")));
    }
    Ok(true)
}

/// Where the project's installed tools live, outside any clone so later clones reuse them:
/// `$PATHSEC_CACHE/tools`, else `$XDG_CACHE_HOME/pathsec/tools`, else `~/.cache/pathsec/tools` (the rule
/// `scripts/tool-cache.sh` follows too). Each tool has a directory per version under it.
pub fn tool_cache() -> PathBuf {
    let var = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty()).map(PathBuf::from);
    let cache = var("PATHSEC_CACHE")
        .or_else(|| var("XDG_CACHE_HOME").map(|cache| cache.join("pathsec")))
        .or_else(|| var("HOME").map(|home| home.join(".cache").join("pathsec")))
        .unwrap_or_else(|| std::env::temp_dir().join("pathsec-cache"));
    cache.join("tools")
}

/// The `wkg` version the interoperability tests run (wasm-pkg-tools' CLI).
pub const WKG_VERSION: &str = "0.16.1";

/// `wkg` (wasm-pkg-tools' CLI, [`WKG_VERSION`]) under `tools` (the project's tool directory):
/// installed there with `cargo install --locked` when missing — once at a time, behind a lock file,
/// as tests run in parallel — and reused when present. It is a large build (7 minutes on 2 cores).
pub fn wkg(tools: &Path) -> Result<PathBuf, LabError> {
    let root = tools.join(format!("wkg-{WKG_VERSION}"));
    let binary = root.join("bin").join("wkg");
    if binary.exists() {
        return Ok(binary);
    }
    let install_error = |reason: String| LabError::Install { packages: format!("wkg {WKG_VERSION}"), reason };
    std::fs::create_dir_all(tools).map_err(|source| LabError::Io { path: tools.to_owned(), error: source })?;
    let lock_path = tools.join("wkg.lock");
    let lock = File::create(&lock_path).map_err(|source| LabError::Io { path: lock_path.clone(), error: source })?;
    lock.lock().map_err(|source| LabError::Io { path: lock_path.clone(), error: source })?;
    if binary.exists() {
        return Ok(binary);
    }
    let build = tools.join("wkg-build");
    let output = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["install", "wkg", "--version", WKG_VERSION, "--locked", "--root"])
        .arg(&root)
        .arg("--target-dir")
        .arg(&build)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .output()
        .map_err(|e| install_error(format!("cargo install: {e}")))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<_> = stderr.lines().rev().take(20).collect();
        return Err(install_error(format!(
            "cargo install failed:\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        )));
    }
    let _ = std::fs::remove_dir_all(&build);
    Ok(binary)
}

/// A free port on loopback (bound, read back, released).
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("loopback has a free port")
}

/// Starts `program` on a free loopback port: `configure(port)` writes its configuration and gives its
/// arguments. A port another process takes between the pick and the start is retried on a new one.
fn launch(
    server: &'static str,
    program: &'static str,
    log: PathBuf,
    mut configure: impl FnMut(u16) -> Result<Vec<String>, LabError>,
) -> Result<Process, LabError> {
    let mut failure = None;
    for _ in 0..5 {
        let port = free_port();
        let mut process = Process { server, program, args: configure(port)?, port, log: log.clone(), child: None };
        match process.start() {
            Ok(()) => return Ok(process),
            Err(error @ LabError::Start { .. }) => failure = Some(error),
            Err(error) => return Err(error),
        }
    }
    Err(failure.unwrap_or(LabError::Start { server, port: 0, reason: "not tried".to_owned(), log }))
}

/// One running server process.
#[derive(Debug)]
struct Process {
    server: &'static str,
    program: &'static str,
    args: Vec<String>,
    port: u16,
    log: PathBuf,
    child: Option<Child>,
}

impl Process {
    fn start(&mut self) -> Result<(), LabError> {
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|source| LabError::Io { path: self.log.clone(), error: source })?;
        let err = log.try_clone().map_err(|source| LabError::Io { path: self.log.clone(), error: source })?;
        let start_error =
            |reason: String| LabError::Start { server: self.server, port: self.port, reason, log: self.log.clone() };
        let mut child = Command::new(self.program)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .spawn()
            .map_err(|e| start_error(format!("{}: {e}", self.program)))?;
        let deadline = Instant::now() + READY;
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(start_error(format!("it exited: {status}")));
            }
            if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
                // Still running a moment later: the port is ours, not another process's that took it.
                std::thread::sleep(Duration::from_millis(50));
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(start_error(format!("it exited ({status}): was the port taken?")));
                }
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(start_error(format!("no connection accepted within {READY:?}")));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        self.child = Some(child);
        Ok(())
    }

    fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Sends `signal` (`TERM`, `KILL`) to the process by its id, with kill(1), and waits for it to
    /// end. The child is ours and not yet waited for, so its id still names it.
    fn signal(&mut self, signal: &str) {
        let Some(mut child) = self.child.take() else { return };
        let sent = Command::new("kill").args(["-s", signal, &child.id().to_string()]).status();
        if !sent.is_ok_and(|status| status.success()) {
            let _ = child.kill();
        }
        let _ = child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.signal("KILL");
    }
}

/// A `nats-server` with JetStream, on a free loopback port, its storage in `dir`.
#[derive(Debug)]
pub struct NatsServer {
    process: Process,
}

/// Credentials a NATS server asks of its clients.
#[derive(Clone, Debug)]
pub enum NatsAuth {
    /// None.
    None,
    /// A user name and password.
    User {
        /// The user.
        user: String,
        /// The password.
        password: String,
    },
    /// An nkey: the server knows the public key; the client signs with the seed.
    Nkey {
        /// The public key (`U…`).
        public: String,
    },
}

impl NatsServer {
    /// Starts a server with JetStream storage under `dir` (made if missing).
    pub fn start(dir: &Path) -> Result<NatsServer, LabError> {
        NatsServer::start_with(dir, &NatsAuth::None)
    }

    /// Starts a server asking for `auth`.
    pub fn start_with(dir: &Path, auth: &NatsAuth) -> Result<NatsServer, LabError> {
        ensure_installed()?;
        let io = |path: &Path| {
            let path = path.to_owned();
            move |error| LabError::Io { path, error }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let config = dir.join("nats.conf");
        let storage = dir.join("jetstream");
        let process = launch("nats-server", NATS_SERVER, dir.join("nats.log"), |port| {
            let mut text = format!(
                "listen: 127.0.0.1:{port}\njetstream {{ store_dir: {:?}, max_memory_store: 256MB, max_file_store: 4GB }}\n",
                storage.display().to_string()
            );
            match auth {
                NatsAuth::None => {}
                NatsAuth::User { user, password } => {
                    text.push_str(&format!("authorization {{ user: {user:?}, password: {password:?} }}\n"));
                }
                NatsAuth::Nkey { public } => {
                    text.push_str(&format!("authorization {{ users: [ {{ nkey: {public:?} }} ] }}\n"));
                }
            }
            let mut file = File::create(&config).map_err(io(&config))?;
            file.write_all(text.as_bytes()).map_err(io(&config))?;
            Ok(vec!["-c".into(), config.display().to_string()])
        })?;
        Ok(NatsServer { process })
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.process.port)
    }

    /// The process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.process.pid()
    }

    /// Stops it as an operator would (SIGTERM), by process id; its storage stays.
    pub fn stop(&mut self) {
        self.process.signal("TERM");
    }

    /// Kills it (SIGKILL): a crash.
    pub fn kill(&mut self) {
        self.process.signal("KILL");
    }

    /// Starts it again on the same port and storage.
    pub fn restart(&mut self) -> Result<(), LabError> {
        self.process.signal("TERM");
        self.process.start()
    }
}

/// A distribution registry (2.8) on a free loopback port, plain HTTP, its storage in `dir`.
#[derive(Debug)]
pub struct OciRegistry {
    process: Process,
}

impl OciRegistry {
    /// Starts a registry storing under `dir` (made if missing), deletes enabled.
    pub fn start(dir: &Path) -> Result<OciRegistry, LabError> {
        OciRegistry::start_with(dir, None)
    }

    /// Starts a registry asking for basic auth from `htpasswd` (a bcrypt htpasswd file), if given.
    pub fn start_with(dir: &Path, htpasswd: Option<&Path>) -> Result<OciRegistry, LabError> {
        ensure_installed()?;
        let io = |path: &Path| {
            let path = path.to_owned();
            move |error| LabError::Io { path, error }
        };
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let config = dir.join("registry.yml");
        let process = launch("docker-registry", DOCKER_REGISTRY, dir.join("registry.log"), |port| {
            let mut text = format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
                dir.join("storage").display()
            );
            if let Some(htpasswd) = htpasswd {
                text.push_str(&format!("auth:\n  htpasswd:\n    realm: pathsec\n    path: {}\n", htpasswd.display()));
            }
            std::fs::write(&config, text).map_err(io(&config))?;
            Ok(vec!["serve".into(), config.display().to_string()])
        })?;
        Ok(OciRegistry { process })
    }

    /// `127.0.0.1:PORT`, the registry part of a reference.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.process.port)
    }

    /// The process id while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.process.pid()
    }

    /// Stops it (SIGTERM), by process id.
    pub fn stop(&mut self) {
        self.process.signal("TERM");
    }

    /// Kills it (SIGKILL).
    pub fn kill(&mut self) {
        self.process.signal("KILL");
    }

    /// Starts it again on the same port and storage.
    pub fn restart(&mut self) -> Result<(), LabError> {
        self.process.signal("TERM");
        self.process.start()
    }

    /// Where it keeps blobs (for tests that tamper with them).
    pub fn storage(&self) -> PathBuf {
        Path::new(&self.process.args[1]).parent().map(|dir| dir.join("storage")).unwrap_or_default()
    }
}
