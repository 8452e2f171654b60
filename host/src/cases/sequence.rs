//! Sequence cases (`[[sequence]]` in a case file): several steps against live runtimes — fact changes,
//! registrations (the exchange between a device node and a server node), indications delivered or
//! tampered with, re-registration events, the clock, data sessions and decisions — each step saying what
//! it must get. The method's figures (000, FIGS. 7-10) are written as sequences.
//!
//! ```toml
//! [[sequence]]
//! note = "FIG. 7, both sides: a protected report without a network view"
//! steps = [
//!   { do = "attach", on = "device", device = "meter-17", home = "310410", serving = "20801" },
//!   { do = "link", on = "device", device = "meter-17", ciphering = true, integrity = true },
//!   { do = "register", device = "meter-17", server = "mtc.example.com",
//!     want = { application-security = false, reason = "path-secure" }, want-device = "standing" },
//!   { do = "decide", on = "device", device = "meter-17", server = "mtc.example.com", role = "device",
//!     event = "send-data", want = { action = "send-plain", reason = "path-secure" } },
//! ]
//! ```
//!
//! Two nodes run each sequence, both on the policy under test, with the file's lists and one manual
//! clock: `server` (the default `on`) and `device`. A `register` step builds the device's report on the
//! device node (or from its `report` fields), carries it to the server node in the CBOR wire form, and
//! delivers the indication back unless `deliver = false`. A `deliver` step delivers one again — the last,
//! or that of the device's `of`-th registration (a late answer) — as it was, unprotected, or tampered
//! with, and says how the device must refuse it.
//!
//! The related decisions that keep state in the runtime have steps too: `admit` (attach admission, 002
//! FIG. 7A: the runtime's back-offs hold across steps, so "reject → early re-attach → refused without
//! asking" is a sequence) and `submit` (a server's trigger submission, counted against the sequence's
//! `trigger-limits`), `store-voucher` and `correlate` (004, FIG. 3: the device's initiation stores its
//! voucher, the gateway's later initiation is correlated with it by the parties' identities), `push`
//! and `triggered` (003: a GBA push trigger against the device's push associations, and how long its
//! sends count as triggered), `associate`, `bind` and `request-name` (001: the anchor's associations
//! with their home addresses, and its zone of granted names).

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::mpsc::Receiver;
use std::time::{Duration, SystemTime};

use serde::Deserialize;

use crate::cases::case_file::Want;
use crate::cases::related::{AdmissionWant, LocationWant, MediaWant, NameWant, SubmissionWant, TriggerWant};
use crate::exchange::{Format, Indication, Report, SecurityOption};
use crate::facts::FactSet;
use crate::facts::files::{self, FileError, ListsFile};
use crate::related::files::AdmissionFile;
use crate::related::{
    AdmissionLimits, GatewayCall, MediaLimits, NameAsk, NameOutcome, NameRecord, PushTrigger, TriggerLimits,
};
use crate::runtime::{
    Carried, DeviceConfig, ManualClock, ReRegistration, ReRegistrationCause, RegistrationConfig, RegistrationState,
    Runtime, SessionId,
};
use crate::vocab::{
    AccessIntegrity, AccessKind, Attach, Decision, EndToEnd, EventKind, Fqdn, LinkState, PlmnId, Reason, Request, Role,
};
use crate::wasm::Policy;
use crate::wasm::plug::Verdict;

/// Where a sequence starts: the Unix time of its manual clock.
const START: Duration = Duration::from_secs(1_800_000_000);

/// A sequence case.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SequenceCase {
    /// What the sequence shows.
    pub note: String,
    /// The policy it is for, if it names one.
    #[serde(default)]
    pub policy: Option<String>,
    /// The server's registration timer, in seconds (default 24 hours).
    #[serde(default)]
    timer: Option<u64>,
    /// The application-layer security the server supports.
    #[serde(default)]
    options: Vec<SecurityOption>,
    /// The server's roaming limits, per home network.
    #[serde(default)]
    roaming: Vec<RoamingFile>,
    /// The device's configuration: servers whose "no application-layer security" it accepts while
    /// unciphered.
    #[serde(default)]
    accept_plain_from: BTreeSet<Fqdn>,
    /// Every server's trigger limits on both nodes (for `submit` steps; default: none, counted).
    #[serde(default)]
    trigger_limits: Option<TriggerLimitsFile>,
    /// The voucher store's bounds on both nodes (default 100,000 vouchers, 60 s).
    #[serde(default)]
    vouchers: Option<VouchersFile>,
    /// The steps.
    steps: Vec<Step>,
}

