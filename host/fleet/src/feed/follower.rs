//! [`Follower`]: a runtime following its shards of the device-facts bucket.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use async_nats::jetstream::consumer::DeliverPolicy;
use async_nats::jetstream::consumer::push::OrderedConfig;
use async_nats::jetstream::{self, Message};
use async_nats::{Client, Event};
use futures::stream::{BoxStream, SelectAll, StreamExt};
use pathsec::runtime::FedFacts;
use pathsec::{DeviceId, Runtime};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::feed::keys::{Keyed, check_token, key_of, keyed, stream_name, subject};
use crate::feed::snapshot::LocalSnapshot;
use crate::feed::{AgreementValue, DEVICE_BUCKET, DeviceValue, FeedError, NatsSettings};
use crate::status::Watched;

/// What decisions on fed facts do once the feed has been out of reach longer than `max_staleness`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnStale {
    /// Fail closed (reason `facts-stale`) until the feed is back: the default.
    #[default]
    FailClosed,
    /// Keep deciding on the last facts (an operator's choice for devices that rarely move).
    KeepLast,
}

/// How a runtime follows the feed.
#[derive(Clone, Debug)]
pub struct FeedSettings {
    /// The server.
    pub nats: NatsSettings,
    /// The device-facts bucket.
    pub bucket: String,
    /// The shards this node follows.
    pub shards: Vec<String>,
    /// How long the feed may be out of reach before decisions on its facts fail closed.
    pub max_staleness: Duration,
    /// What happens then.
    pub on_stale: OnStale,
    /// Where the local snapshot is kept; `None`: a restart re-snapshots.
    pub snapshot: Option<PathBuf>,
    /// How often the local snapshot is written (and at [`Follower::stop`]).
    pub snapshot_every: Duration,
    /// How long after its last contact a follower may resume from its position rather than
    /// re-snapshot: at most how long the bucket keeps delete markers before they are purged (a
    /// resuming follower cannot see a purged delete).
    pub resume_within: Duration,
}

impl FeedSettings {
    /// Following `shards` on `nats` with the defaults: bucket [`DEVICE_BUCKET`], 30 s staleness bound
    /// failing closed, no local snapshot, resume within 15 minutes.
    pub fn new(nats: NatsSettings, shards: impl IntoIterator<Item = impl Into<String>>) -> FeedSettings {
        FeedSettings {
            nats,
            bucket: DEVICE_BUCKET.to_owned(),
            shards: shards.into_iter().map(Into::into).collect(),
            max_staleness: Duration::from_secs(30),
            on_stale: OnStale::FailClosed,
            snapshot: None,
            snapshot_every: Duration::from_secs(10),
            resume_within: Duration::from_secs(15 * 60),
        }
    }
}

/// Where a follower stands.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FeedStatus {
    /// The highest revision applied.
    pub revision: u64,
    /// Every shard has caught up with the bucket since the last (re)connection.
    pub current: bool,
    /// Connected to the server now.
    pub connected: bool,
    /// Past the staleness bound (decisions on fed facts fail closed unless `KeepLast`).
    pub stale: bool,
    /// Devices held.
    pub devices: usize,
    /// Updates applied (snapshot entries included).
    pub applied: u64,
    /// Full snapshots taken (the first one included).
    pub snapshots: u64,
    /// Resumptions from a position (after a reconnect or a restart).
    pub resumes: u64,
    /// Values that did not read (the device's facts were cleared: decisions fail closed).
    pub bad_values: u64,
    /// Whether the start restored a local snapshot.
    pub restored: bool,
    /// The last error, if any.
    pub last_error: Option<String>,
}

/// A runtime following the device-facts bucket; see the module docs. Dropping it stops the task
/// without a last snapshot: call [`Follower::stop`].
pub struct Follower {
    task: Option<JoinHandle<()>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    status: Watched<FeedStatus>,
    contact: Arc<AtomicU64>,
}

