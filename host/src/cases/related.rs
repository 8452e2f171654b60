//! Cases of the related decisions in case files: `[[trigger-case]]`, `[[admission-case]]`,
//! `[[submission-case]]`,
//! `[[access-case]]`, `[[media-case]]`, `[[location-case]]` and `[[name-case]]` entries. Each names
//! what is asked and what it must get; [`RelatedCase::run`] asks a [`Decider`] and compares.

use std::time::Duration;

use serde::Deserialize;

use crate::facts::files::FileError;
use crate::facts::{FactSet, FactSetBuilder};
use crate::related::access::DecideAccess;
use crate::related::admission::plug::{Admit, SubmitTrigger};
use crate::related::binding_update::{DecideLocation, DecideName};
use crate::related::files::{
    AccessFile, AdmissionFile, LocationFile, MediaFile, NameFile, SubmissionFile, TriggerFile,
};
use crate::related::media::DecideMedia;
use crate::related::trigger::DecideTrigger;
use crate::related::{
    AccessReason, AccessRequest, AccessVerdict, Admission, AdmissionRequest, AdmissionVerdict, Bootstrap,
    LocationOutcome, LocationReason, LocationUpdate, LocationVerdict, MediaProtection, MediaReason, MediaRequest,
    MediaVerdict, NameOutcome, NameRefusal, NameRequest, NameVerdict, RejectCause, SubmissionReason, SubmissionVerdict,
    Trigger, TriggerOutcome, TriggerReason, TriggerSubmission, TriggerVerdict,
};
use crate::vocab::{Fqdn, NameError};
use crate::wasm::Decider;
use crate::wasm::plug::{RelatedDecision, Verdict};

/// One case of a related decision.
#[derive(Clone, Debug)]
pub struct RelatedCase {
    /// What the case shows.
    pub note: String,
    /// The policy the case is for, if it names one.
    pub policy: Option<String>,
    /// What is asked, and what it must get.
    pub ask: Ask,
}

/// What a related-decision case asks, and the verdict it must get (its fault aside: a case that wants
/// the engine's fail-closed verdict passes with any fault).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Ask {
    /// The trigger guard: a trigger.
    Trigger(Trigger, TriggerVerdict),
    /// Attach admission: a device attaching.
    Admission(AdmissionRequest, AdmissionVerdict),
    /// A server's trigger submission, its counts written out.
    Submission(TriggerSubmission, SubmissionVerdict),
    /// Access trust: an access.
    Access(AccessRequest, AccessVerdict),
    /// Media security: a call (a wanted voucher is the one on offer, released).
    Media(MediaRequest, MediaVerdict),
    /// A location update.
    Location(LocationUpdate, LocationVerdict),
    /// A name request.
    Name(NameRequest, NameVerdict),
}

impl RelatedCase {
    /// Whether the case is for a policy named `name` (cases that name none are for every policy).
    pub fn applies_to(&self, name: &str) -> bool {
        self.policy.as_deref().is_none_or(|policy| policy == name)
    }

    /// Asks `decider`: `Ok` with the verdict shown when it is what the case wants, else what went
    /// wrong. A fault fails the case unless the case wants the engine's fail-closed answer.
    pub fn run(&self, decider: &mut Decider, facts: &FactSet) -> Result<String, String> {
        match &self.ask {
            Ask::Trigger(trigger, want) => judge::<DecideTrigger>(decider, facts, trigger, want),
            Ask::Admission(request, want) => judge::<Admit>(decider, facts, request, want),
            Ask::Submission(submission, want) => judge::<SubmitTrigger>(decider, facts, submission, want),
            Ask::Access(request, want) => judge::<DecideAccess>(decider, facts, request, want),
            Ask::Media(request, want) => judge::<DecideMedia>(decider, facts, request, want),
            Ask::Location(update, want) => judge::<DecideLocation>(decider, facts, update, want),
            Ask::Name(request, want) => judge::<DecideName>(decider, facts, request, want),
        }
    }
}

/// Asks for `D` and compares: a fault fails the case unless it wants the fail-closed answer; else the
/// answers agree or not.
fn judge<D: RelatedDecision>(
    decider: &mut Decider,
    facts: &FactSet,
    request: &D::Request,
    want: &D::Verdict,
) -> Result<String, String> {
    let got = decider.related_here::<D>(facts, request);
    if let Some(fault) = got.fault()
        && !want.is_fail_closed()
    {
        return Err(format!("the policy failed: {fault}"));
    }
    if got.same_answer(want) { Ok(got.to_string()) } else { Err(format!("want {want}, got {got}")) }
}

/// The related-decision entries of a case file, as written.
#[derive(Default)]
pub(super) struct RawRelated {
    pub(super) triggers: Vec<RawTriggerCase>,
    pub(super) admissions: Vec<RawAdmissionCase>,
    pub(super) submissions: Vec<RawSubmissionCase>,
    pub(super) access: Vec<RawAccessCase>,
    pub(super) media: Vec<RawMediaCase>,
    pub(super) locations: Vec<RawLocationCase>,
    pub(super) names: Vec<RawNameCase>,
}

