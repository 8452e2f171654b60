//! Starting and stopping the daemon: the policy, the facts, the decision log and its shipper, the
//! listeners (TCP and a Unix socket, HTTP/1.1 and HTTP/2 on each, gRPC routed by content type), and
//! the graceful shutdown: stop accepting, let calls in flight finish, flush the log, ship what is left.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use pathsec::delivery::{AcceptedGenerations, BundleKeys, BundleStore};
use pathsec::files::FactsFile;
use pathsec::runtime::{DecisionLog, PolicyDirectory};
use pathsec::signing::{PublicKey, TrustedKeys};
use pathsec::sync::Locked;
use pathsec::{Engine, Limits, Runtime};
use pathsec_fleet::feed::{FeedSettings, Follower, NatsSettings, Rollout};
use pathsec_fleet::oci::{ContentStore, Credentials, Node, Registry, RegistrySettings};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{Semaphore, watch};

use crate::api::{Origin, Served, grpc, http};
use crate::config::{Config, RolloutConfig};
use crate::logship::{LogSink, Shipper};
use crate::metrics::ServeMetrics;
use crate::service::{Service, apply_device};

/// A daemon that cannot start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// A setting names something missing or wrong; the message says what and the fix.
    #[error("`{setting}`: {problem}")]
    Setting {
        /// The setting, as the configuration file writes it (`policy.directory`, `log.file`).
        setting: &'static str,
        /// What is wrong with it, and the fix.
        problem: String,
    },
    /// A facts file or the rollout plan cannot be read.
    #[error(transparent)]
    File(#[from] pathsec::files::FileError),
    /// The policy cannot be loaded.
    #[error(transparent)]
    Policy(#[from] pathsec::wasm::LoadError),
    /// The decision log cannot be started.
    #[error(transparent)]
    Log(#[from] pathsec::runtime::LogError),
    /// The engine cannot be made from the limits and keys.
    #[error(transparent)]
    Engine(#[from] pathsec::wasm::EngineError),
    /// The runtime refuses its first policy (its self-check failed).
    #[error(transparent)]
    Runtime(#[from] pathsec::runtime::SwapError),
    /// A trusted key cannot be read as one.
    #[error(transparent)]
    Key(#[from] pathsec::signing::SignatureError),
    /// The policy directory cannot be opened.
    #[error(transparent)]
    Directory(#[from] pathsec::runtime::WatchError),
    /// The artifact cache cannot be opened.
    #[error(transparent)]
    Artifacts(#[from] pathsec::wasm::ArtifactCacheError),
    /// The facts file names more devices than the runtime holds.
    #[error(transparent)]
    Devices(#[from] pathsec::runtime::TooManyDevicesError),
    /// A listener cannot be bound.
    #[error("cannot listen on {what}: {error} (is another process on it? change `listen` in the configuration)")]
    Listen {
        /// The address or socket path.
        what: String,
        /// Why (in the message, so not also the error's source).
        error: std::io::Error,
    },
}

/// A refusal of `setting`, saying what is wrong and the fix.
fn setting(setting: &'static str, problem: impl std::fmt::Display) -> StartError {
    StartError::Setting { setting, problem: problem.to_string() }
}

/// A running daemon.
pub struct Server {
    served: Arc<Served>,
    /// Where TCP listens (the bound port when the configuration said `:0`).
    pub tcp: Option<SocketAddr>,
    /// The Unix socket's path.
    pub unix: Option<PathBuf>,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    graceful: Arc<tokio::sync::Mutex<Option<GracefulShutdown>>>,
    shipper: Option<Shipper>,
    watcher: Option<tokio::task::JoinHandle<()>>,
    grace: Duration,
}

impl Server {
    /// Starts the daemon `config` describes, on the current tokio runtime.
    pub async fn start(config: Config) -> Result<Server, StartError> {
        let engine = engine(&config)?;
        let (policy, directory) = initial_policy(&config, &engine)?;

        let shipper = match &config.log.http {
            Some(http) => Some(Shipper::start(http.clone()).map_err(|e| setting("log.http", format!("{e}")))?),
            None => None,
        };
        let mut builder = Runtime::builder(policy).settings(&config.settings());
        if config.log.file.is_some() || shipper.is_some() {
            let file = match &config.log.file {
                Some(path) => Some(std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(|e| {
                    setting(
                        "log.file",
                        format!(
                            "cannot open `{}` for appending: {e}; check the directory exists and is writable",
                            path.display()
                        ),
                    )
                })?),
                None => None,
            };
            let sink = LogSink::new(&config.log.mask, file, shipper.as_ref());
            let log = DecisionLog::to_writer(sink, config.log.capacity.unwrap_or(4096))?;
            builder = builder.decision_log(log);
        }
        let facts = match &config.facts.file {
            Some(path) => Some(FactsFile::read(path)?),
            None => None,
        };
        if let (Some(facts), Some(path)) = (&facts, &config.facts.file) {
            if config.facts.feed.is_some() && !facts.devices.is_empty() {
                return Err(setting(
                    "facts.file",
                    format!(
                        "with `facts.feed` the devices come from the feed: remove the {} `[[devices]]` from `{}`",
                        facts.devices.len(),
                        path.display()
                    ),
                ));
            }
            builder = builder.lists(facts.builder().build());
        }
        let runtime = builder.build()?;
        if let Some(facts) = &facts {
            for device in &facts.devices {
                let id = runtime.device_id(&device.name)?;
                apply_device(&runtime, id, device);
            }
        }
        let file = config.facts.file.as_ref().map(|path| format!("file {}", path.display()));
        let feed = config.facts.feed.as_ref().map(|feed| format!("feed {} ({})", feed.url, feed.shards.join(", ")));
        let description = match (file, feed) {
            (Some(file), Some(feed)) => format!("{file} and {feed}"),
            (Some(source), None) | (None, Some(source)) => source,
            (None, None) => "none at start: devices and lists come over the API".to_owned(),
        };
        let mut service = Service::new(runtime.clone(), engine.clone(), description, config.listen.max_batch);
        if let Some(feed) = &config.facts.feed {
            let mut settings = FeedSettings::new(NatsSettings::new(feed.url.clone()), feed.shards.clone());
            settings.snapshot = feed.snapshot.clone();
            if let Some(staleness) = feed.max_staleness {
                settings.max_staleness = staleness;
            }
            let follower =
                Follower::start(runtime.clone(), settings).map_err(|e| setting("facts.feed", format!("{e}")))?;
            service = service.with_feed(feed.url.clone(), follower);
        }
        if let Some(rollout) = &config.policy.rollout {
            let node = node(rollout)?;
            let follower = Rollout::start(
                engine.clone(),
                runtime.clone(),
                node,
                NatsSettings::new(rollout.url.clone()),
                &rollout.group,
            )
            .map_err(|e| setting("policy.rollout", format!("{e}")))?;
            service = service.with_rollout(rollout.group.clone(), follower);
        }
        let service = Arc::new(service);

        let admin_token = match (&config.listen.admin_token, &config.listen.admin_token_file) {
            (Some(token), _) => Some(token.trim().to_owned()),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    setting("listen.admin-token-file", format!("cannot read `{}`: {e}", path.display()))
                })?;
                let token = text.lines().next().unwrap_or("").trim().to_owned();
                if token.len() < 16 {
                    return Err(setting(
                        "listen.admin-token-file",
                        format!("the token in `{}` is shorter than 16 characters: too easy to guess", path.display()),
                    ));
                }
                Some(token)
            }
            (None, None) => None,
        };
        let metrics = ServeMetrics::new(&service, shipper.as_ref().map(Shipper::stats_reader));
        let served = Arc::new(Served {
            service: Arc::clone(&service),
            metrics,
            metrics_enabled: config.metrics.enabled,
            max_body: config.listen.max_body,
            admin_token,
        });

        let (stop, stopped) = watch::channel(false);
        let watcher = directory.map(|directory| {
            let runtime = runtime.clone();
            let every = config.policy.scan_every;
            let mut stopped = stopped.clone();
            tokio::spawn(async move {
                let directory = Arc::new(std::sync::Mutex::new(directory));
                loop {
                    tokio::select! {
                        () = tokio::time::sleep(every) => {}
                        _ = stopped.changed() => return,
                    }
                    let (directory, runtime) = (Arc::clone(&directory), runtime.clone());
                    let scan = tokio::task::spawn_blocking(move || directory.locked().scan(&runtime));
                    match scan.await {
                        Ok(Ok(events)) => {
                            events.iter().for_each(|event| eprintln!("pathsec serve: policy directory: {event:?}"))
                        }
                        Ok(Err(error)) => eprintln!("pathsec serve: policy directory: {error}"),
                        Err(_) => {}
                    }
                }
            })
        });

        let graceful = Arc::new(tokio::sync::Mutex::new(Some(GracefulShutdown::new())));
        let connections = Arc::new(Semaphore::new(config.listen.max_connections));
        let listen = Listening {
            served: Arc::clone(&served),
            connections,
            graceful: Arc::clone(&graceful),
            header_timeout: config.listen.header_timeout,
            tcp_routes: routes(&served, Origin::Tcp, config.listen.request_timeout),
            unix_routes: routes(&served, Origin::Unix, config.listen.request_timeout),
        };
        let mut tasks = Vec::new();
        let mut tcp = None;
        if let Some(address) = config.listen.tcp {
            let listener = TcpListener::bind(address)
                .await
                .map_err(|source| StartError::Listen { what: address.to_string(), error: source })?;
            tcp = listener.local_addr().ok();
            tasks.push(tokio::spawn(listen.clone().accept_tcp(listener, stopped.clone())));
        }
        let unix = config.listen.unix.clone();
        if let Some(path) = &unix {
            // A socket left by a daemon that did not stop cleanly would refuse the bind.
            if std::fs::metadata(path).is_ok_and(|meta| std::os::unix::fs::FileTypeExt::is_socket(&meta.file_type())) {
                let _ = std::fs::remove_file(path);
            }
            let listener = UnixListener::bind(path)
                .map_err(|source| StartError::Listen { what: path.display().to_string(), error: source })?;
            // Administrative calls need no token here: only the daemon's user and group may connect.
            std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o660))
                .map_err(|source| StartError::Listen { what: path.display().to_string(), error: source })?;
            tasks.push(tokio::spawn(listen.clone().accept_unix(listener, stopped.clone())));
        }
        Ok(Server { served, tcp, unix, stop, tasks, graceful, shipper, watcher, grace: config.listen.shutdown_grace })
    }

    /// The service behind the APIs.
    pub fn service(&self) -> &Arc<Service> {
        &self.served.service
    }

    /// Stops: no new connections, calls in flight finish (within the grace time), the fact feed writes
    /// its local snapshot, the decision log is flushed and what the shipper holds is shipped. Returns what was not shipped, if anything.
    pub async fn shutdown(mut self) -> Result<(), String> {
        let _ = self.stop.send(true);
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
        if let Some(watcher) = self.watcher.take() {
            let _ = watcher.await;
        }
        if let Some(graceful) = self.graceful.lock().await.take()
            && tokio::time::timeout(self.grace, graceful.shutdown()).await.is_err()
        {
            eprintln!("pathsec serve: calls still in flight after {:?}: closing them", self.grace);
        }
        if let Some(follower) = self.served.service.take_feed() {
            // Writes the feed's local snapshot, so a restart resumes.
            follower.stop().await;
        }
        let runtime = self.served.service.runtime().clone();
        let stats = tokio::task::spawn_blocking(move || runtime.flush_log()).await.ok().flatten();
        let mut problems = Vec::new();
        if let Some(stats) = stats
            && (stats.dropped > 0 || stats.failed > 0)
        {
            problems.push(format!(
                "decision log: {} dropped, {} failed ({:?})",
                stats.dropped, stats.failed, stats.last_error
            ));
        }
        if let Some(shipper) = self.shipper.take() {
            let left = shipper.finish(self.grace).await;
            if left.buffered_entries > 0 {
                problems.push(format!(
                    "decision log: {} entries could not be shipped to the HTTP sink before the grace time ended",
                    left.buffered_entries
                ));
            }
        }
        if let Some(path) = &self.unix {
            let _ = std::fs::remove_file(path);
        }
        if problems.is_empty() { Ok(()) } else { Err(problems.join("; ")) }
    }
}

/// What every accept loop shares.
#[derive(Clone)]
struct Listening {
    served: Arc<Served>,
    connections: Arc<Semaphore>,
    graceful: Arc<tokio::sync::Mutex<Option<GracefulShutdown>>>,
    header_timeout: Duration,
    /// The routes for calls over TCP and over the Unix socket.
    tcp_routes: axum::Router,
    unix_routes: axum::Router,
}

impl Listening {
    async fn accept_tcp(self, listener: TcpListener, mut stopped: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        let _ = stream.set_nodelay(true);
                        self.serve(stream, Origin::Tcp).await;
                    }
                    Err(error) => {
                        eprintln!("pathsec serve: accept: {error}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                _ = stopped.changed() => return,
            }
        }
    }

    async fn accept_unix(self, listener: UnixListener, mut stopped: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => self.serve(stream, Origin::Unix).await,
                    Err(error) => {
                        eprintln!("pathsec serve: accept: {error}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                _ = stopped.changed() => return,
            }
        }
    }

    /// Serves one connection, or closes it at once when `listen.max-connections` are open.
    async fn serve<S>(&self, stream: S, origin: Origin)
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let Ok(permit) = Arc::clone(&self.connections).try_acquire_owned() else {
            self.served.metrics.refused_connections.inc();
            drop(stream);
            return;
        };
        let router = match origin {
            Origin::Tcp => self.tcp_routes.clone(),
            Origin::Unix => self.unix_routes.clone(),
        };
        let mut builder = auto::Builder::new(TokioExecutor::new());
        builder.http1().timer(TokioTimer::new()).header_read_timeout(self.header_timeout);
        builder.http2().timer(TokioTimer::new()).keep_alive_interval(Some(Duration::from_secs(30)));
        let connection =
            builder.serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(router)).into_owned();
        let graceful = self.graceful.lock().await;
        let Some(graceful) = graceful.as_ref() else { return };
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            let _ = connection.await;
            drop(permit);
        });
    }
}