/// `time` in milliseconds since the Unix epoch.
fn unix_millis(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |since| since.as_millis() as u64)
}

impl Follower {
    /// Starts following: restores the local snapshot if there is one (its facts apply at once, marked
    /// stale later if the feed stays out of reach), then connects in the background — a task on the
    /// current tokio runtime, which must be running.
    pub fn start(runtime: Runtime, settings: FeedSettings) -> Result<Follower, FeedError> {
        for shard in &settings.shards {
            check_token(shard, "shard")?;
        }
        let mut state = State::new(runtime, settings);
        state.restore()?;
        let (status_tx, status) = Watched::new(state.status.clone());
        state.status_tx = Some(status_tx);
        let (stop, stop_rx) = tokio::sync::oneshot::channel();
        let contact = Arc::clone(&state.contact);
        let task = tokio::spawn(state.run(stop_rx));
        Ok(Follower { task: Some(task), stop: Some(stop), status, contact })
    }

    /// Where it stands now.
    pub fn status(&self) -> FeedStatus {
        self.status.get()
    }

    /// How long since the feed was last known reachable (to within the follower's 50 ms tick):
    /// the clock its staleness bound runs on. Near zero while connected.
    pub fn since_contact(&self) -> Duration {
        let contact = self.contact.load(Ordering::Relaxed);
        Duration::from_millis(unix_millis(SystemTime::now()).saturating_sub(contact))
    }

    /// Waits until `test` holds of the status, or `timeout` passes: `Err` with the last status then.
    pub async fn wait_for(
        &mut self,
        timeout: Duration,
        test: impl Fn(&FeedStatus) -> bool,
    ) -> Result<FeedStatus, FeedStatus> {
        self.status.wait_for(timeout, test).await
    }

    /// Stops following, writing the local snapshot first.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// One shard's consumer.
#[derive(Default)]
struct Shard {
    /// The last revision applied from it; `None` before its first snapshot completes.
    position: Option<u64>,
    /// Taking a snapshot: the stream's last revision when it began. The devices it carries are marked
    /// with the shard's `mark`.
    snapshot: Option<u64>,
    /// Counts this shard's snapshots: a device marked with the current count was seen in this one.
    mark: u32,
    /// Caught up since the consumer was made.
    current: bool,
}

/// A registration outcome the follower holds: its shard (index + 1), snapshot mark, key, revision
/// and value (for the local snapshot).
struct Outcome {
    shard: u32,
    mark: u32,
    key: String,
    revision: u64,
    value: AgreementValue,
}

/// What the follower keeps of a device it holds (indexed by device handle): its shard (index + 1; 0:
/// not held) and the mark of the last snapshot that carried it. Its facts live in the runtime only.
#[derive(Clone, Copy, Default)]
struct Held {
    shard: u32,
    mark: u32,
}

struct State {
    runtime: Runtime,
    settings: FeedSettings,
    shards: Vec<Shard>,
    /// The devices held, by handle: 8 bytes each.
    held: Vec<Held>,
    /// The registration outcomes held, by (device, server) handle: rare, so kept whole.
    agreements: HashMap<(u32, u32), Outcome>,
    /// When the feed was last known reachable, and whether facts were applied since the last save.
    last_contact: Instant,
    /// The same moment by the wall clock (Unix milliseconds), for [`Follower::since_contact`].
    contact: Arc<AtomicU64>,
    dirty: bool,
    last_saved: Instant,
    status: FeedStatus,
    status_tx: Option<watch::Sender<FeedStatus>>,
}

type Delivery = (usize, Result<Message, String>);

impl State {
    fn new(runtime: Runtime, settings: FeedSettings) -> State {
        let shards = settings.shards.iter().map(|_| Shard::default()).collect();
        State {
            runtime,
            settings,
            shards,
            held: Vec::new(),
            agreements: HashMap::new(),
            last_contact: Instant::now(),
            contact: Arc::new(AtomicU64::new(unix_millis(SystemTime::now()))),
            dirty: false,
            last_saved: Instant::now(),
            status: FeedStatus::default(),
            status_tx: None,
        }
    }