/// The voucher store's bounds as a sequence writes them.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct VouchersFile {
    /// Vouchers held at most.
    capacity: usize,
    /// Seconds a voucher waits for its gateway initiation.
    timeout: u64,
}

/// Trigger limits as a sequence writes them.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct TriggerLimitsFile {
    quota: Option<u32>,
    /// Seconds (default a day).
    #[serde(default = "day")]
    period: u64,
    rate_limit: Option<u32>,
    /// Seconds (default a minute).
    #[serde(default = "minute")]
    rate_window: u64,
}

fn day() -> u64 {
    86_400
}

fn minute() -> u64 {
    60
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RoamingFile {
    home: PlmnId,
    visited: Vec<PlmnId>,
}

/// Which node a step acts on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Node {
    #[default]
    Server,
    Device,
}

/// What a registration must answer.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct WantIndication {
    application_security: bool,
    reason: Reason,
}

/// What the device must hold after a delivery.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum WantState {
    None,
    Standing,
    Pending,
}

/// A report's fields, where the step gives them (a device lying, or a device that runs no pathsec).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct ReportFields {
    home: Option<PlmnId>,
    serving: Option<PlmnId>,
    access: Option<AccessKind>,
    ciphering: Option<bool>,
    integrity: Option<bool>,
    #[serde(default)]
    options: Vec<SecurityOption>,
}

/// How a delivered indication is tampered with.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum Tamper {
    /// Delivered as the server made it (late, when `of` names an earlier registration).
    #[default]
    None,
    /// Delivered as it was, without a protected exchange.
    Unprotected,
    /// Delivered again as it was.
    Replay,
    /// Made for another device.
    OtherDevice,
    /// From another server.
    OtherServer,
    /// Past its end.
    Expired,
    /// Cut short on the wire.
    Truncated,
}

fn three_gpp() -> AccessKind {
    AccessKind::ThreeGpp
}

fn yes() -> bool {
    true
}

