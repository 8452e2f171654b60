//! A decision log's lines read back (the format of `telemetry::line`, which the log writes): what each
//! decision was made on and what it was.

use std::io::BufRead;

use crate::facts::ListsDigest;
use crate::telemetry::line::{DroppedLine, Line};
use crate::vocab::{
    Action, Attach, Event, EventKind, Fqdn, LinkState, MadeBy, Reason, Registration, Role, TriggerCheck,
};

/// One logged decision.
#[derive(Clone, Debug)]
pub struct LoggedDecision {
    /// The line it was on (from 1).
    pub line: usize,
    /// The entry's id.
    pub id: String,
    /// The embedder's device name, when the log knew it.
    pub device: Option<String>,
    /// The server's FQDN, when the log knew it.
    pub server: Option<Fqdn>,
    /// Which node asked.
    pub role: Role,
    /// The event, with a received trigger's check results.
    pub event: Event,
    /// The facts it was made on (attach, link, registration); `None` when they were unknown (the engine
    /// decided before any policy) or not recorded (a log older than format 3).
    pub facts: Option<(Attach, Option<LinkState>, Registration)>,
    /// The digest of the lists it was made on, when recorded.
    pub lists: Option<ListsDigest>,
    /// The policy that made it, by name, and its role.
    pub policy: Option<String>,
    /// Which of the runtime's policies made it.
    pub made_by: MadeBy,
    /// The decision.
    pub action: Action,
    /// Its reason.
    pub reason: Reason,
    /// The policy fault it recorded, if any.
    pub fault: Option<String>,
    /// The flow cache answered it.
    pub cached: bool,
}

/// A log that cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LogReadError {
    /// Reading failed.
    #[error("cannot read the decision log `{log}`")]
    Read {
        /// The log.
        log: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A line is not a decision log line.
    #[error("`{log}` line {line}: {message}: is this a pathsec decision log (JSON lines, format 3)?")]
    Line {
        /// The log.
        log: String,
        /// The line.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// What one line is.
pub(crate) enum LogLine {
    /// A decision.
    Decision(Box<LoggedDecision>),
    /// `n` decisions the log dropped here.
    Dropped(u64),
}

/// Reads `log` (named `name` in errors) line by line, giving each decision (or gap) to `each`. Blank
/// lines are skipped; any other line that is not a decision or a gap is an error naming the line.
pub fn read_log(name: &str, log: impl BufRead, mut each: impl FnMut(&LoggedDecision)) -> Result<u64, LogReadError> {
    let mut dropped = 0;
    read_lines(name, log, |line| match line {
        LogLine::Decision(decision) => each(&decision),
        LogLine::Dropped(n) => dropped += n,
    })?;
    Ok(dropped)
}

/// As [`read_log`], with the gaps.
pub(crate) fn read_lines(name: &str, log: impl BufRead, mut each: impl FnMut(LogLine)) -> Result<(), LogReadError> {
    for (index, line) in log.lines().enumerate() {
        let number = index + 1;
        let line = line.map_err(|source| LogReadError::Read { log: name.to_owned(), source })?;
        if line.trim().is_empty() {
            continue;
        }
        let error = |message: String| LogReadError::Line { log: name.to_owned(), line: number, message };
        if line.contains("\"dropped\"") && !line.contains("\"action\"") {
            let gap: DroppedLine<'_> = serde_json::from_str(&line).map_err(|e| error(e.to_string()))?;
            each(LogLine::Dropped(gap.dropped));
            continue;
        }
        let parsed: Line<'_> = serde_json::from_str(&line).map_err(|e| error(e.to_string()))?;
        each(LogLine::Decision(Box::new(decision(parsed, number).map_err(error)?)));
    }
    Ok(())
}

fn decision(line: Line<'_>, number: usize) -> Result<LoggedDecision, String> {
    let event = match (line.event, line.trigger) {
        (EventKind::SendData, _) => Event::SendData,
        (EventKind::ReceiveUnprotected, _) => Event::ReceiveUnprotected,
        (EventKind::ReceiveProtected, _) => Event::ReceiveProtected,
        (EventKind::SendTrigger, _) => Event::SendTrigger,
        (EventKind::ReceiveTrigger, Some(check)) => Event::ReceiveTrigger(TriggerCheck {
            access_integrity: check.access_integrity,
            end_to_end: check.end_to_end,
        }),
        (EventKind::ReceiveTrigger, None) => return Err("a `receive-trigger` without its `trigger` checks".to_owned()),
    };
    let server = match line.server {
        Some(server) => Some(server.parse::<Fqdn>().map_err(|e| format!("field `server`: {e}"))?),
        None => None,
    };
    // Format 3 records the facts; older lines have none (and are not replayable). Format 4 leaves the
    // link state out where it was unknown.
    let facts = line.request.filter(|_| line.v >= 3).map(|request| {
        let attach = Attach { serving: request.serving, home: request.home, access: request.access };
        let link =
            request.ciphering.zip(request.integrity).map(|(ciphering, integrity)| LinkState { ciphering, integrity });
        (attach, link, request.registration)
    });
    Ok(LoggedDecision {
        line: number,
        id: line.id.into_owned(),
        device: line.device.map(std::borrow::Cow::into_owned),
        server,
        role: line.role,
        event,
        facts,
        lists: line.facts.lists_sha256,
        policy: line.policy.name.map(std::borrow::Cow::into_owned),
        made_by: line.policy.made_by,
        action: line.action,
        reason: line.reason,
        fault: line.fault,
        cached: line.cached,
    })
}
