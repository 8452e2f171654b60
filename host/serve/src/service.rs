//! The daemon's one state, shared by the HTTP and gRPC front ends: the runtime, a pool of workers,
//! what the facts come from, and every operation both APIs offer. The APIs only translate; answers
//! and errors are made here once, so the two answer identically.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use pathsec::files::{DeviceFile, ListsFile, RequestFile, Subject};
use pathsec::sync::Locked;
use pathsec::{Decision, Engine, Flow, Runtime, Worker};
use pathsec_fleet::feed::{FeedStatus, Follower, Rollout};

use crate::error::ApiError;

/// A device's facts as the API takes them (a facts file's device without its name, which is in the
/// path or message).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct DeviceFacts {
    /// Its home network.
    pub home: pathsec::PlmnId,
    /// Its serving network; absent while unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serving: Option<pathsec::PlmnId>,
    /// How it is attached; default `3gpp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<pathsec::AccessKind>,
    /// Access-layer ciphering; absent while unknown (counts as off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ciphering: Option<bool>,
    /// Access-layer integrity; absent while unknown (counts as off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integrity: Option<bool>,
}

/// What the daemon runs on, as `/v1/status` and `Status` report it.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Status {
    /// The active policy's name.
    pub policy: String,
    /// Its SHA-256.
    pub sha256: String,
    /// Policies swapped in since start (0 while the one it started with runs).
    pub policy_generation: u64,
    /// The lists' generation.
    pub lists_generation: u64,
    /// Devices known.
    pub devices: u64,
    /// Where the facts come from.
    pub facts: String,
    /// The fact feed's state, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub feed: Option<FeedState>,
    /// The newest fact-feed revision applied (0 without a feed).
    pub feed_revision: u64,
    /// Seconds since start.
    pub uptime_seconds: f64,
    /// The registration exchange's settings in force (`[registration]` and `[device]` in `pathsec.toml`).
    pub registration: RegistrationStatus,
}

/// The registration settings in force, as `/v1/status` shows them.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct RegistrationStatus {
    /// How long an agreement stands, in seconds.
    pub timer_seconds: u64,
    /// The application-layer security offered, preferred first.
    pub options: Vec<String>,
    /// The servers answered for (empty: any server the lists name).
    pub serves: Vec<String>,
    /// The home networks whose devices may roam only where listed, sorted.
    pub roaming_limited: Vec<String>,
    /// The servers whose "no application-layer security" a device here takes while ciphering is off.
    pub accept_plain_from: Vec<String>,
    /// A device here takes it from any server.
    pub accept_plain_unciphered: bool,
}

/// A fact feed's state.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct FeedState {
    /// Connected to the server now.
    pub connected: bool,
    /// Caught up with the bucket since the last (re)connection.
    pub current: bool,
    /// Past the staleness bound.
    pub stale: bool,
    /// The last error, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// The daemon's state.
pub struct Service {
    runtime: Runtime,
    engine: Engine,
    workers: Mutex<Vec<Worker>>,
    started: Instant,
    facts: String,
    /// The feed follower, until shutdown takes it to stop it.
    feed: Mutex<Option<Follower>>,
    /// The feed's URL, named by the 409 that refuses fact updates while it writes them.
    feed_url: Option<String>,
    /// The rollout the policy comes from, with its group.
    rollout: Option<(String, Rollout)>,
    max_batch: usize,
}

impl Service {
    /// A service deciding with `runtime`, whose facts come from `facts` (for status and readiness).
    pub fn new(runtime: Runtime, engine: Engine, facts: String, max_batch: usize) -> Service {
        Service {
            runtime,
            engine,
            workers: Mutex::new(Vec::new()),
            started: Instant::now(),
            facts,
            feed: Mutex::new(None),
            feed_url: None,
            rollout: None,
            max_batch,
        }
    }

    /// The facts come from a feed at `url`, followed by `follower`: fact updates over the API are
    /// refused while it runs.
    pub fn with_feed(mut self, url: String, follower: Follower) -> Service {
        self.feed_url = Some(url);
        self.feed = Mutex::new(Some(follower));
        self
    }

    /// The policy comes from a rollout of `group`: not ready until it has installed one.
    pub fn with_rollout(mut self, group: String, rollout: Rollout) -> Service {
        self.rollout = Some((group, rollout));
        self
    }

    /// The runtime.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// The feed follower, if any, to stop it (the feed's status is then no longer reported).
    pub fn take_feed(&self) -> Option<Follower> {
        self.feed.locked().take()
    }

    /// The feed's status, if any.
    pub fn feed_status(&self) -> Option<FeedStatus> {
        self.feed.locked().as_ref().map(Follower::status)
    }

    /// How long since the feed was last known reachable, if there is a feed.
    pub fn feed_contact_age(&self) -> Option<std::time::Duration> {
        self.feed.locked().as_ref().map(Follower::since_contact)
    }

