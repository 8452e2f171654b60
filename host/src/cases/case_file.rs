//! Policy test-case files: facts, requests, and the decision each request must get — what `pathsec
//! test` runs, and what the repository's `tests/cases/` holds. TOML or JSON, one schema:
//!
//! ```toml
//! note = "what the file shows"                 # optional
//! [lists]                                      # the facts: `lists`, `servers`, `devices`, as a facts file
//! path-a = ["310410"]
//! path-b = [{ home = "310410", server = "mtc.example.com" }]
//!
//! [[case]]
//! note = "a meter at home sends without application-layer security"
//! request = { role = "server", event = "send-data", server = "mtc.example.com", home = "310410",
//!             serving = "310410", ciphering = true, integrity = true }
//! want = { action = "send-plain", reason = "path-secure" }
//! ```
//!
//! The related decisions have their own entries (`related.rs`): `[[trigger-case]]`,
//! `[[admission-case]]`, `[[submission-case]]`, `[[access-case]]`, `[[media-case]]`, `[[location-case]]`, `[[name-case]]`:
//!
//! ```toml
//! [[trigger-case]]
//! note = "the push key's lifetime had ended"
//! trigger = { naf = "push.mtc.example.com", registered = true,
//!             protection = { mac-verified = true, fields-covered = true, key-expired = true } }
//! want = { outcome = "discard", reason = "key-expired" }
//! ```
//!
//! Sequences of steps against live runtimes (registrations, fact changes, sessions, decisions) are
//! `[[sequence]]` entries (`sequence.rs`).
//!
//! A file with one case may put `request` and `want` at the top instead of `[[case]]`. A file whose input
//! must be refused says `want_error = "text the error contains"` instead. A case may name the `policy`
//! it is for; a runner skips it for other policies. Every case says what it wants: a file with neither
//! `want` nor `want_error` is refused. A case may cite the rows of `docs/method.md` its request passes
//! through (`rows = ["E4", "P9"]`; the repository's suite checks each citation against the table).

use super::related::{self, RelatedCase};
use super::sequence::SequenceCase;
use std::path::Path;

use serde::Deserialize;

use crate::facts::files::{DeviceFile, FactsFile, FileError, Format, ListsFile, RequestFile};
use crate::facts::{FactSet, files as factfile};
use crate::vocab::{Action, Decision, Fqdn, Reason, Request};

/// What a case wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Want {
    /// The action.
    pub action: Action,
    /// The reason.
    pub reason: Reason,
}

/// One case: a request and the decision it must get.
#[derive(Clone, Debug)]
pub struct TestCase {
    /// What the case shows.
    pub note: String,
    /// The policy the case is for, if it names one.
    pub policy: Option<String>,
    /// The request.
    pub request: Request,
    /// What it must get.
    pub want: Want,
    /// The rows of the method's table (`docs/method.md`) the case cites, if any.
    pub rows: Vec<String>,
}

impl TestCase {
    /// Whether the case is for a policy named `name` (cases that name none are for every policy).
    pub fn applies_to(&self, name: &str) -> bool {
        self.policy.as_deref().is_none_or(|policy| policy == name)
    }

    /// `Ok` when `decision` is what the case wants, else what went wrong.
    pub fn check(&self, decision: &Decision) -> Result<(), String> {
        if let Some(fault) = &decision.fault {
            return Err(format!("the policy failed: {fault}"));
        }
        if (decision.action, decision.reason) == (self.want.action, self.want.reason) {
            Ok(())
        } else {
            Err(format!(
                "want {} ({}), got {} ({})",
                self.want.action, self.want.reason, decision.action, decision.reason
            ))
        }
    }
}

