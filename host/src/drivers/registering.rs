//! The registration exchange's two sides as runtime operations (000, FIG. 7; FIG. 10 repeats it):
//!
//! - the **device** builds its [`Report`] from its own facts ([`Runtime::registration_report`], FIG. 7
//!   steps 2-4), then checks and stores the server's [`Indication`] ([`Runtime::accept_indication`],
//!   step 8b) and follows it in later decisions (FIGS. 8-9 step 1; 000 claim 2);
//! - the **server** takes a report that came over a protected exchange, checks it against the network's
//!   view when it has one or else takes it as the information (step 5, with the roaming check), decides
//!   with Lists 1-3 through the active policy (step 6), stores the outcome (step 8a) and answers the
//!   indication (step 7) — [`Worker::register`].

use crate::deciding::live::Runtime;
use crate::deciding::worker::Worker;
use crate::exchange::{Indication, Report, ReportDigest, SecurityOption};
use crate::store::device::DeviceId;
use crate::store::fact_store::{TooManyDevicesError, UnknownDeviceError};
use crate::store::held::{Held, ListUse, RegistrationState, RestsOn, Standing};
use crate::store::registration::{self, Carried, Sent, void_on_change, void_on_lists};
use crate::vocab::{Action, Agreement, Attach, Event, Fqdn, Reason, Registration, RegistrationSource, Request, Role};

/// A report the server refuses: nothing is stored, and the agreement held (if any) stays.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistrationError {
    /// The report did not come over a protected exchange.
    #[error(
        "registration report from `{device}` did not come over a protected exchange, so it could be forged: set up application-layer security for the registration and send it again"
    )]
    Unprotected {
        /// The device it names.
        device: String,
    },
    /// The report names a server this node does not serve.
    #[error(
        "registration report names server `{server}`, which this node does not serve: check the report's `server`, or add it to `RegistrationConfig::serves`"
    )]
    UnknownServer {
        /// The server it names.
        server: Fqdn,
    },
    /// The runtime holds as many devices as it can.
    #[error(transparent)]
    TooManyDevices(#[from] TooManyDevicesError),
}

/// A report the device cannot build yet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// The device handle is not this runtime's.
    #[error(transparent)]
    UnknownDevice(#[from] UnknownDeviceError),
    /// The device does not know its serving network (000, FIG. 7 step 2 reads it from the cell).
    #[error("device `{device}` cannot report its serving network: set its attach facts (`Runtime::set_attach`) first")]
    ServingUnknown {
        /// The device.
        device: String,
    },
    /// The device does not know whether its access-layer security is on (FIG. 7 step 3).
    #[error("device `{device}` cannot report its access security: set its link state (`Runtime::set_link`) first")]
    LinkUnknown {
        /// The device.
        device: String,
    },
}

/// An indication the device refuses: nothing is stored, and the agreement held (if any) stays.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IndicationError {
    /// The device handle is not this runtime's.
    #[error(transparent)]
    UnknownDevice(#[from] UnknownDeviceError),
    /// Made for another device.
    #[error(
        "indication field `device`: made for `{found}`, and this is `{expected}`: it was not meant for this device"
    )]
    WrongDevice {
        /// This device's name.
        expected: String,
        /// The name it carries.
        found: String,
    },
    /// From a server this device sent no report to.
    #[error("indication field `server`: `{server}` was sent no report by this device: register with it first")]
    WrongServer {
        /// The server it names.
        server: Fqdn,
    },
    /// It did not arrive over a protected exchange, so it could be forged.
    #[error(
        "indication for `{device}` did not arrive over a protected exchange, so it could be forged: receive it over the registration's application-layer security (DTLS, OSCORE…)"
    )]
    Unprotected {
        /// The device it names.
        device: String,
    },
    /// It answers a report other than the last this device sent to that server: a late answer to an
    /// earlier report, whose facts may no longer hold.
    #[error(
        "indication field `report-seq`: it answers report {answers}, and this device's last report to `{server}` is {last}: an answer to another report is refused (the answer to report {last} is still to come)"
    )]
    OtherReport {
        /// The server.
        server: Fqdn,
        /// The report it answers.
        answers: u64,
        /// The last report sent.
        last: u64,
    },
    /// It names this device's last report's number, and another report's digest: it was made for a
    /// report this device did not send.
    #[error(
        "indication field `report`: {found} is not the digest of report {sequence} this device sent to `{server}` ({sent}): it answers a report this device did not send"
    )]
    ReportMismatch {
        /// The server.
        server: Fqdn,
        /// The report's sequence number.
        sequence: u64,
        /// The digest the indication carries.
        found: ReportDigest,
        /// The digest of the report sent.
        sent: ReportDigest,
    },
    /// Its registration timer has ended.
    #[error("indication field `expires`: it ended at {expires} (Unix seconds), and it is {now}: register again")]
    Expired {
        /// When it ended.
        expires: u64,
        /// Now, by the runtime's clock.
        now: u64,
    },
    /// Not newer than the one held: a replay, or an old one delivered late.
    #[error(
        "indication field `seq`: {sequence} is not newer than the {held} this device holds from that server: a replay is refused"
    )]
    Replay {
        /// Its sequence number.
        sequence: u64,
        /// The held indication's.
        held: u64,
    },
}