/// One step.
#[derive(Clone, Debug, Deserialize)]
#[serde(tag = "do", rename_all = "kebab-case", deny_unknown_fields)]
enum Step {
    /// The device attached (serving absent: the serving network is not known).
    Attach {
        #[serde(default)]
        on: Node,
        device: String,
        home: PlmnId,
        serving: Option<PlmnId>,
        #[serde(default = "three_gpp")]
        access: AccessKind,
    },
    /// The device detached.
    Detach {
        #[serde(default)]
        on: Node,
        device: String,
    },
    /// The device's access security.
    Link {
        #[serde(default)]
        on: Node,
        device: String,
        ciphering: bool,
        integrity: bool,
    },
    /// Entries added to the lists.
    Trust {
        #[serde(default)]
        on: Node,
        lists: ListsFile,
    },
    /// Entries removed from the lists.
    Distrust {
        #[serde(default)]
        on: Node,
        lists: ListsFile,
    },
    /// The registration exchange (000, FIG. 7 / FIG. 10).
    Register {
        device: String,
        server: Fqdn,
        #[serde(default = "yes")]
        protected: bool,
        #[serde(default)]
        report: Option<ReportFields>,
        #[serde(default = "yes")]
        deliver: bool,
        #[serde(default)]
        want: Option<WantIndication>,
        #[serde(default, rename = "want-error")]
        want_error: Option<String>,
        #[serde(default, rename = "want-device")]
        want_device: Option<WantState>,
        /// The answer delivered instead of the server node's: what a server whose own policy differs
        /// (one that needs no end-to-end security, say) would have said.
        #[serde(default)]
        answer: Option<WantIndication>,
    },
    /// An indication for the device — the last, or that of its `of`-th registration in the file (from
    /// 1) — tampered with or not, and delivered: it must be refused.
    Deliver {
        device: String,
        #[serde(default)]
        of: Option<usize>,
        #[serde(default)]
        tamper: Tamper,
        #[serde(rename = "want-error")]
        want_error: String,
    },
    /// The server asks for a re-registration.
    RequestReregistration {
        #[serde(default)]
        on: Node,
        device: String,
        server: Fqdn,
    },
    /// The clock moves on (both nodes share it).
    Advance { seconds: u64 },
    /// The node looks for ended registration timers.
    Poll {
        #[serde(default)]
        on: Node,
        want: usize,
    },
    /// The node's next re-registration event (none, when `cause` is left out).
    Event {
        #[serde(default)]
        on: Node,
        #[serde(default)]
        device: Option<String>,
        #[serde(default)]
        cause: Option<ReRegistrationCause>,
    },
    /// A data session opened, named for later steps.
    OpenSession {
        #[serde(default)]
        on: Node,
        name: String,
        device: String,
        server: Fqdn,
    },
    /// A data session closed.
    CloseSession {
        #[serde(default)]
        on: Node,
        name: String,
    },
    /// Attach admission on the node's runtime, whose back-offs hold across steps.
    Admit {
        #[serde(default)]
        on: Node,
        request: AdmissionFile,
        want: AdmissionWant,
    },
    /// A device's session initiation carrying a voucher (004, FIG. 3 message 302): the node's runtime
    /// stores it; `want-error` names an error the store must give instead.
    StoreVoucher {
        #[serde(default)]
        on: Node,
        calling: String,
        called: String,
        /// The voucher's bytes, as text.
        voucher: String,
        #[serde(default, rename = "want-error")]
        want_error: Option<String>,
    },
    /// A gateway's session initiation (004, FIG. 3 message 308): correlated with a stored voucher.
    Correlate {
        #[serde(default)]
        on: Node,
        calling: String,
        called: String,
        #[serde(default = "yes", rename = "crosses-cs-leg")]
        crosses_cs_leg: bool,
        #[serde(default = "yes", rename = "via-gateway")]
        via_gateway: bool,
        #[serde(default = "yes", rename = "network-path-secure")]
        network_path_secure: bool,
        want: MediaWant,
    },
    /// A GBA push trigger the device received (003, steps 405-407), against the node's push
    /// associations; `triggered-for` (seconds) checks how long the device's sends to the NAF count as
    /// triggered after it (0: not triggered).
    Push {
        #[serde(default)]
        on: Node,
        device: String,
        naf: Fqdn,
        sequence: u64,
        #[serde(default = "yes", rename = "mac-verified")]
        mac_verified: bool,
        #[serde(default = "yes", rename = "fields-covered")]
        fields_covered: bool,
        /// When the GPI's key (Key_LT) ends, in seconds after the step's time (0 or less: already ended).
        #[serde(rename = "key-expires-in")]
        key_expires_in: i64,
        /// Seconds.
        #[serde(default, rename = "trigger-time")]
        trigger_time: Option<u64>,
        want: TriggerWant,
        #[serde(default, rename = "triggered-for")]
        triggered_for: Option<u64>,
    },
    /// The device registers with the NAF for GBA push (003, [0049]).
    PushRegister {
        #[serde(default)]
        on: Node,
        device: String,
        naf: Fqdn,
    },
    /// The device deregisters from the NAF for GBA push.
    PushDeregister {
        #[serde(default)]
        on: Node,
        device: String,
        naf: Fqdn,
    },
    /// Checks how long the device's sends to the NAF still count as triggered (0: not).
    Triggered {
        #[serde(default)]
        on: Node,
        device: String,
        naf: Fqdn,
        want: u64,
    },
    /// A subscriber's security association with the anchor set up for its home addresses (001 step 7).
    Associate {
        #[serde(default)]
        on: Node,
        subscriber: String,
        #[serde(rename = "home-addresses")]
        home_addresses: Vec<IpAddr>,
    },
    /// A binding update from a subscriber for a home address, against the node's associations.
    Bind {
        #[serde(default)]
        on: Node,
        subscriber: String,
        #[serde(rename = "home-address")]
        home_address: IpAddr,
        want: LocationWant,
    },
    /// A name request against the node's associations and zone; a granted name is published for
    /// `address`.
    RequestName {
        #[serde(default)]
        on: Node,
        requester: String,
        #[serde(default)]
        name: Option<Fqdn>,
        #[serde(rename = "operator-domain")]
        operator_domain: Fqdn,
        #[serde(default, rename = "subscriber-number")]
        subscriber_number: Option<String>,
        #[serde(default, rename = "subscriber-name")]
        subscriber_name: Option<String>,
        address: IpAddr,
        want: NameWant,
    },
    /// A server's trigger submission, counted by the node's runtime.
    Submit {
        #[serde(default)]
        on: Node,
        server: Fqdn,
        want: SubmissionWant,
    },
    /// A decision.
    Decide {
        #[serde(default)]
        on: Node,
        role: Role,
        event: EventKind,
        device: String,
        server: Fqdn,
        #[serde(default, rename = "access-integrity")]
        access_integrity: Option<AccessIntegrity>,
        #[serde(default, rename = "end-to-end")]
        end_to_end: Option<EndToEnd>,
        #[serde(default)]
        session: Option<String>,
        want: Want,
    },
}

/// A node of a running sequence.
struct Running {
    runtime: Runtime,
    events: Receiver<ReRegistration>,
}

