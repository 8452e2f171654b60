//! A runtime's live facts: the lists (edited, replaced, or from signed bundles), device and server
//! handles, each device's attach and link facts, and the registration outcomes they void and the
//! events that say so.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::Runtime;
use crate::delivery::{AcceptedGenerations, BundleError, BundleKeys, BundleStore, ListBundle};
use crate::facts::{FactSet, FactSetBuilder};
use crate::store::device::{DeviceFacts, DeviceId};
use crate::store::fact_store::{FactStore, TooManyDevicesError, UnknownDeviceError};
use crate::store::held::{ReRegistrationCause, RegistrationState};
use crate::store::registration::{self, DeviceConfig, ReRegistration, RegistrationConfig, Registrations};
use crate::vocab::{Attach, Fqdn, LinkState, ServerId};

impl Runtime {
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
}
