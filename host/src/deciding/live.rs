//! `Runtime`: the live engine of a running server — the active policy, the live facts, and workers
//! that decide per packet with a flow cache. Facts change and policies are swapped while it decides.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;

use crate::deciding::instances::{Mailbox, Preparer};
use crate::deciding::session::{SessionError, SessionId, SessionStats, Sessions};
use crate::delivery::{AcceptedGenerations, BundleError, BundleKeys, BundleStore, ListBundle};
use crate::facts::{FactSet, FactSetBuilder};
use crate::rollout::{Active, Canary, Rollout, RolloutError, Selection, Shadow};
use crate::store::clock::{Clock, SystemClock};
use crate::store::device::{DeviceFacts, DeviceId, DeviceSlot};
use crate::store::fact_store::{FactStore, TooManyDevicesError, UnknownDeviceError};
use crate::store::flow::Stamp;
use crate::store::held::{ReRegistrationCause, RegistrationState};
use crate::store::registration::{self, DeviceConfig, ReRegistration, RegistrationConfig, Registrations};
use crate::telemetry::log::{DecisionLog, LogSender, LogStats, Names};
use crate::telemetry::metrics::{Counters, Metrics, Registry};
use crate::vocab::{Attach, Fqdn, LinkState, PolicyFault, ServerId};
use crate::wasm::plug::{RelatedDecision, States};
use crate::wasm::policy::Policy;
use crate::wasm::selfcheck;