impl SequenceCase {
    /// Whether a step asks a related decision (attach admission, a trigger submission, media, a push
    /// trigger): a policy without the optional export fails those closed.
    pub fn asks_related(&self) -> bool {
        self.steps.iter().any(|step| {
            matches!(
                step,
                Step::Admit { .. }
                    | Step::Submit { .. }
                    | Step::StoreVoucher { .. }
                    | Step::Correlate { .. }
                    | Step::Push { .. }
                    | Step::Triggered { .. }
                    | Step::Bind { .. }
                    | Step::RequestName { .. }
            )
        })
    }

    /// Whether the sequence is for a policy named `name` (those that name none are for every policy).
    pub fn applies_to(&self, name: &str) -> bool {
        self.policy.as_deref().is_none_or(|policy| policy == name)
    }

    /// Checks what the file can check before running: every step's event has the fields it needs.
    pub(crate) fn check(&self, file: &str, field: &str) -> Result<(), FileError> {
        for (index, step) in self.steps.iter().enumerate() {
            if let Step::Decide { event, access_integrity, end_to_end, .. } = step {
                files::event(*event, *access_integrity, *end_to_end).map_err(|message| FileError::Invalid {
                    file: file.to_owned(),
                    field: format!("{field}.steps[{index}]"),
                    message,
                })?;
            }
        }
        Ok(())
    }

