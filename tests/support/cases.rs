//! Scenario case files (`tests/cases/**/*.toml`): named facts, one request, and what the policy must
//! answer — or the error the case's input must give.
//!
//! ```toml
//! note = "roaming in a List 3 network: the whole path is secure"
//! policy = "reference"            # or "always-secure"; default "reference"
//!
//! [lists]
//! path-a = ["310410", { mcc = "208", mnc = "01" }]    # List 1
//! path-b = [{ home = "310410", server = "mtc.example.com" }]    # List 2
//! interconnect = ["20801"]        # List 3
//!
//! [request]
//! role = "server"
//! event = "send-data"             # receive-trigger also needs access-integrity and end-to-end
//! server = "MTC.Example.com."
//! serving = "20801"               # leave out when the serving network is unknown
//! home = "310410"
//! access = "3gpp"                 # default "3gpp"
//! ciphering = true
//! integrity = true
//! registration = "agreed"        # or "mismatch"; default "none"
//!
//! [want]
//! action = "send-plain"
//! reason = "path-secure"
//! ```
//!
//! A case wants either `[want]` or `want_error` (text the parse error must contain), never neither.

use std::path::Path;

use pathsec::{
    AccessIntegrity, AccessKind, Action, Attach, EndToEnd, Event, EventKind, FactSet, Fqdn, LinkState, PlmnId, Reason,
    Registration, Request, Role, TriggerCheck,
};
use serde::Deserialize;

/// A case file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CaseFile {
    /// What the case shows, for a reader.
    pub note: String,
    /// The bundled policy to run.
    #[serde(default = "reference")]
    pub policy: String,
    /// Lists 1-3.
    #[serde(default)]
    pub lists: ListsFile,
    /// The request.
    pub request: Option<RequestFile>,
    /// The decision the policy must make.
    pub want: Option<Want>,
    /// Text the error of reading this case must contain.
    #[serde(rename = "want_error")]
    pub want_error: Option<String>,
}

fn reference() -> String {
    "reference".to_owned()
}

/// Lists 1-3 as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ListsFile {
    #[serde(default)]
    path_a: Vec<PlmnId>,
    #[serde(default)]
    path_b: Vec<PathBFile>,
    #[serde(default)]
    interconnect: Vec<PlmnId>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PathBFile {
    home: PlmnId,
    server: Fqdn,
}

/// A request as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RequestFile {
    role: Role,
    event: EventKind,
    server: Fqdn,
    serving: Option<PlmnId>,
    home: PlmnId,
    #[serde(default = "three_gpp")]
    access: AccessKind,
    ciphering: bool,
    integrity: bool,
    access_integrity: Option<AccessIntegrity>,
    end_to_end: Option<EndToEnd>,
    #[serde(default = "no_registration")]
    registration: Registration,
}

fn no_registration() -> Registration {
    Registration::None
}

fn three_gpp() -> AccessKind {
    AccessKind::ThreeGpp
}

/// The decision a case wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Want {
    /// The action.
    pub action: Action,
    /// The reason.
    pub reason: Reason,
}

/// A case ready to run.
pub struct Case {
    /// What it shows.
    pub note: String,
    /// The bundled policy's name.
    pub policy: String,
    /// Its facts.
    pub facts: FactSet,
    /// Its request.
    pub request: Request,
    /// The decision it wants.
    pub want: Want,
}

/// What a case file holds: a case to run, or the error its input must give.
pub enum Parsed {
    /// Run it.
    Run(Box<Case>),
    /// Reading it failed as the case wanted.
    ErrorAsWanted,
}

/// Reads a case file. `Err` is a broken case, or an input error the case did not want.
pub fn load(path: &Path) -> Result<Parsed, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    // What the case wants, read loosely so that a case whose input is meant to fail still says it.
    let table = toml::from_str::<toml::Table>(&text).map_err(|e| e.to_string())?;
    let wanted_error = table.get("want_error").and_then(|v| v.as_str()).map(str::to_owned);
    match (table.contains_key("want"), &wanted_error) {
        (true, Some(_)) => return Err("a case wants `[want]` or `want_error`, not both".to_owned()),
        (false, None) => {
            return Err("a case must say what it wants: `[want]` (action, reason) or `want_error`".to_owned());
        }
        _ => {}
    }
    // Compare against the message alone: the parser's source excerpt would echo `want_error` itself.
    let read = toml::from_str::<CaseFile>(&text).map_err(|e| located(&text, &e)).and_then(build);
    match (read, wanted_error) {
        (Ok(case), None) => Ok(Parsed::Run(Box::new(case))),
        (Ok(_), Some(wanted)) => {
            Err(format!("wanted an error containing `{wanted}`, but the case reads without error"))
        }
        (Err(error), Some(wanted)) if error.contains(&wanted) => Ok(Parsed::ErrorAsWanted),
        (Err(error), Some(wanted)) => Err(format!("wanted an error containing `{wanted}`, got: {error}")),
        (Err(error), None) => Err(error),
    }
}

/// `line N: message`, without the parser's source excerpt.
fn located(text: &str, error: &toml::de::Error) -> String {
    match error.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {}", error.message())
        }
        None => error.message().to_owned(),
    }
}

fn build(file: CaseFile) -> Result<Case, String> {
    let r = file.request.ok_or("missing `[request]`")?;
    let mut facts = FactSet::builder();
    for network in file.lists.path_a {
        facts.trust_path_a(network);
    }
    for entry in file.lists.path_b {
        let server = facts.server(entry.server);
        facts.trust_path_b(entry.home, server);
    }
    for network in file.lists.interconnect {
        facts.trust_interconnect(network);
    }
    let event = match (r.event, r.access_integrity, r.end_to_end) {
        (EventKind::ReceiveTrigger, Some(access_integrity), Some(end_to_end)) => {
            Event::ReceiveTrigger(TriggerCheck { access_integrity, end_to_end })
        }
        (EventKind::ReceiveTrigger, _, _) => {
            return Err("`receive-trigger` needs `access-integrity` and `end-to-end`".to_owned());
        }
        (EventKind::SendData, None, None) => Event::SendData,
        (EventKind::ReceiveUnprotected, None, None) => Event::ReceiveUnprotected,
        (EventKind::ReceiveProtected, None, None) => Event::ReceiveProtected,
        (EventKind::SendTrigger, None, None) => Event::SendTrigger,
        (kind, _, _) => {
            return Err(format!("`access-integrity` and `end-to-end` are for `receive-trigger`, not `{kind}`"));
        }
    };
    let request = Request {
        role: r.role,
        event,
        server: facts.server(r.server),
        attach: Attach { serving: r.serving, home: r.home, access: r.access },
        link: LinkState { ciphering: r.ciphering, integrity: r.integrity },
        registration: r.registration,
    };
    let want = file.want.ok_or("the input reads without error, and the case has no `[want]`")?;
    Ok(Case { note: file.note, policy: file.policy, facts: facts.build(), request, want })
}