impl Runtime {
    /// Device side (000, FIG. 7 steps 2-4): the report of `device`'s current serving network, access
    /// and access security to `server`, with the application-layer security `options` it supports
    /// and the digest of the lists it holds. The facts reported are remembered: the server's answer
    /// rests on them.
    pub fn registration_report(
        &self,
        device: DeviceId,
        server: &Fqdn,
        options: Vec<SecurityOption>,
    ) -> Result<Report, ReportError> {
        let slot = self.slot(device).ok_or(UnknownDeviceError { device: device.get() })?;
        let name = self.device_name(device).map(|name| name.to_string()).unwrap_or_default();
        let view = slot.view();
        let (attach, serving) = match view.attach() {
            Some(attach @ Attach { serving: Some(serving), .. }) => (attach, serving),
            _ => return Err(ReportError::ServingUnknown { device: name }),
        };
        let link = view.link().ok_or_else(|| ReportError::LinkUnknown { device: name.clone() })?;
        let server_id = self.server_id(server);
        let sequence = self.registrations().last_sent(device, server_id).map_or(1, |sent| sent.sequence + 1);
        let lists = self.lists();
        let holds_lists = !(lists.path_a().is_empty() && lists.path_b().is_empty() && lists.interconnect().is_empty());
        let report = Report {
            device: name,
            server: server.clone(),
            home: attach.home,
            serving,
            access: attach.access,
            link,
            options,
            lists: holds_lists.then(|| lists.lists_digest()),
            sequence,
        };
        self.registrations().sent(device, server_id, Sent { attach, link, sequence, digest: report.digest() });
        Ok(report)
    }

    /// Device side (000, FIG. 7 step 8b): checks the server's indication — that it `arrived` over a
    /// protected exchange, was made for this device by a server it reported to, answers the last report
    /// it sent there (sequence number and digest), is not expired and is newer than the one held — and
    /// stores it against the facts that report carried; later decisions with that server follow it
    /// (FIGS. 8-9 step 1). If the device's facts changed since its report, the stored outcome is already
    /// pending (a re-registration event says so). On error nothing is stored.
    pub fn accept_indication(
        &self,
        device: DeviceId,
        indication: &Indication,
        arrived: Carried,
    ) -> Result<RegistrationState, IndicationError> {
        let slot = self.slot(device).ok_or(UnknownDeviceError { device: device.get() })?;
        let name = self.device_name(device).map(|name| name.to_string()).unwrap_or_default();
        if arrived == Carried::Unprotected {
            return Err(IndicationError::Unprotected { device: indication.device.clone() });
        }
        if indication.device != name {
            return Err(IndicationError::WrongDevice { expected: name, found: indication.device.clone() });
        }
        let wrong_server = || IndicationError::WrongServer { server: indication.server.clone() };
        let server = self.lists().server_id(&indication.server).ok_or_else(wrong_server)?;
        let sent = self.registrations().last_sent(device, server).ok_or_else(wrong_server)?;
        if indication.report_sequence != sent.sequence {
            return Err(IndicationError::OtherReport {
                server: indication.server.clone(),
                answers: indication.report_sequence,
                last: sent.sequence,
            });
        }
        if indication.report != sent.digest {
            return Err(IndicationError::ReportMismatch {
                server: indication.server.clone(),
                sequence: sent.sequence,
                found: indication.report,
                sent: sent.digest,
            });
        }
        let now = self.unix_now();
        if indication.expires <= now {
            return Err(IndicationError::Expired { expires: indication.expires, now });
        }
        let held = slot.held(server);
        if let Some(held) = held.filter(|held| held.sequence >= indication.sequence) {
            return Err(IndicationError::Replay { sequence: indication.sequence, held: held.sequence });
        }
        let agreement = Agreement {
            source: RegistrationSource::ServerIndication,
            application_security: indication.application_security,
            accept_plain_unciphered: self.device_config().accepts_plain_unciphered(&indication.server),
        };
        let stored = Held {
            server,
            standing: registration::agreed(agreement),
            rests_on: RestsOn { attach: sent.attach, link: sent.link, lists: None },
            sequence: indication.sequence,
            expires: indication.expires,
            fed_revision: 0,
        };
        let mut voided = Vec::new();
        self.update_device(device, |facts| {
            registration::hold(facts, stored);
            voided = void_on_change(facts, true);
        })?;
        self.registrations().timer(device, server, held.map(|held| held.expires), indication.expires);
        let state = if voided.is_empty() {
            RegistrationState::Standing(Registration::Agreed(agreement))
        } else {
            RegistrationState::Pending(voided[0].1)
        };
        self.announce(device, voided);
        Ok(state)
    }
}

