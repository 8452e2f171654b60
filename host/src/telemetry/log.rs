//! The decision log: an optional JSON-lines audit trail of every decision a runtime's workers make,
//! written by its own thread so deciding never waits for it.
//!
//! A worker hands each decision (or each batch's decisions) to a bounded queue without blocking. When
//! the queue is full the entries are **dropped and counted**, and the log itself says so with a line
//! `{"dropped": n, …}` where the gap is; entries the sink refuses (a full disk) are counted as failed,
//! with the error. So every decision is either in the log or in a count: see [`LogStats`].

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, Weak};
use std::thread;
use std::time::SystemTime;

use crate::facts::{FactSet, ListsDigest};
use crate::rollout::Active;
use crate::store::clock::{Clock, SystemClock};
use crate::store::flow::{Flow, Stamp};
use crate::sync::Locked;
use crate::telemetry::line::{DroppedLine, FactsLine, Line, PolicyLine, RequestLine, ShadowLine, TriggerLine};
use crate::vocab::{Decision, Event, MadeBy, Request};
use crate::wasm::policy::Policy;

/// Queued messages by default: one per `decide`, one per batch.
const DEFAULT_CAPACITY: usize = 4096;
/// The version of the lines' format, in each line's `v`: 2 added `v`, `id` and `decided`; 3 added
/// `request`, `facts.lists_sha256`, `policy.made_by` and `shadow` (what `pathsec replay` needs); 4 leaves
/// `request.ciphering` and `request.integrity` out while the asking node did not know the device's link
/// state (3 wrote both off).
pub const LOG_FORMAT_VERSION: u32 = 4;
/// Lines gathered before one write to the sink.
const WRITE_CHUNK: usize = 64 << 10;

/// Where a runtime's decisions are logged; give it to
/// [`RuntimeBuilder::decision_log`](crate::runtime::RuntimeBuilder::decision_log).
///
/// Each line is one decision:
///
/// ```json
/// {"v":4,"id":"5f0c8e2a91d3b7c4-17","decided":"2026-11-24T09:12:03.123401Z","logged":"2026-11-24T09:12:03.123456Z",
///  "device":"meter","device_id":0,"server":"mtc.example.com","server_id":0,
///  "role":"server","event":"send-data",
///  "request":{"serving":"310410","home":"310410","access":"3gpp","ciphering":true,"integrity":true,"registration":"none"},
///  "facts":{"lists":4,"lists_sha256":"sha256:4be1…","device":7},
///  "policy":{"name":"reference","sha256":"9f2c…","generation":3,"made_by":"active"},
///  "action":"send-plain","reason":"path-secure","cached":false}
/// ```
///
/// `v` is the format's version ([`LOG_FORMAT_VERSION`]); `id` names the entry uniquely (this log's
/// random instance, then a sequence number without gaps: a gap in a copy of the log is a lost entry);
/// `decided` is when the decision was made (one time per `decide` or per batch), `logged` when the line
/// was written, at most the queue's latency later.
///
/// `request` is what the decision was made on — the device's attach and link facts, or those of the
/// registration outcome it followed — absent when they were unknown (the engine failed closed before
/// any policy). `facts` names the list generation, the lists' content digest (`sha256:…`, the
/// [`ListsDigest`] of `pathsec lists digest`) and the device-facts generation the decision was made on
/// (and, for facts written by a fact feed, `revision`: the feed revision they were fed at); `policy`
/// the policy that made it by name, SHA-256, swap generation and role (`active`, or a canary's
/// `candidate`); `cached` says the flow cache answered; `trigger` (for a received trigger) carries its
/// check results, and `fault` the policy fault. With a shadow running, `shadow` carries the shadow's
/// answer where it differed (or failed): its name, SHA-256, action, reason and fault. So a log can be
/// replayed against another policy (`pathsec replay`).
pub struct DecisionLog {
    sender: LogSender,
    description: String,
}