/// The HTTP routes and the gRPC service on one router, for calls from `origin`.
fn routes(served: &Arc<Served>, origin: Origin, request_timeout: Duration) -> axum::Router {
    let grpc = grpc::service(Arc::clone(served));
    http::router(Arc::clone(served))
        .route_service("/pathsec.v1.PathSecure/{*method}", grpc)
        .layer(axum::Extension(origin))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            request_timeout,
        ))
}

/// The node a rollout installs through: its registry client and its state on disk.
fn node(rollout: &RolloutConfig) -> Result<Arc<Node>, StartError> {
    let state = &rollout.state;
    let open = |what: &str, error: &dyn std::fmt::Display| {
        setting("policy.rollout.state", format!("cannot open the {what} under `{}`: {error}", state.display()))
    };
    let mut keys = Vec::new();
    for path in &rollout.bundle_keys {
        let text = std::fs::read_to_string(path)
            .map_err(|e| setting("policy.rollout.bundle-keys", format!("cannot read `{}`: {e}", path.display())))?;
        keys.push(PublicKey::parse(&path.display().to_string(), &text)?);
    }
    Ok(Arc::new(Node {
        registry: Registry::new(&RegistrySettings {
            credentials: Credentials::Anonymous,
            insecure: rollout.insecure_registries.clone(),
        }),
        store: ContentStore::open(state.join("content")).map_err(|e| open("content store", &e))?,
        artifacts: pathsec::wasm::ArtifactCache::open(state.join("artifacts"))
            .map_err(|e| open("artifact cache", &e))?,
        bundle_keys: BundleKeys::new(keys),
        accepted: std::sync::Mutex::new(
            AcceptedGenerations::open(state.join("accepted")).map_err(|e| open("accepted generations", &e))?,
        ),
        bundles: BundleStore::open(state.join("bundles")).map_err(|e| open("bundle store", &e))?,
    }))
}