    /// One decision. `field` names the request in errors (`requests[3]`; empty for a request alone).
    pub fn decide(&self, request: &RequestFile, field: &str) -> Result<Decision, ApiError> {
        self.with_worker(|worker| self.decide_with(worker, request, field))
    }

    /// Many decisions, in order: every request is checked before any is decided, so a bad one
    /// refuses the batch (naming it) and nothing is half done.
    pub fn decide_batch(&self, requests: &[RequestFile]) -> Result<Vec<Decision>, ApiError> {
        if requests.len() > self.max_batch {
            return Err(ApiError::too_large(
                "requests",
                format!("{} requests in one batch; at most {} (`listen.max-batch`)", requests.len(), self.max_batch),
            ));
        }
        let targets = requests
            .iter()
            .enumerate()
            .map(|(index, request)| self.flow(request, &format!("requests[{index}]")))
            .collect::<Result<Vec<_>, _>>()?;
        self.with_worker(|worker| {
            let flows: Option<Vec<Flow>> = targets
                .iter()
                .map(|target| match target {
                    Target::Flow(flow) => Some(*flow),
                    Target::Written(_) => None,
                })
                .collect();
            Ok(match flows {
                Some(flows) => worker.decide_batch(&flows),
                // Rare: a batch with written-out facts is decided one by one, in order.
                None => targets.iter().map(|target| decide(worker, target)).collect(),
            })
        })
    }

    fn decide_with(&self, worker: &mut Worker, request: &RequestFile, field: &str) -> Result<Decision, ApiError> {
        Ok(decide(worker, &self.flow(request, field)?))
    }

    /// The flow a request names, or the request it writes out.
    fn flow(&self, request: &RequestFile, field: &str) -> Result<Target, ApiError> {
        let (event, subject) = request.subject("request", field).map_err(ApiError::from_file)?;
        let server = self.server(&request.server, &join(field, "server"))?;
        Ok(match subject {
            Subject::Device(name) => {
                let device = self.runtime.find_device(name).ok_or_else(|| {
                    ApiError::not_found(
                        &join(field, "device"),
                        format!(
                            "no device `{name}`: register it first (PUT /v1/devices/{name}), or write its facts out"
                        ),
                    )
                })?;
                Target::Flow(Flow { device, server, role: request.role, event })
            }
            Subject::Facts(attach, link) => Target::Written(request.request(event, server, attach, link)),
        })
    }

    /// The handle of a server the lists or the facts name; the daemon never adds one a caller makes
    /// up. The error names `field`.
    pub fn server(&self, fqdn: &pathsec::Fqdn, field: &str) -> Result<pathsec::ServerId, ApiError> {
        self.runtime.lists().server_id(fqdn).ok_or_else(|| {
            ApiError::not_found(
                field,
                format!(
                    "server `{fqdn}` is in no list and not among the facts' servers: add it to List 2 or to `servers` in the facts"
                ),
            )
        })
    }

    /// Registers a device or updates its facts; `Ok(true)` when it was known before.
    pub fn put_device(&self, name: &str, facts: &DeviceFacts) -> Result<bool, ApiError> {
        self.refuse_if_fed("device facts")?;
        if name.trim().is_empty() || name.len() > 256 {
            return Err(ApiError::invalid("name", "a device's name is 1 to 256 characters"));
        }
        let existed = self.runtime.find_device(name).is_some();
        let device = self.runtime.device_id(name).map_err(|e| ApiError::unavailable("name", e.to_string()))?;
        let file = DeviceFile {
            name: name.to_owned(),
            home: facts.home,
            serving: facts.serving,
            access: facts.access.unwrap_or(pathsec::AccessKind::ThreeGpp),
            ciphering: facts.ciphering,
            integrity: facts.integrity,
        };
        apply_device(&self.runtime, device, &file);
        Ok(existed)
    }

    /// Replaces Lists 1-3 (servers the facts named stay known); the new lists' generation.
    pub fn put_lists(&self, lists: &ListsFile) -> Result<u64, ApiError> {
        self.refuse_if_fed("the lists")?;
        lists.check("lists", "").map_err(ApiError::from_file)?;
        let servers: Vec<_> = self.runtime.lists().servers().map(|(_, fqdn)| fqdn.clone()).collect();
        let lists = self.runtime.replace_lists(|builder| {
            for server in servers {
                builder.server(server);
            }
            lists.edit(builder, true);
        });
        Ok(lists.generation())
    }