/// Counts of a decision log. Every decision handed to it is `written`, `dropped` or `failed` — or still
/// queued, until [`Runtime::flush_log`](crate::Runtime::flush_log) returns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogStats {
    /// Decisions written to the sink.
    pub written: u64,
    /// Decisions not logged because the queue was full (or the log's thread had stopped). The log
    /// has a `{"dropped": n}` line where they are missing.
    pub dropped: u64,
    /// Decisions the sink refused to take (an I/O error).
    pub failed: u64,
    /// The sink's last error, if it refused anything.
    pub last_error: Option<String>,
}

/// A decision log that cannot start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogError {
    /// The log file cannot be opened for appending.
    #[error("cannot open the decision log `{}` for appending: check the directory exists and is writable", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The writer thread cannot be started.
    #[error("cannot start the decision log's writer thread")]
    Thread(#[source] std::io::Error),
}

impl DecisionLog {
    /// Appends JSON lines to the file at `path`, creating it if needed.
    pub fn to_file(path: impl AsRef<Path>) -> Result<DecisionLog, LogError> {
        DecisionLog::to_file_with_capacity(path, DEFAULT_CAPACITY)
    }

    /// As [`DecisionLog::to_file`], queueing at most `capacity` messages (one per `decide`, one per
    /// batch) before dropping.
    pub fn to_file_with_capacity(path: impl AsRef<Path>, capacity: usize) -> Result<DecisionLog, LogError> {
        let path = path.as_ref();
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|source| LogError::Open { path: path.to_owned(), source })?;
        DecisionLog::start(Box::new(file), capacity, format!("`{}`", path.display()))
    }

    /// Writes JSON lines to `sink`, queueing at most `capacity` messages (one per `decide`, one per
    /// batch; at least 1) before dropping.
    pub fn to_writer(sink: impl Write + Send + 'static, capacity: usize) -> Result<DecisionLog, LogError> {
        DecisionLog::start(Box::new(sink), capacity, "a writer".to_owned())
    }

    fn start(sink: Box<dyn Write + Send>, capacity: usize, description: String) -> Result<DecisionLog, LogError> {
        let (tx, rx) = mpsc::sync_channel(capacity.max(1));
        let shared = Arc::new(Shared::default());
        let writer = Writer::new(sink, Arc::clone(&shared));
        thread::Builder::new()
            .name("pathsec-log".to_owned())
            .spawn(move || writer.run(rx))
            .map_err(LogError::Thread)?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        Ok(DecisionLog { sender: LogSender { tx, shared, clock }, description })
    }

    /// Where it writes, for messages.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The runtime's end: `names` names its devices and servers to the log (policies are named as they
    /// are swapped in), and `clock` tells the time each line is written.
    pub(crate) fn attach(self, names: Weak<dyn Names>, clock: Arc<dyn Clock>) -> LogSender {
        let mut sender = self.sender;
        sender.clock = Arc::clone(&clock);
        // The queue is empty: nothing has been sent yet, so this cannot be refused for room.
        let _ = sender.tx.try_send(Message::Attach(names, clock));
        sender
    }
}

/// Where the log finds the names behind a record's handles: the runtime, which it must not keep alive
/// (it holds a weak reference and logs handles alone once the runtime is gone).
pub(crate) trait Names: Send + Sync {
    /// The embedder's name for a device handle.
    fn device_name(&self, device: u32) -> Option<Arc<str>>;
    /// The current lists, which name the servers.
    fn lists(&self) -> Arc<FactSet>;
}

/// What one decision's log entry is made from: cheap to build on the per-packet path.
pub(crate) struct Record {
    pub(crate) flow: Flow,
    /// What the decision was made on.
    pub(crate) stamp: Stamp,
    /// The fact-feed revision the device's facts were fed at; 0 when not fed.
    pub(crate) revision: u64,
    pub(crate) cached: bool,
    pub(crate) decision: Decision,
    /// The request the decision was made on; none when the facts were unknown.
    pub(crate) request: LoggedRequest,
    /// The digest of the lists it was made on, when known.
    pub(crate) lists: Option<ListsDigest>,
    /// The shadow's answer, when it differed or failed.
    pub(crate) shadow: Option<Decision>,
}