    /// Applies the local snapshot, if any; its positions are kept when it is recent enough to resume.
    fn restore(&mut self) -> Result<(), FeedError> {
        let Some(path) = self.settings.snapshot.clone() else { return Ok(()) };
        let Some(snapshot) = LocalSnapshot::load(&path)? else { return Ok(()) };
        if snapshot.bucket != self.settings.bucket {
            return Err(FeedError::Snapshot {
                path,
                reason: format!(
                    "it is of bucket `{}`, not `{}`: give each bucket its own snapshot file",
                    snapshot.bucket, self.settings.bucket
                ),
            });
        }
        let age = unix_now().saturating_sub(snapshot.saved);
        for (key, (revision, value)) in snapshot.entries {
            let shard =
                key.split_once('.').and_then(|(shard, _)| self.settings.shards.iter().position(|name| name == shard));
            if let Some(shard) = shard {
                self.apply(shard, &key, revision, Some(value))?;
            }
        }
        for (key, revision, value) in snapshot.agreements {
            let shard =
                key.split_once('.').and_then(|(shard, _)| self.settings.shards.iter().position(|name| name == shard));
            if let (Some(shard), Some(Keyed::Agreement(device, server))) = (shard, keyed(&key)) {
                let (device, server) = (device.to_owned(), server.to_owned());
                self.apply_agreement(shard, &key, &device, &server, revision, Some(value))?;
            }
        }
        if age <= self.settings.resume_within.as_secs() {
            for (shard, name) in self.shards.iter_mut().zip(&self.settings.shards) {
                shard.position = snapshot.positions.get(name).copied();
            }
        }
        // Out of reach since it was saved, as far as the staleness bound goes.
        self.last_contact = Instant::now().checked_sub(Duration::from_secs(age)).unwrap_or_else(Instant::now);
        let saved = SystemTime::now().checked_sub(Duration::from_secs(age)).unwrap_or(SystemTime::UNIX_EPOCH);
        self.contact.store(unix_millis(saved), Ordering::Relaxed);
        self.status.restored = true;
        self.publish_status();
        Ok(())
    }

    async fn run(mut self, mut stop: tokio::sync::oneshot::Receiver<()>) {
        let (events_tx, mut events) = mpsc::unbounded_channel();
        let mut backoff = Duration::from_millis(100);
        let mut client: Option<Client> = None;
        let mut ticker = tokio::time::interval(Duration::from_millis(50));
        'outer: loop {
            let connected = match &client {
                Some(client) => Ok(client.clone()),
                None => self.settings.nats.connect(Some(events_tx.clone())).await,
            };
            let opened = match connected {
                Ok(c) => {
                    client = Some(c.clone());
                    self.open(&c).await
                }
                Err(error) => Err(error),
            };
            let mut deliveries = match opened {
                Ok(deliveries) => {
                    backoff = Duration::from_millis(100);
                    deliveries
                }
                Err(error) => {
                    self.status.last_error = Some(error.to_string());
                    self.check_staleness(client.as_ref());
                    let pause = tokio::time::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                    tokio::select! {
                        _ = pause => continue,
                        _ = &mut stop => break 'outer,
                    }
                }
            };
            // The connection was lost since these consumers were made (its first `Connected` is not).
            let mut lost = false;
            loop {
                tokio::select! {
                    delivery = deliveries.next() => match delivery {
                        Some((shard, Ok(message))) => {
                            self.touch();
                            if let Err(error) = self.deliver(shard, &message) {
                                self.status.last_error = Some(error.to_string());
                            }
                        }
                        Some((_, Err(error))) => {
                            self.status.last_error = Some(error);
                            break;
                        }
                        None => break,
                    },
                    event = events.recv() => match event {
                        // Back after an outage: resume every shard from its position.
                        Some(Event::Connected) if lost => {
                            self.status.connected = true;
                            break;
                        }
                        Some(Event::Disconnected) => {
                            lost = true;
                            self.status.connected = false;
                            self.publish_status();
                        }
                        _ => {}
                    },
                    _ = ticker.tick() => {
                        self.check_staleness(client.as_ref());
                        self.maybe_save(false);
                    }
                    _ = &mut stop => break 'outer,
                }
            }
            for shard in &mut self.shards {
                shard.current = false;
            }
            self.status.current = false;
            self.publish_status();
        }
        self.maybe_save(true);
    }