    /// Loads `component` as policy `name` (checked against the trusted keys with `signature`) and
    /// swaps it in; its name and SHA-256. On refusal the active policy stays.
    pub fn swap(&self, name: &str, component: &[u8], signature: Option<&str>) -> Result<(String, String), ApiError> {
        if name.is_empty() || name.len() > 128 || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(ApiError::invalid("name", "a policy's name is 1 to 128 letters, digits, `-`, `_` or `.`"));
        }
        let policy = self
            .engine
            .load_signed_policy(name, component, signature)
            .map_err(|e| ApiError::unprocessable("component", e.to_string()))?;
        let answer = (policy.name().to_owned(), policy.digest().to_owned());
        self.runtime.swap(policy).map_err(|e| ApiError::unprocessable("component", e.to_string()))?;
        Ok(answer)
    }

    /// What the daemon runs on.
    pub fn status(&self) -> Status {
        let policy = self.runtime.policy();
        Status {
            policy: policy.name().to_owned(),
            sha256: policy.digest().to_owned(),
            policy_generation: self.runtime.swaps(),
            lists_generation: self.runtime.lists().generation(),
            devices: self.runtime.device_count() as u64,
            facts: self.facts.clone(),
            feed: self.feed_status().map(|status| FeedState {
                connected: status.connected,
                current: status.current,
                stale: status.stale,
                last_error: status.last_error,
            }),
            feed_revision: self.runtime.feed_revision(),
            uptime_seconds: self.started.elapsed().as_secs_f64(),
            registration: {
                let (registration, device) = (self.runtime.registration_config(), self.runtime.device_config());
                let mut limited: Vec<String> = registration.roaming.keys().map(ToString::to_string).collect();
                limited.sort();
                RegistrationStatus {
                    timer_seconds: registration.timer.as_secs(),
                    options: registration.options.iter().map(ToString::to_string).collect(),
                    serves: registration.serves.iter().map(ToString::to_string).collect(),
                    roaming_limited: limited,
                    accept_plain_from: device.accept_plain_from.iter().map(ToString::to_string).collect(),
                    accept_plain_unciphered: device.accept_plain_unciphered,
                }
            },
        }
    }

    /// Ready to decide: the policy is in — a rollout has installed one (other sources have one from
    /// the start) — and the facts are in — a feed has caught up with its bucket and is not stale.
    /// `Err` names what is missing.
    pub fn readiness(&self) -> Result<(), Vec<String>> {
        let mut missing = Vec::new();
        if let Some((group, rollout)) = &self.rollout {
            let status = rollout.status();
            if status.policy.is_none() {
                missing.push(format!(
                    "policy: waiting for the rollout of group `{group}` to install one (deciding on the fail-closed baseline meanwhile){}",
                    status.last_error.map(|e| format!("; last error: {e}")).unwrap_or_default()
                ));
            }
        }
        if let Some(status) = self.feed_status() {
            if !status.current {
                missing.push(format!(
                    "facts: the fact feed has not caught up with its bucket yet ({} devices so far{})",
                    status.devices,
                    status.last_error.map(|e| format!("; last error: {e}")).unwrap_or_default()
                ));
            } else if status.stale {
                missing.push("facts: the fact feed is stale (out of reach past its staleness bound)".to_owned());
            }
        }
        if missing.is_empty() { Ok(()) } else { Err(missing) }
    }

    /// Makes a related decision with a pooled worker.
    pub fn with_worker<T>(&self, work: impl FnOnce(&mut Worker) -> Result<T, ApiError>) -> Result<T, ApiError> {
        let mut worker = self.lock_workers().pop().unwrap_or_else(|| self.runtime.worker());
        let result = work(&mut worker);
        self.lock_workers().push(worker);
        result
    }

    fn lock_workers(&self) -> std::sync::MutexGuard<'_, Vec<Worker>> {
        // The pool is a plain list: a panic while it is held cannot leave it half-made.
        self.workers.locked()
    }

    fn refuse_if_fed(&self, what: &str) -> Result<(), ApiError> {
        match &self.feed_url {
            Some(url) => Err(ApiError::conflict(format!(
                "{what} come from the fact feed at {url} (`facts.feed`): update them there; the API does not write over a feed"
            ))),
            None => Ok(()),
        }
    }
}

/// `part` of the request named `field` (`requests[3].server`, or `server` alone).
pub(crate) fn join(field: &str, part: &str) -> String {
    if field.is_empty() { part.to_owned() } else { format!("{field}.{part}") }
}

/// What a request is decided on.
enum Target {
    /// A known device's flow: decided on its live facts, cached.
    Flow(Flow),
    /// Facts written out: decided as written, not cached.
    Written(pathsec::Request),
}

fn decide(worker: &mut Worker, target: &Target) -> Decision {
    match target {
        Target::Flow(flow) => worker.decide(flow),
        Target::Written(request) => worker.decide_written(request),
    }
}

/// Sets a device's attach and link facts from a facts-file entry. Without `ciphering` and `integrity`
/// this server does not know the device's access security, and takes List 1 as the statement that path
/// A is protected (000, FIG. 12 step 6, FIG. 13 step 3).
pub(crate) fn apply_device(runtime: &Runtime, device: pathsec::DeviceId, file: &DeviceFile) {
    // The handle was issued by this runtime: these cannot fail.
    let _ = runtime.set_attach(device, file.attach());
    let _ = match file.link() {
        Some(link) => runtime.set_link(device, link),
        None => runtime.clear_link(device),
    };
}

/// A shared service.
pub type Shared = Arc<Service>;
