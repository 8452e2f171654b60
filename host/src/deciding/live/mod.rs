//! `Runtime`: the live engine of a running server — the active policy, the live facts, and workers
//! that decide per packet with a flow cache. Facts change and policies are swapped while it decides.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;

use crate::deciding::instances::{Mailbox, Preparer};
use crate::deciding::session::Sessions;
use crate::facts::FactSet;
use crate::rollout::Active;
use crate::store::clock::{Clock, SystemClock};
use crate::store::device::{DeviceId, DeviceSlot};
use crate::store::fact_store::FactStore;
use crate::store::flow::Stamp;
use crate::store::registration::{DeviceConfig, RegistrationConfig, Registrations};
use crate::telemetry::log::{DecisionLog, LogSender, LogStats, Names};
use crate::telemetry::metrics::{Counters, Metrics, Registry};
use crate::vocab::PolicyFault;
use crate::wasm::plug::{RelatedDecision, States};
use crate::wasm::policy::Policy;
use crate::wasm::selfcheck;

mod facts;
mod rolling;
mod sessions;

/// The live engine: cheap to clone, shared by every thread. Each thread decides through its own
/// [`Worker`](crate::Worker).
///
/// ```
/// # #[cfg(feature = "bundled-policies")] {
/// use pathsec::{AccessKind, Action, Attach, Engine, Event, Flow, LinkState, Role, Runtime};
///
/// let engine = Engine::new()?;
/// let runtime = Runtime::new(engine.load_policy("reference", pathsec::bundled::REFERENCE)?)?;
/// let home = "310410".parse()?;
/// let server = runtime.server_id(&"mtc.example.com".parse()?);
/// runtime.update_lists(|lists| {
///     lists.trust_path_a(home).trust_path_b(home, server);
/// });
/// let device = runtime.device_id("imsi-310410000000001")?;
/// runtime.set_attach(device, Attach { serving: Some(home), home, access: AccessKind::ThreeGpp })?;
/// runtime.set_link(device, LinkState { ciphering: true, integrity: true })?;
///
/// let mut worker = runtime.worker();
/// let flow = Flow { device, server, role: Role::Server, event: Event::SendData };
/// assert_eq!(worker.decide(&flow).action, Action::SendPlain);
/// runtime.set_link(device, LinkState { ciphering: false, integrity: false })?; // neither: path A is open
/// assert_eq!(worker.decide(&flow).action, Action::SecureThenSend);
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<RuntimeInner>,
}

struct RuntimeInner {
    store: FactStore,
    active: ArcSwap<Active>,
    policy_generation: AtomicU64,
    flow_cache_capacity: usize,
    swaps: AtomicU64,
    metrics: Registry,
    log: Option<LogSender>,
    clock: Arc<dyn Clock>,
    /// The host-held state of the related decisions, shared by every worker.
    related: States,
    /// The registration exchange's bookkeeping and settings.
    registrations: Registrations,
    registration_config: RegistrationConfig,
    device_config: DeviceConfig,
    /// Data sessions.
    sessions: Sessions,
    /// Workers' mailboxes: every change to the lists or policies prepares their instances first.
    preparer: Preparer,
}

/// A runtime that does not keep it alive: what the decision log's thread reads facts back from.
#[derive(Clone)]
pub(crate) struct WeakRuntime(Weak<RuntimeInner>);

impl WeakRuntime {
    /// The runtime, while it is alive.
    pub(crate) fn upgrade(&self) -> Option<Runtime> {
        self.0.upgrade().map(|inner| Runtime { inner })
    }
}

/// The log names devices and servers from the runtime's live facts.
impl Names for RuntimeInner {
    fn device_name(&self, device: u32) -> Option<Arc<str>> {
        self.store.device_name(device)
    }

    fn lists(&self) -> Arc<FactSet> {
        self.store.lists()
    }
}

/// Settings for a [`Runtime`]; see [`Runtime::builder`].
pub struct RuntimeBuilder {
    policy: Policy,
    lists: Option<FactSet>,
    flow_cache_capacity: usize,
    log: Option<DecisionLog>,
    clock: Arc<dyn Clock>,
    registration: RegistrationConfig,
    device: DeviceConfig,
    sessions: (usize, Duration),
    /// The related decisions' host-held state, where the embedder set it (the rest is made on use).
    related: States,
}

impl RuntimeBuilder {
    /// Sets the host-held state of `D`'s decisions (the related decisions' settings, from their own
    /// modules).
    pub(crate) fn related_state<D: RelatedDecision>(self, state: D::State) -> RuntimeBuilder {
        self.related.set::<D>(state);
        self
    }