    /// Makes one consumer per shard: a resume from its position when it has one the stream still
    /// holds, else a snapshot (the last value of every key).
    async fn open(&mut self, client: &Client) -> Result<SelectAll<BoxStream<'static, Delivery>>, FeedError> {
        let js = jetstream::new(client.clone());
        let error = |operation: &str| {
            let operation = operation.to_owned();
            move |e: Box<dyn std::error::Error + Send + Sync>| FeedError::JetStream { operation, reason: e.to_string() }
        };
        let mut stream = js
            .get_stream(stream_name(&self.settings.bucket))
            .await
            .map_err(|e| error("get the bucket's stream")(e.into()))?;
        let info = stream.info().await.map_err(|e| error("read the bucket's state")(e.into()))?;
        let (first, last) = (info.state.first_sequence, info.state.last_sequence);
        let mut all = SelectAll::new();
        for index in 0..self.shards.len() {
            let name = self.settings.shards[index].clone();
            let shard = &mut self.shards[index];
            let deliver_policy = match shard.position {
                // Resumable: nothing the shard needs has left the stream.
                Some(position) if position + 1 >= first => {
                    self.status.resumes += 1;
                    shard.snapshot = None;
                    DeliverPolicy::ByStartSequence { start_sequence: position + 1 }
                }
                _ => {
                    self.status.snapshots += 1;
                    shard.snapshot = Some(last);
                    shard.mark = shard.mark.wrapping_add(1);
                    DeliverPolicy::LastPerSubject
                }
            };
            let config = OrderedConfig {
                deliver_subject: client.new_inbox(),
                filter_subject: subject(&self.settings.bucket, &format!("{name}.>")),
                deliver_policy,
                ..OrderedConfig::default()
            };
            let consumer =
                stream.create_consumer(config).await.map_err(|e| error(&format!("follow shard {name}"))(e.into()))?;
            let pending = consumer.cached_info().num_pending;
            let messages = consumer.messages().await.map_err(|e| error(&format!("follow shard {name}"))(e.into()))?;
            if pending == 0 {
                self.caught_up(index, last);
            }
            all.push(messages.map(move |message| (index, message.map_err(|e| e.to_string()))).boxed());
        }
        self.touch();
        self.status.connected = true;
        self.publish_status();
        Ok(all)
    }

    /// Applies one message of shard `index`.
    fn deliver(&mut self, index: usize, message: &Message) -> Result<(), FeedError> {
        let info = message.info().map_err(|e| FeedError::JetStream {
            operation: "read a message's metadata".to_owned(),
            reason: e.to_string(),
        })?;
        let (revision, pending) = (info.stream_sequence, info.pending);
        let Some(key) = key_of(&self.settings.bucket, message.subject.as_str()).map(str::to_owned) else {
            return Ok(());
        };
        let deleted = message
            .headers
            .as_ref()
            .and_then(|headers| headers.get("KV-Operation"))
            .is_some_and(|operation| matches!(operation.as_str(), "DEL" | "PURGE"));
        match keyed(&key) {
            Some(Keyed::Agreement(device, server)) => {
                let (device, server) = (device.to_owned(), server.to_owned());
                let value = if deleted { None } else { self.read(&key, revision, &message.payload) };
                self.apply_agreement(index, &key, &device, &server, revision, value)?;
            }
            _ => {
                let value = if deleted { None } else { self.read(&key, revision, &message.payload) };
                self.apply(index, &key, revision, value)?;
            }
        }
        let shard = &mut self.shards[index];
        if shard.snapshot.is_none() {
            shard.position = Some(shard.position.map_or(revision, |position| position.max(revision)));
        }
        if pending == 0 && !self.shards[index].current {
            self.caught_up(index, revision);
        }
        self.publish_status();
        Ok(())
    }

    /// A value of `key`; one that does not read counts as absent (a device's facts cleared: decisions
    /// fail closed; an outcome withdrawn: the lists decide), and is counted.
    fn read<T: serde::de::DeserializeOwned>(&mut self, key: &str, revision: u64, payload: &[u8]) -> Option<T> {
        match serde_json::from_slice(payload) {
            Ok(value) => Some(value),
            Err(e) => {
                self.status.bad_values += 1;
                let error = FeedError::Value { key: key.to_owned(), revision, reason: e.to_string() };
                self.status.last_error = Some(error.to_string());
                None
            }
        }
    }

    /// Applies the registration outcome under `key` (`None`: withdrawn) between `device` and `server`.
    fn apply_agreement(
        &mut self,
        index: usize,
        key: &str,
        device: &str,
        server: &str,
        revision: u64,
        value: Option<AgreementValue>,
    ) -> Result<(), FeedError> {
        let fqdn: pathsec::Fqdn = server.parse().map_err(|e| FeedError::Value {
            key: key.to_owned(),
            revision,
            reason: format!("`{server}`: {e}"),
        })?;
        let id = self.runtime.device_id(device)?;
        let server = self.runtime.server_id(&fqdn);
        let _ = self.runtime.apply_fed_agreement(id, server, value.as_ref().map(AgreementValue::agreement), revision);
        let slot = (id.get(), server.get());
        match value {
            Some(value) => {
                let (shard, mark) = (index as u32 + 1, self.shards[index].mark);
                self.agreements.insert(slot, Outcome { shard, mark, key: key.to_owned(), revision, value });
            }
            None => {
                self.agreements.remove(&slot);
            }
        }
        self.status.applied += 1;
        self.status.revision = self.status.revision.max(revision);
        self.dirty = true;
        Ok(())
    }

    /// Shard `index` has delivered all it had; a snapshot ends here: keys held that it did not carry
    /// were deleted while this node was away.
    fn caught_up(&mut self, index: usize, revision: u64) {
        if let Some(last) = self.shards[index].snapshot.take() {
            let end = last.max(revision);
            let (shard, mark) = (index as u32 + 1, self.shards[index].mark);
            for (device, held) in self.held.iter_mut().enumerate() {
                if held.shard == shard && held.mark != mark {
                    *held = Held::default();
                    self.runtime.apply_fed(DeviceId::from_raw(device as u32), FedFacts::default(), end).ok();
                    self.status.applied += 1;
                    self.status.devices -= 1;
                }
            }
            let gone: Vec<(u32, u32)> = self
                .agreements
                .iter()
                .filter(|(_, outcome)| outcome.shard == shard && outcome.mark != mark)
                .map(|(slot, _)| *slot)
                .collect();
            for (device, server) in gone {
                self.agreements.remove(&(device, server));
                let (device, server) = (DeviceId::from_raw(device), pathsec::ServerId::from_raw(server));
                self.runtime.apply_fed_agreement(device, server, None, end).ok();
                self.status.applied += 1;
            }
            self.status.revision = self.status.revision.max(end);
            let shard = &mut self.shards[index];
            shard.position = Some(shard.position.map_or(end, |position| position.max(end)));
        }
        self.shards[index].current = true;
        if self.shards.iter().all(|shard| shard.current) {
            self.status.current = true;
            if self.status.stale {
                self.status.stale = false;
                self.runtime.mark_fed_stale(false);
            }
        }
        self.publish_status();
    }

    /// Applies `key`'s value (`None`: deleted) at `revision`, from shard `index`, to the runtime and
    /// the devices held.
    fn apply(&mut self, index: usize, key: &str, revision: u64, value: Option<DeviceValue>) -> Result<(), FeedError> {
        let Some((_, device)) = key.split_once('.') else { return Ok(()) };
        let id = self.runtime.device_id(device)?;
        let facts = value.as_ref().map_or(FedFacts::default(), DeviceValue::facts);
        // An unknown handle cannot happen: the runtime just issued it.
        let _ = self.runtime.apply_fed(id, facts, revision);
        let slot = id.get() as usize;
        if self.held.len() <= slot {
            self.held.resize(slot + 1, Held::default());
        }
        let was_held = self.held[slot].shard != 0;
        self.held[slot] = match value {
            Some(_) => Held { shard: index as u32 + 1, mark: self.shards[index].mark },
            None => Held::default(),
        };
        match (was_held, value.is_some()) {
            (false, true) => self.status.devices += 1,
            (true, false) => self.status.devices -= 1,
            _ => {}
        }
        self.status.applied += 1;
        self.status.revision = self.status.revision.max(revision);
        self.dirty = true;
        Ok(())
    }

    /// The feed is reachable now.
    fn touch(&mut self) {
        self.last_contact = Instant::now();
        self.contact.store(unix_millis(SystemTime::now()), Ordering::Relaxed);
    }

    /// Marks fed facts stale once the feed has been out of reach longer than the bound.
    fn check_staleness(&mut self, client: Option<&Client>) {
        let connected =
            client.is_some_and(|client| client.connection_state() == async_nats::connection::State::Connected);
        if connected && self.status.connected {
            self.touch();
            return;
        }
        if !self.status.stale && self.last_contact.elapsed() > self.settings.max_staleness {
            self.status.stale = true;
            if self.settings.on_stale == OnStale::FailClosed {
                self.runtime.mark_fed_stale(true);
            }
            self.publish_status();
        }
    }

    /// Writes the local snapshot when due (or `now`), if anything changed and no shard is mid-snapshot.
    fn maybe_save(&mut self, now: bool) {
        let Some(path) = self.settings.snapshot.clone() else { return };
        let due = now || self.last_saved.elapsed() >= self.settings.snapshot_every;
        if !due || !self.dirty || self.shards.iter().any(|shard| shard.snapshot.is_some()) {
            return;
        }
        let positions = self
            .settings
            .shards
            .iter()
            .zip(&self.shards)
            .filter_map(|(name, shard)| Some((name.clone(), shard.position?)))
            .collect();
        // The facts are read back from the runtime: the follower keeps no copy.
        let runtime = &self.runtime;
        let shards = &self.settings.shards;
        let entries = self.held.iter().enumerate().filter(|(_, held)| held.shard != 0).filter_map(|(device, held)| {
            let id = DeviceId::from_raw(device as u32);
            let (facts, revision) = runtime.fed_facts(id)?;
            let key = format!("{}.{}", shards[held.shard as usize - 1], runtime.device_name(id)?);
            Some((key, revision, DeviceValue::from_facts(&facts)?))
        });
        let agreements =
            self.agreements.values().map(|outcome| (outcome.key.clone(), outcome.revision, outcome.value.clone()));
        let saved = LocalSnapshot::write(&path, &self.settings.bucket, unix_now(), &positions, entries, agreements);
        match saved {
            Ok(()) => {
                self.dirty = false;
                self.last_saved = Instant::now();
            }
            Err(error) => self.status.last_error = Some(error.to_string()),
        }
    }

    fn publish_status(&self) {
        if let Some(tx) = &self.status_tx {
            tx.send_replace(self.status.clone());
        }
    }
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