/// A case file, read.
#[derive(Debug)]
// Read once per file, never on a hot path: the size of the `Cases` variant costs nothing.
#[allow(clippy::large_enum_variant)]
pub enum CaseFile {
    /// Cases to run against the facts.
    Cases {
        /// The file's facts.
        facts: FactSet,
        /// Its path-decision cases, in order.
        cases: Vec<TestCase>,
        /// Its cases of the related decisions (trigger guard, admission, access, media, bindings).
        related: Vec<RelatedCase>,
        /// Its sequences.
        sequences: Vec<SequenceCase>,
    },
    /// The file's input was refused as it wanted.
    RefusedAsWanted {
        /// What the file shows.
        note: String,
        /// The error it gave.
        error: String,
    },
}

impl CaseFile {
    /// Reads a case file. An error is a case file that cannot be run, or an input that was not refused
    /// as the file wanted.
    pub fn read(path: impl AsRef<Path>) -> Result<CaseFile, FileError> {
        let path = path.as_ref();
        let file = path.display().to_string();
        let format = Format::of(path).ok_or_else(|| FileError::Format { file: file.clone() })?;
        let text = std::fs::read_to_string(path).map_err(|source| FileError::Read { file: file.clone(), source })?;
        CaseFile::parse_as(&file, &text, format)
    }

    /// Parses a case file that did not come from a file; `name` is what errors call it, and its
    /// extension (`.toml`, `.json`) names the format.
    pub fn parse(name: &str, text: &str) -> Result<CaseFile, FileError> {
        let format = Format::of(Path::new(name)).ok_or_else(|| FileError::Format { file: name.to_owned() })?;
        CaseFile::parse_as(name, text, format)
    }

    fn parse_as(file: &str, text: &str, format: Format) -> Result<CaseFile, FileError> {
        let invalid = |field: &str, message: String| FileError::Invalid {
            file: file.to_owned(),
            field: field.to_owned(),
            message,
        };
        // What the file wants, read loosely first: a file whose input must be refused says so even though
        // the strict read below fails.
        let wanted_error = wanted_error(text, format);
        let raw = factfile::parse::<RawCaseFile>(file, text, format).and_then(|raw| raw.build(file));
        match (raw, wanted_error) {
            (Ok(cases), None) => Ok(cases),
            (Ok(_), Some(wanted)) => {
                Err(invalid("want_error", format!("wanted an error containing `{wanted}`, but the input was accepted")))
            }
            (Err(error), Some(wanted)) => {
                let error = error.to_string();
                if error.contains(&wanted) {
                    Ok(CaseFile::RefusedAsWanted { note: note(text, format), error })
                } else {
                    Err(invalid("want_error", format!("wanted an error containing `{wanted}`, got: {error}")))
                }
            }
            (Err(error), None) => Err(error),
        }
    }
}

/// The file as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawCaseFile {
    note: Option<String>,
    #[serde(default)]
    rows: Vec<String>,
    policy: Option<String>,
    #[serde(default)]
    lists: ListsFile,
    #[serde(default)]
    servers: Vec<Fqdn>,
    #[serde(default)]
    devices: Vec<DeviceFile>,
    request: Option<RequestFile>,
    want: Option<Want>,
    #[serde(rename = "want_error")]
    want_error: Option<String>,
    #[serde(default, rename = "case")]
    cases: Vec<RawCase>,
    #[serde(default, rename = "trigger-case")]
    trigger_cases: Vec<related::RawTriggerCase>,
    #[serde(default, rename = "admission-case")]
    admission_cases: Vec<related::RawAdmissionCase>,
    #[serde(default, rename = "submission-case")]
    submission_cases: Vec<related::RawSubmissionCase>,
    #[serde(default, rename = "access-case")]
    access_cases: Vec<related::RawAccessCase>,
    #[serde(default, rename = "media-case")]
    media_cases: Vec<related::RawMediaCase>,
    #[serde(default, rename = "location-case")]
    location_cases: Vec<related::RawLocationCase>,
    #[serde(default, rename = "name-case")]
    name_cases: Vec<related::RawNameCase>,
    #[serde(default, rename = "sequence")]
    sequences: Vec<SequenceCase>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCase {
    note: String,
    #[serde(default)]
    rows: Vec<String>,
    policy: Option<String>,
    request: RequestFile,
    want: Option<Want>,
}