/// The request a decision was made on, as a record keeps it until its line is written.
#[derive(Clone, Copy)]
pub(crate) enum LoggedRequest {
    /// Not known: the facts were unknown, or moved on before they could be read back.
    None,
    Request(Request),
    /// The words a batch packed for the policy, decoded by the log's thread (off the decision path).
    Packed([u64; 2]),
}

impl LoggedRequest {
    fn request(self) -> Option<Request> {
        match self {
            LoggedRequest::None => None,
            LoggedRequest::Request(request) => Some(request),
            LoggedRequest::Packed(words) => crate::wasm::packed::request(words),
        }
    }
}

impl From<Option<Request>> for LoggedRequest {
    fn from(request: Option<Request>) -> LoggedRequest {
        request.map_or(LoggedRequest::None, LoggedRequest::Request)
    }
}

enum Message {
    /// A decision, and when it was made.
    One(Record, SystemTime),
    /// A batch's decisions as the worker had them, made into records by the log's thread (so the
    /// decision path only copies), and when they were made.
    Later(Box<dyn FnOnce() -> Vec<Record> + Send>, SystemTime),
    Attach(Weak<dyn Names>, Arc<dyn Clock>),
    Flush(SyncSender<()>),
}

/// A worker's (or the runtime's) way into the log.
#[derive(Clone)]
pub(crate) struct LogSender {
    tx: SyncSender<Message>,
    shared: Arc<Shared>,
    /// The runtime's clock, which dates decisions.
    clock: Arc<dyn Clock>,
}

#[derive(Default)]
struct Shared {
    written: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
    last_error: Mutex<Option<String>>,
    /// What the runtime has run, by generation.
    policies: Mutex<HashMap<u64, Arc<RolloutId>>>,
}

struct PolicyId {
    name: String,
    sha256: String,
}

/// The policies of one generation: the active one, a canary's candidate, a shadow.
struct RolloutId {
    by: [Option<PolicyId>; MadeBy::COUNT],
    shadow: Option<PolicyId>,
}

impl LogSender {
    /// Logs one decision, or counts it dropped: never waits.
    pub(crate) fn one(&self, record: Record) {
        self.send(Message::One(record, self.clock.now()), 1);
    }

    /// Logs `n` decisions whose records `build` makes on the log's thread, or counts them dropped:
    /// never waits.
    pub(crate) fn later(&self, n: usize, build: impl FnOnce() -> Vec<Record> + Send + 'static) {
        if n > 0 {
            self.send(Message::Later(Box::new(build), self.clock.now()), n as u64);
        }
    }

    fn send(&self, message: Message, n: u64) {
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) = self.tx.try_send(message) {
            self.shared.dropped.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Names the policies that run as `generation`, for the entries decided on it.
    pub(crate) fn rollout(&self, generation: u64, active: &Active) {
        let id = |policy: &Policy| PolicyId { name: policy.name().to_owned(), sha256: policy.digest().to_owned() };
        let by = [Some(id(&active.policy)), active.canary.as_ref().map(|canary| id(&canary.policy))];
        let rollout = RolloutId { by, shadow: active.shadow.as_ref().map(|shadow| id(&shadow.policy)) };
        self.shared.policies.locked().insert(generation, Arc::new(rollout));
    }

    /// Waits until everything queued before this call is written and the sink flushed; the counts.
    pub(crate) fn flush(&self) -> LogStats {
        let (ack, done) = mpsc::sync_channel(1);
        // The caller waits for room here, never a worker.
        if self.tx.send(Message::Flush(ack)).is_ok() {
            let _ = done.recv();
        }
        self.stats()
    }

    pub(crate) fn stats(&self) -> LogStats {
        let shared = &self.shared;
        LogStats {
            written: shared.written.load(Ordering::Relaxed),
            dropped: shared.dropped.load(Ordering::Relaxed),
            failed: shared.failed.load(Ordering::Relaxed),
            last_error: shared.last_error.locked().clone(),
        }
    }
}

/// The log's thread: turns records into lines and writes them in chunks.
struct Writer {
    sink: Box<dyn Write + Send>,
    shared: Arc<Shared>,
    names: Option<Weak<dyn Names>>,
    clock: Arc<dyn Clock>,
    /// Lines not yet written, and how many decisions they hold.
    buffer: Vec<u8>,
    pending: u64,
    /// Drops already reported in the log.
    reported_drops: u64,
    /// This log's instance, the first part of every entry's id.
    instance: String,
    /// The next entry's sequence number.
    sequence: u64,
    devices: Vec<Option<Arc<str>>>,
    policy: Option<(u64, Arc<RolloutId>)>,
}

impl Writer {
    fn new(sink: Box<dyn Write + Send>, shared: Arc<Shared>) -> Writer {
        Writer {
            sink,
            shared,
            names: None,
            clock: Arc::new(SystemClock),
            buffer: Vec::with_capacity(WRITE_CHUNK + 4096),
            pending: 0,
            reported_drops: 0,
            instance: instance(),
            sequence: 0,
            devices: Vec::new(),
            policy: None,
        }
    }

