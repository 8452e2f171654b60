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

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Duration;

use serde::Deserialize;

use crate::cases::case_file::Want;
use crate::cases::related::{AdmissionWant, LocationWant, MediaWant, NameWant, SubmissionWant, TriggerWant};
use crate::exchange::SecurityOption;
use crate::facts::files::{self, FileError, ListsFile};
use crate::related::files::AdmissionFile;
use crate::runtime::ReRegistrationCause;
use crate::vocab::{AccessIntegrity, AccessKind, EndToEnd, EventKind, Fqdn, PlmnId, Reason, Role};

mod run;

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