impl RawCaseFile {
    fn build(self, file: &str) -> Result<CaseFile, FileError> {
        let invalid = |field: String, message: &str| FileError::Invalid {
            file: file.to_owned(),
            field,
            message: message.to_owned(),
        };
        let facts = FactsFile { lists: self.lists, servers: self.servers, devices: self.devices };
        facts.check(file)?;
        let mut builder = facts.builder();
        let mut cases = Vec::new();
        let related = related::RawRelated {
            triggers: self.trigger_cases,
            admissions: self.admission_cases,
            submissions: self.submission_cases,
            access: self.access_cases,
            media: self.media_cases,
            locations: self.location_cases,
            names: self.name_cases,
        };
        match (self.request, self.cases.is_empty()) {
            (Some(_), false) => {
                return Err(invalid("case".into(), "give `request` and `want`, or `[[case]]` entries, not both"));
            }
            (None, true) if self.want_error.is_none() && related.is_empty() && self.sequences.is_empty() => {
                return Err(invalid(
                    "".into(),
                    "a case file must say what it wants: `[want]` (action, reason), `want_error`, or `[[case]]` entries (or those of a related decision: `[[trigger-case]]`, `[[admission-case]]`, `[[submission-case]]`, `[[access-case]]`, `[[media-case]]`, `[[location-case]]`, `[[name-case]]`), or `[[sequence]]` entries",
                ));
            }
            (None, true) => {}
            (Some(request), true) => {
                let (note, policy) = (self.note.unwrap_or_default(), self.policy.clone());
                let request = request.resolve(&facts, &mut builder, file, "request")?;
                match (self.want, self.want_error) {
                    (Some(want), None) => cases.push(TestCase { note, policy, request, want, rows: self.rows }),
                    (Some(_), Some(_)) => {
                        return Err(invalid("want".into(), "a case wants `[want]` or `want_error`, not both"));
                    }
                    (None, _) => {
                        return Err(invalid("want".into(), "the input was accepted, and the case has no `[want]`"));
                    }
                }
            }
            (None, false) => {
                for (index, case) in self.cases.into_iter().enumerate() {
                    let field = format!("case[{index}]");
                    let want = case.want.ok_or_else(|| {
                        invalid(
                            format!("{field}.want"),
                            "each case must say what it wants: `want = { action, reason }`",
                        )
                    })?;
                    let request = case.request.resolve(&facts, &mut builder, file, &format!("{field}.request"))?;
                    cases.push(TestCase {
                        note: case.note,
                        policy: case.policy.or(self.policy.clone()),
                        request,
                        want,
                        rows: case.rows,
                    });
                }
            }
        }
        let related = related.build(file, self.policy.as_ref(), &mut builder)?;
        let mut sequences = self.sequences;
        for (index, sequence) in sequences.iter_mut().enumerate() {
            sequence.check(file, &format!("sequence[{index}]"))?;
            if sequence.policy.is_none() {
                sequence.policy.clone_from(&self.policy);
            }
        }
        Ok(CaseFile::Cases { facts: builder.build(), cases, related, sequences })
    }
}

/// The `want_error` of a file, read loosely.
fn wanted_error(text: &str, format: Format) -> Option<String> {
    loose_field(text, format, "want_error")
}

fn note(text: &str, format: Format) -> String {
    loose_field(text, format, "note").unwrap_or_default()
}

fn loose_field(text: &str, format: Format, name: &str) -> Option<String> {
    match format {
        Format::Toml => toml::from_str::<toml::Table>(text).ok()?.get(name)?.as_str().map(str::to_owned),
        Format::Json => serde_json::from_str::<serde_json::Value>(text).ok()?.get(name)?.as_str().map(str::to_owned),
    }
}