    /// Runs the sequence with `policy` on both nodes, starting from `lists`. `observe` sees every
    /// decision the policy was asked for, with the node's lists and the request (so a test can hold it
    /// against an oracle).
    /// `Ok` with the number of steps, or the first step that did not get what it wanted.
    pub fn run(
        &self,
        policy: &Policy,
        lists: &FactSet,
        mut observe: impl FnMut(&FactSet, &Request, &Decision),
    ) -> Result<usize, String> {
        let clock = ManualClock::new(SystemTime::UNIX_EPOCH + START);
        let mut registration = RegistrationConfig { options: self.options.clone(), ..RegistrationConfig::default() };
        if let Some(timer) = self.timer {
            registration.timer = Duration::from_secs(timer);
        }
        for entry in &self.roaming {
            registration.roaming.entry(entry.home).or_default().extend(entry.visited.iter().copied());
        }
        let device_config =
            DeviceConfig { accept_plain_from: self.accept_plain_from.clone(), ..DeviceConfig::default() };
        let admission = match self.trigger_limits {
            None => AdmissionLimits::default(),
            Some(file) => AdmissionLimits {
                triggers: TriggerLimits {
                    quota: file.quota,
                    period: Duration::from_secs(file.period),
                    rate_limit: file.rate_limit,
                    rate_window: Duration::from_secs(file.rate_window),
                },
                ..AdmissionLimits::default()
            },
        };
        admission.check().map_err(|e| format!("`trigger-limits`: {e}"))?;
        let media = self.vouchers.map_or_else(MediaLimits::default, |file| MediaLimits {
            vouchers: file.capacity,
            timeout: Duration::from_secs(file.timeout),
        });
        let node = |configure: &dyn Fn(crate::runtime::RuntimeBuilder) -> crate::runtime::RuntimeBuilder| {
            let builder = Runtime::builder(policy.clone())
                .lists(lists.to_builder().build())
                .clock(clock.clone())
                .admission(admission.clone())
                .map_err(|e| e.to_string())?
                .media(media)
                .map_err(|e| format!("`vouchers`: {e}"))?;
            let runtime = configure(builder).build().map_err(|e| e.to_string())?;
            let events = runtime.reregistrations();
            Ok::<_, String>(Running { runtime, events })
        };
        let server = node(&|b| b.registration(registration.clone()))?;
        let device = node(&|b| b.device_config(device_config.clone()))?;
        let mut sessions: HashMap<String, (Node, SessionId)> = HashMap::new();
        let mut indications: HashMap<String, Vec<Indication>> = HashMap::new();
        for (index, step) in self.steps.iter().enumerate() {
            let at = |problem: String| format!("step {} ({}): {problem}", index + 1, step.name());
            let on = |node: Node| match node {
                Node::Server => &server,
                Node::Device => &device,
            };
            let id = |node: &Running, name: &str| node.runtime.device_id(name).map_err(|e| at(e.to_string()));
            match step {
                Step::Attach { on: node, device, home, serving, access } => {
                    let node = on(*node);
                    let attach = Attach { serving: *serving, home: *home, access: *access };
                    node.runtime.set_attach(id(node, device)?, attach).map_err(|e| at(e.to_string()))?;
                }
                Step::Detach { on: node, device } => {
                    let node = on(*node);
                    node.runtime.clear_attach(id(node, device)?).map_err(|e| at(e.to_string()))?;
                }
                Step::Link { on: node, device, ciphering, integrity } => {
                    let node = on(*node);
                    let link = LinkState { ciphering: *ciphering, integrity: *integrity };
                    node.runtime.set_link(id(node, device)?, link).map_err(|e| at(e.to_string()))?;
                }
                Step::Trust { on: node, lists } | Step::Distrust { on: node, lists } => {
                    let trust = matches!(step, Step::Trust { .. });
                    on(*node).runtime.update_lists(|builder| lists.edit(builder, trust));
                }
                Step::Register {
                    device: name,
                    server: fqdn,
                    protected,
                    report,
                    deliver,
                    want,
                    want_error,
                    want_device,
                    answer,
                } => {
                    let report = self.report(&device, name, fqdn, report.as_ref()).map_err(at)?;
                    let wire = report.encode(Format::Cbor);
                    let report = Report::decode(Format::Cbor, &wire).map_err(|e| at(e.to_string()))?;
                    let carried = if *protected { Carried::Protected } else { Carried::Unprotected };
                    let registered = server.runtime.worker().register(&report, carried);
                    let indication = match (registered, want_error) {
                        (Err(error), Some(wanted)) if error.to_string().contains(wanted.as_str()) => continue,
                        (Err(error), _) => return Err(at(format!("refused: {error}"))),
                        (Ok(_), Some(wanted)) => return Err(at(format!("wanted an error containing `{wanted}`"))),
                        (Ok(indication), None) => indication,
                    };
                    if let Some(want) = want {
                        let got = (indication.application_security, indication.reason);
                        if got != (want.application_security, want.reason) {
                            return Err(at(format!(
                                "want application-security {} ({}), got {} ({})",
                                want.application_security, want.reason, got.0, got.1
                            )));
                        }
                    }
                    let mut indication = indication;
                    if let Some(answer) = answer {
                        indication.application_security = answer.application_security;
                        indication.reason = answer.reason;
                    }
                    indications.entry(name.clone()).or_default().push(indication.clone());
                    if !deliver {
                        continue;
                    }
                    let id = id(&device, name)?;
                    let state = device
                        .runtime
                        .accept_indication(id, &indication, Carried::Protected)
                        .map_err(|e| at(e.to_string()))?;
                    if let Some(want) = want_device {
                        let got = match state {
                            RegistrationState::Standing(_) => WantState::Standing,
                            RegistrationState::Pending(_) => WantState::Pending,
                            _ => WantState::None,
                        };
                        if got != *want {
                            return Err(at(format!("want the device {want:?}, got {state:?}")));
                        }
                    }
                }
                Step::Deliver { device: name, of, tamper, want_error } => {
                    let sent = indications.get(name).map(Vec::as_slice).unwrap_or_default();
                    let last = match of {
                        Some(of) => of.checked_sub(1).and_then(|index| sent.get(index)).ok_or_else(|| {
                            at(format!("`of = {of}`: the device registered {} times so far (count from 1)", sent.len()))
                        })?,
                        None => sent.last().ok_or_else(|| at("no indication was sent to it yet".into()))?,
                    };
                    let id = id(&device, name)?;
                    let error = match tamper {
                        Tamper::Truncated => {
                            let wire = last.encode(Format::Cbor);
                            Indication::decode(Format::Cbor, &wire[..wire.len() / 2]).err().map(|e| e.to_string())
                        }
                        tamper => {
                            let mut forged = last.clone();
                            match tamper {
                                Tamper::OtherDevice => forged.device = format!("{name}-other"),
                                Tamper::OtherServer => {
                                    forged.server = "forged.example.net".parse().map_err(|e| at(format!("{e}")))?
                                }
                                Tamper::Expired => {
                                    forged.expires = device
                                        .runtime
                                        .now()
                                        .duration_since(SystemTime::UNIX_EPOCH)
                                        .map_or(0, |d| d.as_secs())
                                }
                                _ => {}
                            }
                            if !matches!(tamper, Tamper::Replay | Tamper::None | Tamper::Unprotected) {
                                forged.sequence += 1;
                            }
                            let arrived = match tamper {
                                Tamper::Unprotected => Carried::Unprotected,
                                _ => Carried::Protected,
                            };
                            device.runtime.accept_indication(id, &forged, arrived).err().map(|e| e.to_string())
                        }
                    };
                    match error {
                        Some(error) if error.contains(want_error.as_str()) => {}
                        Some(error) => {
                            return Err(at(format!("wanted an error containing `{want_error}`, got: {error}")));
                        }
                        None => return Err(at(format!("accepted; wanted an error containing `{want_error}`"))),
                    }
                }
                Step::RequestReregistration { on: node, device, server: fqdn } => {
                    let node = on(*node);
                    let server = node.runtime.server_id(fqdn);
                    node.runtime.request_reregistration(id(node, device)?, server).map_err(|e| at(e.to_string()))?;
                }
                Step::Advance { seconds } => clock.advance(Duration::from_secs(*seconds)),
                Step::Admit { on: node, request, want } => {
                    let runtime = &on(*node).runtime;
                    let server = runtime.server_id(&request.server);
                    let request =
                        request.request(server).map_err(|(field, message)| at(format!("`{field}`: {message}")))?;
                    let want = want.verdict(&request).map_err(|(_, message)| at(message))?;
                    let got = runtime.worker().admit(&request);
                    if !got.same_answer(&want) || (got.fault.is_some() && !want.is_fail_closed()) {
                        return Err(at(format!("want {want}, got {got}")));
                    }
                }
                Step::StoreVoucher { on: node, calling, called, voucher, want_error } => {
                    let stored = on(*node).runtime.store_voucher(calling, called, voucher.as_bytes().to_vec());
                    match (stored, want_error) {
                        (Ok(()), None) => {}
                        (Err(error), Some(want)) if error.to_string().contains(want.as_str()) => {}
                        (Ok(()), Some(want)) => {
                            return Err(at(format!("want an error containing `{want}`, got it stored")));
                        }
                        (Err(error), _) => return Err(at(format!("want it stored, got: {error}"))),
                    }
                }
                Step::Correlate {
                    on: node,
                    calling,
                    called,
                    crosses_cs_leg,
                    via_gateway,
                    network_path_secure,
                    want,
                } => {
                    let call = GatewayCall {
                        calling: calling.clone(),
                        called: called.clone(),
                        crosses_cs_leg: *crosses_cs_leg,
                        via_gateway: *via_gateway,
                        network_path_secure: *network_path_secure,
                    };
                    let got = on(*node).runtime.worker().correlate_media(&call);
                    let released = match want.voucher.as_str() {
                        "released" => true,
                        "none" => false,
                        other => {
                            return Err(at(format!("`{other}` is not a voucher outcome: write `released` or `none`")));
                        }
                    };
                    if (got.protection, got.reason, got.voucher.is_some()) != (want.protection, want.reason, released) {
                        let voucher = if released { ", voucher released" } else { "" };
                        return Err(at(format!("want {} ({}){voucher}, got {got}", want.protection, want.reason)));
                    }
                }
                Step::Push {
                    on: node,
                    device,
                    naf,
                    sequence,
                    mac_verified,
                    fields_covered,
                    key_expires_in,
                    trigger_time,
                    want,
                    triggered_for,
                } => {
                    let node = on(*node);
                    let now = node.runtime.now();
                    let key_expires = match u64::try_from(*key_expires_in) {
                        Ok(ahead) => now + Duration::from_secs(ahead),
                        Err(_) => now - Duration::from_secs(key_expires_in.unsigned_abs()),
                    };
                    let push = PushTrigger {
                        naf: node.runtime.server_id(naf),
                        sequence: *sequence,
                        mac_verified: *mac_verified,
                        fields_covered: *fields_covered,
                        key_expires,
                        trigger_time: trigger_time.map(Duration::from_secs),
                        window: None,
                    };
                    let got =
                        node.runtime.worker().receive_push(id(node, device)?, &push).map_err(|e| at(e.to_string()))?;
                    if (got.outcome, got.reason) != (want.outcome, want.reason) {
                        return Err(at(format!("want {} ({}), got {got}", want.outcome, want.reason)));
                    }
                    if let Some(want) = triggered_for {
                        triggered(node, id(node, device)?, push.naf, *want).map_err(at)?;
                    }
                }
                Step::PushRegister { on: node, device, naf } => {
                    let node = on(*node);
                    let naf = node.runtime.server_id(naf);
                    node.runtime.register_push(id(node, device)?, naf).map_err(|e| at(e.to_string()))?;
                }
                Step::PushDeregister { on: node, device, naf } => {
                    let node = on(*node);
                    let naf = node.runtime.server_id(naf);
                    node.runtime.deregister_push(id(node, device)?, naf).map_err(|e| at(e.to_string()))?;
                }
                Step::Triggered { on: node, device, naf, want } => {
                    let node = on(*node);
                    triggered(node, id(node, device)?, node.runtime.server_id(naf), *want).map_err(at)?;
                }
                Step::Associate { on: node, subscriber, home_addresses } => {
                    on(*node)
                        .runtime
                        .establish_association(subscriber, home_addresses.clone())
                        .map_err(|e| at(e.to_string()))?;
                }
                Step::Bind { on: node, subscriber, home_address, want } => {
                    let got = on(*node).runtime.worker().update_binding(subscriber, *home_address);
                    if (got.outcome, got.reason) != (want.outcome, want.reason) {
                        return Err(at(format!("want {} ({}), got {got}", want.outcome, want.reason)));
                    }
                }
                Step::RequestName {
                    on: node,
                    requester,
                    name,
                    operator_domain,
                    subscriber_number,
                    subscriber_name,
                    address,
                    want,
                } => {
                    let ask = NameAsk {
                        requester: requester.clone(),
                        name: name.clone(),
                        operator_domain: operator_domain.clone(),
                        subscriber_number: subscriber_number.clone(),
                        subscriber_name: subscriber_name.clone(),
                        address: *address,
                    };
                    let got = on(*node).runtime.worker().request_name(&ask);
                    let want_record =
                        match (want.outcome.as_str(), &want.name, &want.refusal) {
                            ("grant", Some(name), None) => Some(NameRecord { name: name.clone(), address: *address }),
                            ("refuse", None, Some(_)) => None,
                            _ => return Err(at(
                                "want `{ outcome = \"grant\", name, bound-to }` or `{ outcome = \"refuse\", refusal }`"
                                    .to_owned(),
                            )),
                        };
                    let bound_ok = match (&got.outcome, &want.bound_to) {
                        (NameOutcome::Grant { bound_to, .. }, Some(want)) => bound_to == want,
                        _ => true,
                    };
                    let refusal_ok = match (&got.outcome, &want.refusal) {
                        (NameOutcome::Refuse(refusal), Some(want)) => refusal == want,
                        (NameOutcome::Refuse(_), None) => false,
                        _ => true,
                    };
                    if got.record != want_record || !bound_ok || !refusal_ok {
                        return Err(at(format!(
                            "want {} {}, got {got}",
                            want.outcome,
                            want.name.as_ref().map_or_else(|| format!("{:?}", want.refusal), ToString::to_string)
                        )));
                    }
                }
                Step::Submit { on: node, server, want } => {
                    let runtime = &on(*node).runtime;
                    let got = runtime.worker().submit_trigger(runtime.server_id(server));
                    if (got.accept, got.reason) != (want.accept, want.reason) {
                        let want = if want.accept { "accept" } else { "refuse" };
                        return Err(at(format!("want {want} ({}), got {got}", step_reason(step))));
                    }
                }
                Step::Poll { on: node, want } => {
                    let got = on(*node).runtime.poll_registrations();
                    if got != *want {
                        return Err(at(format!("want {want} timers ended, got {got}")));
                    }
                }
                Step::Event { on: node, device, cause } => {
                    let next = on(*node).events.try_recv().ok();
                    match (next, cause) {
                        (None, None) => {}
                        (Some(event), None) => {
                            return Err(at(format!("want no event, got {} for `{}`", event.cause, event.device_name)));
                        }
                        (None, Some(cause)) => return Err(at(format!("want a `{cause}` event, got none"))),
                        (Some(event), Some(cause)) => {
                            let device_matches = device.as_deref().is_none_or(|name| *event.device_name == *name);
                            if event.cause != *cause || !device_matches {
                                return Err(at(format!(
                                    "want `{cause}`, got `{}` for `{}`",
                                    event.cause, event.device_name
                                )));
                            }
                        }
                    }
                }
                Step::OpenSession { on: node, name, device, server: fqdn } => {
                    let running = on(*node);
                    let server = running.runtime.server_id(fqdn);
                    let session =
                        running.runtime.open_session(id(running, device)?, server).map_err(|e| at(e.to_string()))?;
                    sessions.insert(name.clone(), (*node, session));
                }
                Step::CloseSession { on: node, name } => {
                    let (_, session) = sessions.remove(name).ok_or_else(|| at(format!("no session `{name}`")))?;
                    on(*node).runtime.close_session(session);
                }
                Step::Decide {
                    on: node,
                    role,
                    event,
                    device,
                    server: fqdn,
                    access_integrity,
                    end_to_end,
                    session,
                    want,
                } => {
                    let running = on(*node);
                    let event = files::event(*event, *access_integrity, *end_to_end).map_err(at)?;
                    let server = running.runtime.server_id(fqdn);
                    let flow = crate::runtime::Flow { device: id(running, device)?, server, role: *role, event };
                    let request = running.runtime.request(&flow);
                    let mut worker = running.runtime.worker();
                    let decision = match session {
                        Some(name) => {
                            let (_, session) = sessions.get(name).ok_or_else(|| at(format!("no session `{name}`")))?;
                            worker.decide_in(*session, *role, event).map_err(|e| at(e.to_string()))?
                        }
                        None => worker.decide(&flow),
                    };
                    if let Some(fault) = &decision.fault {
                        return Err(at(format!("the policy failed: {fault}")));
                    }
                    if let Some(request) = request.filter(|_| !decision.reason.is_engine_reason()) {
                        observe(&running.runtime.lists(), &request, &decision);
                    }
                    if (decision.action, decision.reason) != (want.action, want.reason) {
                        return Err(at(format!(
                            "want {} ({}), got {} ({})",
                            want.action, want.reason, decision.action, decision.reason
                        )));
                    }
                }
            }
        }
        Ok(self.steps.len())
    }