impl Worker {
    /// Server side (000, FIG. 7 steps 5-8a): takes `device`'s registration report, which must have come
    /// over a protected exchange; checks it against the network's view — the device's attach and link
    /// facts in this runtime — when there is one (a disagreement is a mismatch), else takes the report
    /// as the information, refusing plain communication to a device roaming where its home does not
    /// allow; decides with Lists 1-3 through the active policy (as for sending data to the device);
    /// stores the outcome with the facts and List entries it rests on; and answers the indication.
    ///
    /// A policy fault secures (fail closed). Nothing is stored when the report is refused.
    pub fn register(&mut self, report: &Report, carried: Carried) -> Result<Indication, RegistrationError> {
        if carried == Carried::Unprotected {
            return Err(RegistrationError::Unprotected { device: report.device.clone() });
        }
        let runtime = self.runtime().clone();
        let serves = &runtime.registration_config().serves;
        let server = match runtime.lists().server_id(&report.server) {
            Some(server) if serves.is_empty() || serves.contains(&report.server) => server,
            None if serves.contains(&report.server) => runtime.server_id(&report.server),
            _ => return Err(RegistrationError::UnknownServer { server: report.server.clone() }),
        };
        let lists = runtime.lists();
        let device = runtime.device_id(&report.device)?;
        let view = runtime.slot(device).map(|slot| slot.view());
        let reported = Attach { serving: Some(report.serving), home: report.home, access: report.access };
        let network = view.and_then(|view| view.attach().filter(|attach| attach.serving.is_some()).map(|a| (a, view)));
        // FIG. 7 step 5: the network's view when there is one, else the device's report.
        let (source, attach, link, agrees) = match network {
            Some((attach, view)) => {
                let link = view.link();
                let agrees = attach == reported && link.is_none_or(|link| link == report.link);
                (RegistrationSource::NetworkView, attach, link.unwrap_or(report.link), agrees)
            }
            None => (RegistrationSource::DeviceReport, reported, report.link, true),
        };
        let config = runtime.registration_config();
        let roams = attach.serving.is_some_and(|serving| config.may_roam(attach.home, serving));
        let (standing, reason, application_security, lists_used) = if !agrees {
            (Standing::Outcome(Registration::Mismatch), Reason::RegistrationMismatch, true, None)
        } else if !roams {
            (Standing::Outcome(Registration::Mismatch), Reason::RoamingNotAllowed, true, None)
        } else {
            // FIG. 7 step 6: the path decision, as for data the server is about to send.
            let request = Request {
                role: Role::Server,
                event: Event::SendData,
                server,
                attach,
                link: Some(link),
                registration: Registration::None,
            };
            let decision = self.decide_request(&request, &lists, device);
            let application_security = decision.action != Action::SendPlain;
            let agreement = Agreement { source, application_security, accept_plain_unciphered: false };
            let used = ListUse::of(&lists, &attach, server);
            (registration::agreed(agreement), decision.reason, application_security, Some(used))
        };
        let option = application_security
            .then(|| config.options.iter().find(|option| report.options.contains(option)).cloned())
            .flatten();
        let now = runtime.unix_now();
        let expires = now.saturating_add(config.timer.as_secs().max(1));
        let millis = runtime.now().duration_since(std::time::UNIX_EPOCH).map_or(0, |since| since.as_millis() as u64);
        let previous = runtime.slot(device).and_then(|slot| slot.held(server));
        let sequence = previous.map_or(0, |held| held.sequence).saturating_add(1).max(millis);
        let rests_on = RestsOn { attach, link, lists: lists_used };
        let held = Held { server, standing, rests_on, sequence, expires, fed_revision: 0 };
        let mut voided = Vec::new();
        // The handle was just issued by this runtime.
        let _ = runtime.update_device(device, |facts| {
            registration::hold(facts, held);
            // The lists may have moved on while the policy decided: what changed voids it at once.
            let now_lists = runtime.lists();
            if now_lists.generation() != lists.generation() {
                voided = void_on_lists(facts, &now_lists);
            }
        });
        runtime.registrations().timer(device, server, previous.map(|held| held.expires), expires);
        runtime.announce(device, voided);
        Ok(Indication {
            device: report.device.clone(),
            server: report.server.clone(),
            application_security,
            reason,
            option,
            lists: lists.lists_digest(),
            report_sequence: report.sequence,
            report: report.digest(),
            sequence,
            expires,
        })
    }
}