fn engine(config: &Config) -> Result<Engine, StartError> {
    let mut limits = Limits::default();
    if let Some(deadline) = config.limits.deadline {
        limits.deadline = deadline;
    }
    if let Some(memory) = config.limits.memory {
        limits.memory = memory;
    }
    let mut keys = Vec::new();
    for path in &config.policy.trusted_keys {
        let text = std::fs::read_to_string(path)
            .map_err(|e| setting("policy.trusted-keys", format!("cannot read `{}`: {e}", path.display())))?;
        keys.push(PublicKey::parse(&path.display().to_string(), &text)?);
    }
    Engine::builder().limits(limits).trusted_keys(TrustedKeys::new(keys)).build().map_err(StartError::from)
}

/// The policy to start with, and the directory to watch if the policy comes from one.
fn initial_policy(config: &Config, engine: &Engine) -> Result<(pathsec::Policy, Option<PolicyDirectory>), StartError> {
    let source = &config.policy;
    if let Some(name) = &source.bundled {
        let bytes = match name.as_str() {
            "reference" => pathsec::bundled::REFERENCE,
            _ => pathsec::bundled::ALWAYS_SECURE,
        };
        return Ok((engine.load_policy(name, bytes)?, None));
    }
    if let Some(path) = &source.file {
        return Ok((engine.load_policy_file(path)?, None));
    }
    if source.rollout.is_some() {
        // The fail-closed baseline until the rollout installs the group's policy (not ready till then).
        return Ok((engine.load_policy("always-secure", pathsec::bundled::ALWAYS_SECURE)?, None));
    }
    let path = source.directory.as_ref().ok_or_else(|| setting("policy", "name a policy source"))?;
    let mut directory = PolicyDirectory::open(path, engine)?;
    if let Some(cache) = &source.artifact_cache {
        directory = directory.with_artifacts(pathsec::wasm::ArtifactCache::open(cache)?);
    }
    // A rollout plan's active policy starts the runtime (the watcher's first scan applies the rest of
    // the plan); without one, the newest good policy does. Later changes come through the watcher.
    let plan_file = path.join(pathsec::runtime::ROLLOUT_FILE);
    if plan_file.is_file() {
        let text = std::fs::read_to_string(&plan_file)
            .map_err(|e| setting("policy.directory", format!("cannot read `{}`: {e}", plan_file.display())))?;
        let plan = pathsec::runtime::RolloutPlan::parse(&plan_file.display().to_string(), &text)?;
        let policy = engine.load_policy_file(path.join(&plan.active))?;
        return Ok((policy, Some(directory)));
    }
    let newest = newest_policy(path).ok_or_else(|| {
        setting("policy.directory", format!("`{}` holds no `*.wasm` policy: put one there first", path.display()))
    })?;
    let policy = engine.load_policy_file(&newest)?;
    Ok((policy, Some(directory)))
}

fn newest_policy(directory: &std::path::Path) -> Option<PathBuf> {
    std::fs::read_dir(directory)
        .ok()?
        .filter_map(Result::ok)
        .filter(|entry| entry.path().extension().is_some_and(|ext| ext == "wasm"))
        .max_by_key(|entry| entry.metadata().and_then(|meta| meta.modified()).ok())
        .map(|entry| entry.path())
}