/// The live engine: cheap to clone, shared by every thread. Each thread decides through its own
/// [`Worker`].
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

    /// How many swaps have completed.
    pub fn swaps(&self) -> u64 {
        self.inner.swaps.load(Ordering::Relaxed)
    }

    /// Makes `policy` the active policy for every device, once it passes its self-check (it loads a
    /// probe fact set and the current lists, and answers every event without a fault). On error the
    /// active policy stays. Decisions in flight finish on the old policy; every decision that starts
    /// after this returns uses the new one. A canary that ran ends (its candidate no longer enforces
    /// anywhere); a shadow keeps watching the new active policy.
    pub fn swap(&self, policy: Policy) -> Result<(), SwapError> {
        if let Err(fault) = selfcheck::run(&policy, &self.inner.store.lists()) {
            self.inner.metrics.swap_refused();
            return Err(SwapError::SelfCheck { policy: policy.name().to_owned(), fault });
        }
        let shadow = self.inner.active.load().shadow.clone();
        self.install(Active { policy, generation: 0, canary: None, shadow });
        Ok(())
    }

    /// Runs `rollout`: its active policy for every device its canary does not select, its candidate
    /// for those that it does, its shadow beside both. Each policy that is not already running passes
    /// its self-check first; on any error the rollout in force stays, whole. Every decision from now
    /// on is made by the rollout's policies (cached ones are remade), and says which made it
    /// ([`Decision::made_by`](crate::Decision::made_by); the decision log names the policy).
    pub fn set_rollout(&self, rollout: Rollout) -> Result<(), RolloutError> {
        let Rollout { active, canary, shadow } = rollout;
        if shadow.as_ref().is_some_and(|shadow| shadow.every == 0) {
            return Err(RolloutError::Every);
        }
        let running = self.inner.active.load_full();
        let lists = self.inner.store.lists();
        let is_running = |policy: &Policy| {
            [
                Some(&running.policy),
                running.canary.as_ref().map(|c| &c.policy),
                running.shadow.as_ref().map(|s| &s.policy),
            ]
            .into_iter()
            .flatten()
            .any(|old| old.same_as(policy))
        };
        let roles = [
            ("active", Some(&active)),
            ("candidate", canary.as_ref().map(|c| &c.policy)),
            ("shadow", shadow.as_ref().map(|s| &s.policy)),
        ];
        for (role, policy) in roles {
            let Some(policy) = policy.filter(|policy| !is_running(policy)) else { continue };
            if let Err(fault) = selfcheck::run(policy, &lists) {
                self.inner.metrics.swap_refused();
                return Err(RolloutError::SelfCheck { role, policy: policy.name().to_owned(), fault });
            }
        }
        if canary.is_some() {
            // A canary picks devices by their places: every device gets one before it runs.
            self.inner.store.place_all();
        }
        self.install(Active { policy: active, generation: 0, canary, shadow });
        Ok(())
    }

    /// What the runtime runs now.
    pub fn rollout(&self) -> Rollout {
        self.inner.active.load().rollout()
    }

    /// Starts a canary: `candidate` enforces for the devices `selection` picks (self-checked first; on
    /// error nothing changes). A canary already running is replaced; a shadow keeps running.
    pub fn start_canary(&self, candidate: Policy, selection: Selection) -> Result<(), RolloutError> {
        let Rollout { active, shadow, .. } = self.rollout();
        self.set_rollout(Rollout { active, canary: Some(Canary { policy: candidate, selection }), shadow })
    }

    /// Promotes the canary's candidate: it becomes the active policy for every device. Returns the
    /// policy it replaced.
    pub fn promote(&self) -> Result<Policy, RolloutError> {
        let Rollout { active, canary, shadow } = self.rollout();
        let canary = canary.ok_or(RolloutError::NoCanary)?;
        self.set_rollout(Rollout { active: canary.policy, canary: None, shadow })?;
        Ok(active)
    }

    /// Rolls the canary back: the active policy decides for every device again. Returns the candidate.
    pub fn roll_back(&self) -> Result<Policy, RolloutError> {
        let Rollout { active, canary, shadow } = self.rollout();
        let canary = canary.ok_or(RolloutError::NoCanary)?;
        self.set_rollout(Rollout { active, canary: None, shadow })?;
        Ok(canary.policy)
    }

    /// Starts a shadow: `policy` decides beside the active one (and a canary's candidate) on every
    /// `every`th cache miss of each worker, on the same request and facts, and is only compared: what
    /// it disagrees on is counted ([`Metrics::shadows`]) and logged with both decisions; its faults are
    /// counted apart and never touch the returned decision. Self-checked first. A shadow already
    /// running is replaced.
    pub fn start_shadow(&self, policy: Policy, every: u32) -> Result<(), RolloutError> {
        let Rollout { active, canary, .. } = self.rollout();
        self.set_rollout(Rollout { active, canary, shadow: Some(Shadow { policy, every }) })
    }

    /// Ends the shadow; returns it, if one ran.
    pub fn end_shadow(&self) -> Option<Policy> {
        let Rollout { active, canary, shadow } = self.rollout();
        let shadow = shadow?;
        self.install(Active { policy: active, generation: 0, canary, shadow: None });
        Some(shadow.policy)
    }

    /// The policy that decides for `device` now: the canary's candidate when it selects the device,
    /// else the active policy. `None` for a handle this runtime did not issue.
    pub fn enforcing(&self, device: DeviceId) -> Option<Policy> {
        let place = self.inner.store.slot(device)?.place();
        let active = self.inner.active.load();
        Some(match &active.canary {
            Some(canary) if canary.selection.selects_place(place) => canary.policy.clone(),
            _ => active.policy.clone(),
        })
    }

    /// Publishes `next` (its generation set here) as what the runtime runs, once every worker's
    /// instances of its policies are made and hold the current lists.
    fn install(&self, mut next: Active) {
        let store = &self.inner.store;
        let _lists = store.lists_lock();
        next.generation = store.next_generation();
        let next = Arc::new(next);
        let prepared = self.inner.preparer.prepare(&next, &store.lists());
        self.inner.metrics.instances_prepared(prepared);
        let _writer = store.write_lock();
        if let Some(log) = &self.inner.log {
            log.rollout(next.generation, &next);
        }
        let generation = next.generation;
        self.inner.active.store(next);
        self.inner.policy_generation.store(generation, Ordering::Release);
        store.advance();
        self.inner.swaps.fetch_add(1, Ordering::Relaxed);
    }

    /// The current lists.
    pub fn lists(&self) -> Arc<FactSet> {
        self.inner.store.lists()
    }

    /// Edits the lists: `edit` gets a builder holding the current lists and server handles; the result is
    /// published atomically as the next generation. Concurrent edits apply one after the other. An
    /// agreement is voided only when a List entry its decision used changed (a re-registration event,
    /// cause `lists-changed`); others stand.
    ///
    /// Before the new lists are published, every worker's instances are made for them and loaded off
    /// the decision path (on this thread): a worker that sees the change swaps them in and decides on
    /// at once. The call therefore takes about a list load per worker (milliseconds at a million
    /// entries), and every decision that starts after it returns is made on the new lists.
    pub fn update_lists(&self, edit: impl FnOnce(&mut FactSetBuilder)) -> Arc<FactSet> {
        self.change_lists(edit).0
    }

    /// [`Runtime::update_lists`], returning what `edit` returned.
    fn change_lists<R>(&self, edit: impl FnOnce(&mut FactSetBuilder) -> R) -> (Arc<FactSet>, R) {
        let store = &self.inner.store;
        let held = store.lists_lock();
        // Policies change under the same lock: what is prepared here is what runs.
        let active = self.active();
        let (lists, output) = store.update_lists(&held, edit, |lists| {
            let prepared = self.inner.preparer.prepare(&active, lists);
            self.inner.metrics.instances_prepared(prepared);
        });
        drop(held);
        self.lists_changed(&lists);
        (lists, output)
    }

    /// Replaces Lists 1-3 whole: `fill` gets a builder with empty lists (server handles kept).
    pub fn replace_lists(&self, fill: impl FnOnce(&mut FactSetBuilder)) -> Arc<FactSet> {
        self.update_lists(|builder| {
            builder.clear_lists();
            fill(builder)
        })
    }

    /// Takes list bundle `name` (`bytes`): checks it against `keys` and `accepted` at the runtime's
    /// clock ([`ListBundle::open`]), records its generation (on disk when `accepted` keeps a file), then
    /// replaces Lists 1-3 with its lists. On error nothing changes: the lists in force stay. Keep the
    /// bytes in a [`BundleStore`] afterwards, for [`Runtime::restore_bundle`] after a restart.
    pub fn accept_bundle(
        &self,
        name: &str,
        bytes: &[u8],
        keys: &BundleKeys,
        accepted: &mut AcceptedGenerations,
    ) -> Result<(ListBundle, Arc<FactSet>), BundleError> {
        let bundle = ListBundle::open(name, bytes, keys, self.unix_now(), accepted)?;
        // Recorded first: a bundle applied but not recorded would reopen rollback after a restart.
        accepted.record(&bundle)?;
        let lists = self.replace_lists(|builder| bundle.lists.edit(builder, true));
        Ok((bundle, lists))
    }

    /// At start: takes the last bundle `store` kept ([`ListBundle::reopen`]: its signature and validity
    /// checked again, its generation the one recorded), so a node that restarts offline decides on the
    /// lists it last verified. `Ok(None)` when none was kept; an error (an expired bundle, say) leaves
    /// the lists as they are — empty at start, so decisions fail closed until a fresh bundle comes.
    pub fn restore_bundle(
        &self,
        store: &BundleStore,
        keys: &BundleKeys,
        accepted: &AcceptedGenerations,
    ) -> Result<Option<ListBundle>, BundleError> {
        let Some((name, bytes)) = store.load()? else { return Ok(None) };
        let bundle = ListBundle::reopen(&name, &bytes, keys, self.unix_now(), accepted)?;
        self.replace_lists(|builder| bundle.lists.edit(builder, true));
        Ok(Some(bundle))
    }

    /// The handle of a server; a new server is added to the server names (a new list generation).
    pub fn server_id(&self, fqdn: &Fqdn) -> ServerId {
        if let Some(id) = self.inner.store.lists().server_id(fqdn) {
            return id;
        }
        self.change_lists(|builder| builder.server(fqdn.clone())).1
    }

    /// The handle of a device, by the embedder's name for it. A new device has no facts: decisions on
    /// it fail closed until its attach facts are set. A runtime holds up to 16,777,216 devices.
    pub fn device_id(&self, name: &str) -> Result<DeviceId, TooManyDevicesError> {
        self.inner.store.device_id(name)
    }

    /// The handle of a device already known by `name` (never adds one, unlike [`Runtime::device_id`]).
    pub fn find_device(&self, name: &str) -> Option<DeviceId> {
        self.inner.store.find_device(name)
    }

    /// How many devices this runtime knows.
    pub fn device_count(&self) -> usize {
        self.inner.store.device_count()
    }

    /// The device attached (or re-attached, or moved network). An agreement made on other attach facts
    /// is voided: a re-registration is due (a [`ReRegistration`] event), and decisions that rested on it
    /// fail closed until it is made.
    pub fn set_attach(&self, device: DeviceId, attach: Attach) -> Result<(), UnknownDeviceError> {
        self.update_facts(device, |facts| facts.attach = Some(attach))
    }

    /// The embedder's name of a device handle; `None` for a handle this runtime did not issue.
    pub fn device_name(&self, device: DeviceId) -> Option<Arc<str>> {
        self.inner.store.device_name(device.get())
    }

    /// The device's attach facts are no longer known (it detached). Decisions fail closed; its
    /// agreements are voided (cause `detached`).
    pub fn clear_attach(&self, device: DeviceId) -> Result<(), UnknownDeviceError> {
        self.update_facts(device, |facts| facts.attach = None)
    }

    /// The device's access security changed. An agreement made on other access security is voided.
    pub fn set_link(&self, device: DeviceId, link: LinkState) -> Result<(), UnknownDeviceError> {
        self.update_facts(device, |facts| facts.link = Some(link))
    }

    /// This node no longer knows the device's access security (the network stopped telling it).
    /// Decisions as a server then take List 1 as the statement that path A is protected; as the device,
    /// they fail closed. Standing agreements keep the access security they were made on.
    pub fn clear_link(&self, device: DeviceId) -> Result<(), UnknownDeviceError> {
        self.update_facts(device, |facts| facts.link = None)
    }

    /// Applies `edit` to a device's facts, voids the agreements resting on what changed, and tells the
    /// subscribers.
    fn update_facts(&self, device: DeviceId, edit: impl FnOnce(&mut DeviceFacts)) -> Result<(), UnknownDeviceError> {
        let mut voided = Vec::new();
        self.update_device(device, |facts| {
            let was_attached = facts.attach.is_some();
            edit(facts);
            voided = registration::void_on_change(facts, was_attached);
        })?;
        self.announce(device, voided);
        Ok(())
    }

    /// The server asks `device` to re-register with `server` (000, FIG. 10: for example, its
    /// agreements changed): the agreement is voided now and a [`ReRegistration`] event says so. `false`
    /// when no agreement stood.
    pub fn request_reregistration(&self, device: DeviceId, server: ServerId) -> Result<bool, UnknownDeviceError> {
        let mut voided = false;
        self.update_device(device, |facts| {
            voided = registration::void_one(facts, server, ReRegistrationCause::ServerRequest);
        })?;
        if voided {
            self.announce(device, vec![(server, ReRegistrationCause::ServerRequest)]);
        }
        Ok(voided)
    }

    /// Re-registration events, from now on: one per agreement voided (the embedder re-registers the
    /// device, or asks it to). Every receiver gets every event; a dropped one is forgotten. Timer
    /// expiries are found by [`Runtime::poll_registrations`].
    pub fn reregistrations(&self) -> std::sync::mpsc::Receiver<ReRegistration> {
        self.inner.registrations.subscribe()
    }

    /// Voids every agreement whose registration timer has ended by the runtime's clock, announcing
    /// each; returns how many. Call it as often as the timer's precision needs (a decision on an
    /// expired agreement fails closed even before it is called).
    pub fn poll_registrations(&self) -> usize {
        let now = self.unix_now();
        let mut count = 0;
        for (device, server, expires) in self.inner.registrations.expired(now) {
            let mut voided = false;
            // The handle came from a stored outcome, so the device exists.
            let _ = self.update_device(device, |facts| {
                let current = facts.agreements.iter().any(|held| held.server == server && held.expires == expires);
                voided = current && registration::void_one(facts, server, ReRegistrationCause::TimerExpired);
            });
            if voided {
                count += 1;
                self.announce(device, vec![(server, ReRegistrationCause::TimerExpired)]);
            }
        }
        count
    }

    /// Opens a data session between `device` and `server`: decisions made in it
    /// ([`Worker::decide_in`]) never go back to plain once it has set up application-layer security.
    pub fn open_session(&self, device: DeviceId, server: ServerId) -> Result<SessionId, SessionError> {
        self.inner.store.slot(device).ok_or(UnknownDeviceError { device: device.get() })?;
        self.inner.sessions.open(device, server, self.unix_now())
    }

    /// Ends a data session; `false` when it had already ended.
    pub fn close_session(&self, session: SessionId) -> bool {
        self.inner.sessions.close(session)
    }

    /// The session table's counts.
    pub fn session_stats(&self) -> SessionStats {
        self.inner.sessions.stats()
    }

    /// The session table.
    pub(crate) fn sessions(&self) -> &Sessions {
        &self.inner.sessions
    }

    /// When the earliest registration timer ends (`None` while none runs): an embedder waiting on
    /// [`Runtime::reregistrations`] waits until then at most, then calls
    /// [`Runtime::poll_registrations`].
    ///
    /// ```no_run
    /// # fn run(runtime: pathsec::Runtime) {
    /// let events = runtime.reregistrations();
    /// loop {
    ///     let wait = runtime.next_registration_timer().map_or(std::time::Duration::from_secs(60), |end| {
    ///         end.duration_since(runtime.now()).unwrap_or_default()
    ///     });
    ///     match events.recv_timeout(wait) {
    ///         Ok(due) => println!("re-register {} with {:?}: {}", due.device_name, due.server_name, due.cause),
    ///         Err(_) => drop(runtime.poll_registrations()),
    ///     }
    /// }
    /// # }
    /// ```
    pub fn next_registration_timer(&self) -> Option<SystemTime> {
        let end = self.inner.registrations.next_timer()?;
        Some(std::time::UNIX_EPOCH + Duration::from_secs(end))
    }

    /// The registration state between `device` and `server` now.
    pub fn registration_state(
        &self,
        device: DeviceId,
        server: ServerId,
    ) -> Result<RegistrationState, UnknownDeviceError> {
        let slot = self.inner.store.slot(device).ok_or(UnknownDeviceError { device: device.get() })?;
        Ok(slot.held(server).map_or(RegistrationState::None, |held| held.state(self.unix_now())))
    }

    pub(crate) fn update_device(
        &self,
        device: DeviceId,
        edit: impl FnOnce(&mut DeviceFacts),
    ) -> Result<(), UnknownDeviceError> {
        self.inner.store.update_device(device, edit)
    }

    /// The live fact store.
    pub(crate) fn store(&self) -> &FactStore {
        &self.inner.store
    }

    /// Tells the subscribers of each agreement voided.
    pub(crate) fn announce(&self, device: DeviceId, voided: Vec<(ServerId, ReRegistrationCause)>) {
        if voided.is_empty() {
            return;
        }
        let Some(device_name) = self.inner.store.device_name(device.get()) else { return };
        let lists = self.inner.store.lists();
        let events: Vec<_> = voided
            .into_iter()
            .map(|(server, cause)| ReRegistration {
                device,
                device_name: Arc::clone(&device_name),
                server,
                server_name: lists.server(server).cloned(),
                cause,
            })
            .collect();
        self.inner.registrations.publish(&events);
    }

    /// After a list change: voids the agreements whose List entries changed. Only a device holding
    /// such an agreement is written.
    fn lists_changed(&self, lists: &FactSet) {
        for device in self.inner.registrations.devices() {
            let moved = self
                .inner
                .store
                .slot(device)
                .is_some_and(|slot| slot.any_held(|held| registration::lists_moved(held, lists)));
            if !moved {
                continue;
            }
            let mut voided = Vec::new();
            let _ = self.update_device(device, |facts| voided = registration::void_on_lists(facts, lists));
            self.announce(device, voided);
        }
    }

    /// The runtime's clock, in whole seconds since the Unix epoch.
    pub(crate) fn unix_now(&self) -> u64 {
        self.now().duration_since(std::time::UNIX_EPOCH).map_or(0, |since| since.as_secs())
    }

    /// The registration bookkeeping.
    pub(crate) fn registrations(&self) -> &Registrations {
        &self.inner.registrations
    }

    /// The server side's registration settings.
    /// The server side's registration settings in force.
    pub fn registration_config(&self) -> &RegistrationConfig {
        &self.inner.registration_config
    }

    /// The device side's settings.
    /// The device side's registration settings in force.
    pub fn device_config(&self) -> &DeviceConfig {
        &self.inner.device_config
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