    /// The data-session table: at most `capacity` live sessions, each ending after `idle` unused
    /// (default 65,536 sessions, one hour).
    pub fn sessions(mut self, capacity: usize, idle: Duration) -> RuntimeBuilder {
        self.sessions = (capacity, idle);
        self
    }

    /// The server side's registration settings: the registration timer, the application-layer security
    /// it supports, the allowed roaming (default: 24 hours, none, unrestricted).
    pub fn registration(mut self, config: RegistrationConfig) -> RuntimeBuilder {
        self.registration = config;
        self
    }

    /// The device side's settings: which servers' "no application-layer security" it accepts while its
    /// access-layer ciphering is off (default: none).
    pub fn device_config(mut self, config: DeviceConfig) -> RuntimeBuilder {
        self.device = config;
        self
    }

    /// Both sides' registration settings from a settings file ([`SettingsFile`](crate::runtime::SettingsFile)).
    pub fn settings(self, settings: &crate::store::settings::SettingsFile) -> RuntimeBuilder {
        self.registration(settings.registration_config()).device_config(settings.device_config())
    }

    /// The lists to start with (default: empty, so nothing is trusted).
    pub fn lists(mut self, lists: FactSet) -> RuntimeBuilder {
        self.lists = Some(lists);
        self
    }

    /// Most flows each worker caches (default 65,536; 0 turns the cache off). A full cache starts over.
    pub fn flow_cache_capacity(mut self, flows: usize) -> RuntimeBuilder {
        self.flow_cache_capacity = flows;
        self
    }

    /// Logs every decision to `log` (default: no log). Workers never wait for it: see [`DecisionLog`].
    pub fn decision_log(mut self, log: DecisionLog) -> RuntimeBuilder {
        self.log = Some(log);
        self
    }

    /// The clock the runtime takes its time from (default: the system's). A test gives a
    /// [`ManualClock`](crate::runtime::ManualClock) and moves it instead of sleeping.
    pub fn clock(mut self, clock: impl Clock + 'static) -> RuntimeBuilder {
        self.clock = Arc::new(clock);
        self
    }

    /// Self-checks the policy against the lists, then starts the runtime.
    pub fn build(self) -> Result<Runtime, SwapError> {
        let lists = self.lists.unwrap_or_else(|| FactSet::builder().build());
        selfcheck::run(&self.policy, &lists)
            .map_err(|fault| SwapError::SelfCheck { policy: self.policy.name().to_owned(), fault })?;
        let store = FactStore::new(lists);
        let generation = store.next_generation();
        let inner = Arc::new_cyclic(|runtime: &Weak<RuntimeInner>| {
            let names: Weak<dyn Names> = runtime.clone();
            let log = self.log.map(|log| log.attach(names, Arc::clone(&self.clock)));
            let active = Active { policy: self.policy, generation, canary: None, shadow: None };
            if let Some(log) = &log {
                log.rollout(generation, &active);
            }
            RuntimeInner {
                store,
                active: ArcSwap::from_pointee(active),
                policy_generation: AtomicU64::new(generation),
                flow_cache_capacity: self.flow_cache_capacity,
                swaps: AtomicU64::new(0),
                metrics: Registry::default(),
                log,
                clock: self.clock,
                related: self.related,
                registrations: Registrations::default(),
                registration_config: self.registration,
                device_config: self.device,
                sessions: Sessions::new(self.sessions.0, self.sessions.1),
                preparer: Preparer::default(),
            }
        });
        Ok(Runtime { inner })
    }
}

impl Runtime {
    /// A runtime running `policy`, with empty lists and default settings.
    pub fn new(policy: Policy) -> Result<Runtime, SwapError> {
        Runtime::builder(policy).build()
    }

    /// Settings for a runtime that starts with `policy`.
    pub fn builder(policy: Policy) -> RuntimeBuilder {
        RuntimeBuilder {
            policy,
            lists: None,
            flow_cache_capacity: 1 << 16,
            log: None,
            clock: Arc::new(SystemClock),
            registration: RegistrationConfig::default(),
            device: DeviceConfig::default(),
            sessions: (1 << 16, Duration::from_secs(3600)),
            related: States::default(),
        }
    }

    /// This runtime, without keeping it alive.
    pub(crate) fn downgrade(&self) -> WeakRuntime {
        WeakRuntime(Arc::downgrade(&self.inner))
    }