    /// The report a `register` step sends: the device node's, with the step's fields over it.
    fn report(
        &self,
        device: &Running,
        name: &str,
        server: &Fqdn,
        fields: Option<&ReportFields>,
    ) -> Result<Report, String> {
        let fields = fields.cloned().unwrap_or_default();
        let id = device.runtime.device_id(name).map_err(|e| e.to_string())?;
        let built = device.runtime.registration_report(id, server, fields.options.clone()).ok();
        let missing = |field: &str| format!("the device node does not know the device's facts: give `report.{field}`");
        let serving = fields.serving.or(built.as_ref().map(|r| r.serving)).ok_or_else(|| missing("serving"))?;
        let home = fields.home.or(built.as_ref().map(|r| r.home)).ok_or_else(|| missing("home"))?;
        let ciphering =
            fields.ciphering.or(built.as_ref().map(|r| r.link.ciphering)).ok_or_else(|| missing("ciphering"))?;
        let integrity =
            fields.integrity.or(built.as_ref().map(|r| r.link.integrity)).ok_or_else(|| missing("integrity"))?;
        let access = fields.access.or(built.as_ref().map(|r| r.access)).unwrap_or(AccessKind::ThreeGpp);
        Ok(Report {
            device: name.to_owned(),
            server: server.clone(),
            home,
            serving,
            access,
            link: LinkState { ciphering, integrity },
            options: fields.options,
            lists: built.as_ref().and_then(|r| r.lists),
            sequence: built.map_or(1, |r| r.sequence),
        })
    }
}