impl RawRelated {
    pub(super) fn is_empty(&self) -> bool {
        let RawRelated { triggers, admissions, submissions, access, media, locations, names } = self;
        triggers.is_empty()
            && admissions.is_empty()
            && submissions.is_empty()
            && access.is_empty()
            && media.is_empty()
            && locations.is_empty()
            && names.is_empty()
    }

    /// The cases, in the order of their kinds above and, within a kind, as written. Servers they name
    /// are interned in `builder`; errors name `file` and the entry.
    pub(super) fn build(
        self,
        file: &str,
        policy: Option<&String>,
        builder: &mut FactSetBuilder,
    ) -> Result<Vec<RelatedCase>, FileError> {
        let invalid = |field: String, message: String| FileError::Invalid { file: file.to_owned(), field, message };
        let mut cases = Vec::new();
        let mut push = |note: String, own: Option<String>, ask: Ask| {
            cases.push(RelatedCase { note, policy: own.or_else(|| policy.cloned()), ask });
        };
        let wanted = |field: &str, shape: &str| {
            invalid(format!("{field}.want"), format!("each case must say what it wants: `want = {shape}`"))
        };

        for (index, case) in self.triggers.into_iter().enumerate() {
            let field = format!("trigger-case[{index}]");
            let want = case.want.ok_or_else(|| wanted(&field, "{ outcome, reason }"))?;
            let naf = builder.server(case.trigger.naf.clone());
            let trigger = case
                .trigger
                .request(naf)
                .map_err(|(part, message)| invalid(format!("{field}.trigger.{part}"), message))?;
            push(
                case.note,
                case.policy,
                Ask::Trigger(trigger, TriggerVerdict { outcome: want.outcome, reason: want.reason, fault: None }),
            );
        }

        for (index, case) in self.admissions.into_iter().enumerate() {
            let field = format!("admission-case[{index}]");
            let want = case.want.ok_or_else(|| {
                wanted(&field, r#"{ admission = "allow", name }` or `{ admission = "reject", cause, back-off }"#)
            })?;
            let request = case
                .request
                .request(builder.server(case.request.server.clone()))
                .map_err(|(part, message)| invalid(format!("{field}.request.{part}"), message))?;
            let want =
                want.verdict(&request).map_err(|(part, message)| invalid(format!("{field}.want{part}"), message))?;
            push(case.note, case.policy, Ask::Admission(request, want));
        }

        for (index, case) in self.submissions.into_iter().enumerate() {
            let field = format!("submission-case[{index}]");
            let want = case.want.ok_or_else(|| wanted(&field, "{ accept, reason }"))?;
            let submission = case
                .submission
                .request(builder.server(case.submission.server.clone()))
                .map_err(|(part, message)| invalid(format!("{field}.submission.{part}"), message))?;
            let want = SubmissionVerdict { accept: want.accept, reason: want.reason, fault: None };
            push(case.note, case.policy, Ask::Submission(submission, want));
        }

        for (index, case) in self.access.into_iter().enumerate() {
            let field = format!("access-case[{index}]");
            let want = case.want.ok_or_else(|| wanted(&field, "{ trusted, reason, bootstrap }"))?;
            let bootstrap = match want.bootstrap.as_str() {
                "not-needed" => Bootstrap::NotNeeded,
                "none-available" => Bootstrap::NoneAvailable,
                method => Bootstrap::Use(method.parse().map_err(|e: NameError| {
                    invalid(format!("{field}.want.bootstrap"), format!("{e}; or `not-needed`, `none-available`"))
                })?),
            };
            let request = case.request.request();
            push(
                case.note,
                case.policy,
                Ask::Access(
                    request,
                    AccessVerdict { trusted: want.trusted, reason: want.reason, bootstrap, fault: None },
                ),
            );
        }

        for (index, case) in self.media.into_iter().enumerate() {
            let field = format!("media-case[{index}]");
            let want = case.want.ok_or_else(|| wanted(&field, "{ protection, reason, voucher }"))?;
            let released = match want.voucher.as_str() {
                "released" => true,
                "none" => false,
                other => {
                    return Err(invalid(
                        format!("{field}.want.voucher"),
                        format!("`{other}` is not a voucher outcome: write `released` or `none`"),
                    ));
                }
            };
            let request = case.request.request(b"case-file key");
            // A released voucher is the one on offer: the host releases no other.
            let voucher = if released { request.voucher.clone() } else { None };
            let want = MediaVerdict { protection: want.protection, reason: want.reason, voucher, fault: None };
            push(case.note, case.policy, Ask::Media(request, want));
        }

        for (index, case) in self.locations.into_iter().enumerate() {
            let field = format!("location-case[{index}]");
            let want = case.want.ok_or_else(|| wanted(&field, "{ outcome, reason }"))?;
            let update = case.update.request();
            push(
                case.note,
                case.policy,
                Ask::Location(update, LocationVerdict { outcome: want.outcome, reason: want.reason, fault: None }),
            );
        }

        for (index, case) in self.names.into_iter().enumerate() {
            let field = format!("name-case[{index}]");
            let want = case.want.ok_or_else(|| {
                wanted(&field, r#"{ outcome = "grant", name, bound-to }` or `{ outcome = "refuse", refusal }"#)
            })?;
            let want = match (want.outcome.as_str(), want.name, want.bound_to, want.refusal) {
                ("grant", Some(name), Some(bound_to), None) => NameOutcome::Grant { name, bound_to },
                ("refuse", None, None, Some(refusal)) => NameOutcome::Refuse(refusal),
                ("grant", ..) => {
                    return Err(invalid(
                        format!("{field}.want"),
                        "`grant` needs the `name` granted and `bound-to`, and no `refusal`".to_owned(),
                    ));
                }
                ("refuse", ..) => {
                    return Err(invalid(
                        format!("{field}.want"),
                        "`refuse` needs a `refusal`, and no `name` or `bound-to`".to_owned(),
                    ));
                }
                (other, ..) => {
                    return Err(invalid(
                        format!("{field}.want.outcome"),
                        format!("`{other}` is not a name outcome: write `grant` or `refuse`"),
                    ));
                }
            };
            let request = case.request.request();
            push(case.note, case.policy, Ask::Name(request, NameVerdict { outcome: want, record: None, fault: None }));
        }
        Ok(cases)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTriggerCase {
    note: String,
    policy: Option<String>,
    trigger: TriggerFile,
    want: Option<TriggerWant>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TriggerWant {
    pub(super) outcome: TriggerOutcome,
    pub(super) reason: TriggerReason,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAdmissionCase {
    note: String,
    policy: Option<String>,
    request: AdmissionFile,
    want: Option<AdmissionWant>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct AdmissionWant {
    admission: String,
    cause: Option<RejectCause>,
    back_off: Option<u64>,
    name: Option<String>,
    /// Whether the policy is asked; by default, when the method asks the server (the flag or a named
    /// server) and the subscription permits the server.
    asked: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSubmissionCase {
    note: String,
    policy: Option<String>,
    submission: SubmissionFile,
    want: Option<SubmissionWant>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct SubmissionWant {
    pub(super) accept: bool,
    pub(super) reason: SubmissionReason,
}

impl AdmissionWant {
    /// The verdict this wants for `request`; `Err` names the part of `want` (``, `.admission`) and what
    /// is wrong.
    pub(super) fn verdict(&self, request: &AdmissionRequest) -> Result<AdmissionVerdict, (&'static str, String)> {
        let admission = match (self.admission.as_str(), self.cause, self.back_off, &self.name) {
            ("allow", None, None, name) => Admission::Allow { name: name.clone() },
            ("reject", Some(cause), back_off, None) => {
                Admission::Reject { cause, back_off: back_off.map(Duration::from_secs) }
            }
            ("allow", ..) => return Err(("", "`allow` takes no `cause` or `back-off`".to_owned())),
            ("reject", ..) => {
                return Err((
                    "",
                    "`reject` needs a `cause` (and may give a `back-off` in seconds), and grants no `name`".to_owned(),
                ));
            }
            (other, ..) => {
                return Err((".admission", format!("`{other}` is not an admission: write `allow` or `reject`")));
            }
        };
        // By default the policy is asked when the method asks the server and the subscription permits
        // it; a case about the engine's own answers (a back-off) says `asked = false`.
        let asked = self.asked.unwrap_or(request.server_permitted && request.asks_server());
        Ok(AdmissionVerdict { admission, asked, fault: None })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAccessCase {
    note: String,
    policy: Option<String>,
    request: AccessFile,
    want: Option<AccessWant>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccessWant {
    trusted: bool,
    reason: AccessReason,
    bootstrap: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMediaCase {
    note: String,
    policy: Option<String>,
    request: MediaFile,
    want: Option<MediaWant>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct MediaWant {
    pub(super) protection: MediaProtection,
    pub(super) reason: MediaReason,
    /// `released` or `none`.
    pub(super) voucher: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLocationCase {
    note: String,
    policy: Option<String>,
    update: LocationFile,
    want: Option<LocationWant>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LocationWant {
    pub(super) outcome: LocationOutcome,
    pub(super) reason: LocationReason,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNameCase {
    note: String,
    policy: Option<String>,
    request: NameFile,
    want: Option<NameWant>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct NameWant {
    pub(super) outcome: String,
    pub(super) name: Option<Fqdn>,
    pub(super) bound_to: Option<String>,
    pub(super) refusal: Option<NameRefusal>,
}