    fn run(mut self, rx: Receiver<Message>) {
        // Ends when every sender is gone: the runtime and all its workers.
        while let Ok(message) = rx.recv() {
            self.take(message);
            while self.buffer.len() < WRITE_CHUNK {
                match rx.try_recv() {
                    Ok(message) => self.take(message),
                    Err(_) => break,
                }
            }
            self.report_drops();
            self.write_out();
        }
        self.report_drops();
        self.write_out();
    }

    fn take(&mut self, message: Message) {
        match message {
            Message::One(record, decided) => self.lines(std::slice::from_ref(&record), decided),
            Message::Later(build, decided) => self.lines(&build(), decided),
            Message::Attach(names, clock) => {
                self.names = Some(names);
                self.clock = clock;
            }
            Message::Flush(ack) => {
                self.report_drops();
                self.write_out();
                let _ = ack.send(());
            }
        }
    }

    /// The lines of one message's records: one time, one look at the runtime's names.
    fn lines(&mut self, records: &[Record], decided: SystemTime) {
        let logged = self.timestamp();
        let decided = rfc3339(decided);
        let names = self.names.as_ref().and_then(Weak::upgrade);
        let lists = names.as_ref().map(|names| names.lists());
        let mut id = String::new();
        for record in records {
            id.clear();
            use std::fmt::Write as _;
            let _ = write!(id, "{}-{}", self.instance, self.sequence);
            self.sequence += 1;
            let time = Times { id: &id, decided: &decided, logged: &logged };
            self.line(time, names.as_deref(), lists.as_deref(), record);
        }
    }

    fn line(&mut self, time: Times<'_>, names: Option<&dyn Names>, lists: Option<&FactSet>, record: &Record) {
        let device_id = record.flow.device.get();
        let device = names.and_then(|names| self.device_name(names, device_id));
        let server = lists.and_then(|lists| lists.server(record.flow.server)).map(|fqdn| fqdn.as_str());
        let rollout = self.policy_id(record.stamp.policy);
        let made_by = record.decision.made_by;
        let policy = rollout.as_ref().and_then(|rollout| rollout.by[made_by.index()].as_ref());
        let shadow = record.shadow.as_ref().map(|answer| {
            let id = rollout.as_ref().and_then(|rollout| rollout.shadow.as_ref());
            ShadowLine {
                name: id.map(|id| id.name.as_str().into()),
                sha256: id.map(|id| id.sha256.as_str().into()),
                action: answer.action,
                reason: answer.reason,
                fault: answer.fault.as_ref().map(ToString::to_string),
            }
        });
        let trigger = match record.flow.event {
            Event::ReceiveTrigger(check) => {
                Some(TriggerLine { access_integrity: check.access_integrity, end_to_end: check.end_to_end })
            }
            _ => None,
        };
        let line = Line {
            v: LOG_FORMAT_VERSION,
            id: time.id.into(),
            decided: time.decided.into(),
            logged: time.logged.into(),
            device: device.as_deref().map(Into::into),
            device_id,
            server: server.map(Into::into),
            server_id: record.flow.server.get(),
            role: record.flow.role,
            event: record.flow.event.kind(),
            trigger,
            request: record.request.request().as_ref().map(RequestLine::of),
            facts: FactsLine {
                lists: record.stamp.lists,
                lists_sha256: record.lists,
                device: record.stamp.device,
                revision: record.revision,
            },
            policy: PolicyLine {
                name: policy.map(|id| id.name.as_str().into()),
                sha256: policy.map(|id| id.sha256.as_str().into()),
                generation: record.stamp.policy,
                made_by,
            },
            action: record.decision.action,
            reason: record.decision.reason,
            cached: record.cached,
            fault: record.decision.fault.as_ref().map(ToString::to_string),
            shadow,
        };
        // Serialising plain fields into a Vec cannot fail.
        if serde_json::to_writer(&mut self.buffer, &line).is_ok() {
            self.buffer.push(b'\n');
        }
        self.pending += 1;
    }