impl Step {
    fn name(&self) -> &'static str {
        match self {
            Step::Attach { .. } => "attach",
            Step::Detach { .. } => "detach",
            Step::Link { .. } => "link",
            Step::Trust { .. } => "trust",
            Step::Distrust { .. } => "distrust",
            Step::Register { .. } => "register",
            Step::Deliver { .. } => "deliver",
            Step::RequestReregistration { .. } => "request-reregistration",
            Step::Advance { .. } => "advance",
            Step::Poll { .. } => "poll",
            Step::Event { .. } => "event",
            Step::OpenSession { .. } => "open-session",
            Step::CloseSession { .. } => "close-session",
            Step::Decide { .. } => "decide",
            Step::Admit { .. } => "admit",
            Step::Submit { .. } => "submit",
            Step::StoreVoucher { .. } => "store-voucher",
            Step::Push { .. } => "push",
            Step::Associate { .. } => "associate",
            Step::Bind { .. } => "bind",
            Step::RequestName { .. } => "request-name",
            Step::PushRegister { .. } => "push-register",
            Step::PushDeregister { .. } => "push-deregister",
            Step::Triggered { .. } => "triggered",
            Step::Correlate { .. } => "correlate",
        }
    }
}

/// Checks that `device`'s sends to `naf` count as triggered for `want` more seconds (0: not at all).
fn triggered(
    node: &Running,
    device: crate::runtime::DeviceId,
    naf: crate::vocab::ServerId,
    want: u64,
) -> Result<(), String> {
    let left = node
        .runtime
        .triggered_until(device, naf)
        .map_or(0, |until| until.duration_since(node.runtime.now()).map_or(0, |left| left.as_secs()));
    if left != want {
        return Err(format!("want sends triggered for {want} s more, got {left} s"));
    }
    Ok(())
}

/// The reason a `submit` step wants.
fn step_reason(step: &Step) -> String {
    match step {
        Step::Submit { want, .. } => want.reason.to_string(),
        _ => String::new(),
    }
}