    /// Now, by the runtime's clock.
    pub fn now(&self) -> SystemTime {
        self.inner.clock.now()
    }

    /// The active policy.
    pub fn policy(&self) -> Policy {
        self.inner.active.load().policy.clone()
    }

    /// What this runtime has done: decisions, cache hits, faults by kind, swaps, and its decision
    /// log's counts. Cheap enough to poll, not to call per packet.
    pub fn metrics(&self) -> Metrics {
        let mut metrics = self.inner.metrics.metrics();
        metrics.swaps = self.swaps();
        metrics.log = self.inner.log.as_ref().map(LogSender::stats);
        metrics
    }

    /// Waits until every decision handed to the decision log before this call is written (or counted
    /// as dropped or failed) and the sink is flushed; its counts. `None` without a log. Call it before
    /// the process exits: the log's thread otherwise finishes on its own once the runtime and all its
    /// workers are gone.
    pub fn flush_log(&self) -> Option<LogStats> {
        self.inner.log.as_ref().map(LogSender::flush)
    }
}

/// What a worker reads of its runtime.
impl Runtime {
    /// The store's epoch: it changes after every published change.
    #[inline(always)]
    pub(crate) fn epoch(&self) -> u64 {
        self.inner.store.epoch()
    }

    /// The generations a decision on `device` would be made on now; `None` for a device handle this
    /// runtime did not issue.
    #[inline(always)]
    pub(crate) fn stamp_now(&self, device: DeviceId) -> Option<Stamp> {
        let inner = &self.inner;
        let device = inner.store.slot(device)?.generation();
        Some(Stamp {
            lists: inner.store.lists_generation(),
            device,
            policy: inner.policy_generation.load(Ordering::Acquire),
        })
    }

    /// The device's slot in the live facts.
    #[inline(always)]
    pub(crate) fn slot(&self, device: DeviceId) -> Option<&DeviceSlot> {
        self.inner.store.slot(device)
    }

    /// The active policy's generation.
    #[inline(always)]
    pub(crate) fn policy_generation(&self) -> u64 {
        self.inner.policy_generation.load(Ordering::Acquire)
    }

    /// The active policy, with its generation.
    pub(crate) fn active(&self) -> Arc<Active> {
        self.inner.active.load_full()
    }

    /// The current list generation.
    #[inline(always)]
    pub(crate) fn lists_generation(&self) -> u64 {
        self.inner.store.lists_generation()
    }

    pub(crate) fn flow_cache_capacity(&self) -> usize {
        self.inner.flow_cache_capacity
    }

    /// A new worker's mailbox, where changes leave it instances made for them.
    pub(crate) fn mailbox(&self) -> Arc<Mailbox> {
        self.inner.preparer.mailbox()
    }

    /// A worker found nothing prepared for a change (see [`Metrics::loads_while_deciding`]).
    pub(crate) fn loaded_while_deciding(&self) {
        self.inner.metrics.loaded_while_deciding();
    }

    /// Counters for a new worker.
    pub(crate) fn register_counters(&self) -> Arc<Counters> {
        self.inner.metrics.register()
    }

    /// A worker's decisions from now on are made by `active`'s policies.
    pub(crate) fn serve_policies(&self, counters: &Counters, active: &Active) {
        let name = |policy: &Policy| Arc::<str>::from(policy.name());
        let policies = [Some(name(&active.policy)), active.canary.as_ref().map(|canary| name(&canary.policy))];
        self.inner.metrics.serve(counters, policies, active.shadow.as_ref().map(|shadow| name(&shadow.policy)));
    }

    /// Keeps a departing worker's counts.
    pub(crate) fn retire_counters(&self, counters: &Arc<Counters>) {
        self.inner.metrics.retire(counters);
    }

    /// The decision log's sender, when the runtime has a log.
    pub(crate) fn log_sender(&self) -> Option<LogSender> {
        self.inner.log.clone()
    }

    /// The host-held state of `D`'s decisions.
    pub(crate) fn related_state<D: RelatedDecision>(&self) -> Arc<D::State> {
        self.inner.related.of::<D>()
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("policy", &self.inner.active.load().policy.name())
            .field("epoch", &self.inner.store.epoch())
            .finish_non_exhaustive()
    }
}

/// A policy that cannot become the active one. The active policy stays.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum SwapError {
    /// The policy failed its self-check.
    #[error("policy `{policy}` failed its self-check: {fault}: the active policy stays")]
    SelfCheck {
        /// The refused policy's name.
        policy: String,
        /// What it did.
        fault: Arc<PolicyFault>,
    },
}