    fn device_name(&mut self, names: &dyn Names, device: u32) -> Option<Arc<str>> {
        let index = device as usize;
        if let Some(Some(name)) = self.devices.get(index) {
            return Some(Arc::clone(name));
        }
        let name = names.device_name(device)?;
        if self.devices.len() <= index {
            self.devices.resize(index + 1, None);
        }
        self.devices[index] = Some(Arc::clone(&name));
        Some(name)
    }

    fn policy_id(&mut self, generation: u64) -> Option<Arc<RolloutId>> {
        if let Some((known, id)) = &self.policy
            && *known == generation
        {
            return Some(Arc::clone(id));
        }
        let id = self.shared.policies.locked().get(&generation).cloned()?;
        self.policy = Some((generation, Arc::clone(&id)));
        Some(id)
    }

    /// Writes a line for the decisions dropped since the last such line.
    /// Now, by the runtime's clock, as RFC 3339 UTC with microseconds.
    fn timestamp(&self) -> String {
        rfc3339(self.clock.now())
    }

    fn report_drops(&mut self) {
        let dropped = self.shared.dropped.load(Ordering::Relaxed);
        if dropped == self.reported_drops {
            return;
        }
        let line = DroppedLine {
            v: LOG_FORMAT_VERSION,
            logged: self.timestamp().into(),
            dropped: dropped - self.reported_drops,
            dropped_total: dropped,
            why: "the decision log's queue was full: these decisions were made but not logged here".into(),
        };
        if serde_json::to_writer(&mut self.buffer, &line).is_ok() {
            self.buffer.push(b'\n');
        }
        self.reported_drops = dropped;
    }

    /// Writes the gathered lines and flushes the sink; counts their decisions written or failed.
    fn write_out(&mut self) {
        if self.buffer.is_empty() {
            return;
        }
        let result = self.sink.write_all(&self.buffer).and_then(|()| self.sink.flush());
        let shared = &self.shared;
        match result {
            Ok(()) => shared.written.fetch_add(self.pending, Ordering::Relaxed),
            Err(error) => {
                *shared.last_error.locked() = Some(error.to_string());
                shared.failed.fetch_add(self.pending, Ordering::Relaxed)
            }
        };
        self.buffer.clear();
        self.pending = 0;
    }
}

/// `time` as RFC 3339 UTC with microseconds.
fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_micros(time).to_string()
}

/// A random name for this log's entries' ids: 16 hex digits, so ids from two runs never collide.
fn instance() -> String {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        // No entropy source: the start time and process id still tell runs apart.
        let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        bytes = (nanos ^ (u64::from(std::process::id()) << 32)).to_be_bytes();
    }
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// One entry's id and times.
#[derive(Clone, Copy)]
struct Times<'a> {
    id: &'a str,
    decided: &'a str,
    logged: &'a str,
}
