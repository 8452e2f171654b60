//! The related decisions over both APIs: `POST /v1/related/{decision}` and the gRPC `DecideTrigger`,
//! `Admit`, … calls, with the requests as the case files write them (`pathsec::related::files`). Each
//! decision is made here once, into an answer both front ends send (JSON as it is, gRPC field for field).

use pathsec::Fqdn;
use pathsec::PolicyFault;
use pathsec::files::parse_named;
use pathsec::related::files::{AccessFile, AdmissionFile, LocationFile, MediaFile, NameFile, TriggerFile};
use pathsec::related::{Admission, Bootstrap, NameOutcome};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ApiError;
use crate::service::Service;

/// The decisions, by the name their route takes.
pub const DECISIONS: &[&str] = &["trigger", "admission", "submission", "access", "media", "location", "name"];

/// The answer of the trigger guard and of a location update: an outcome and its reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OutcomeAnswer {
    /// What to do: the trigger's handling, or the update accepted or refused.
    pub outcome: &'static str,
    /// Why.
    pub reason: &'static str,
    /// The policy fault, when the verdict failed closed on one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
}

/// Attach admission's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct AdmissionAnswer {
    /// `allow` or `reject`.
    pub admission: String,
    /// For `allow`: the name granted, when the device proposed one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The server (the policy) was asked; `false` when the engine answered itself (no flag and no named
    /// server, the subscription forbids the server, the device is backing off, the back-off table is
    /// full).
    pub asked: bool,
    /// For `reject`: the cause.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<&'static str>,
    /// For `reject`: the back-off, in seconds, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub back_off: Option<u64>,
    /// The policy fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
}

/// A server's trigger submission: the runtime counts it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmissionAsk {
    /// The server submitting a trigger.
    pub server: Fqdn,
}

/// A trigger submission's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SubmissionAnswer {
    /// Deliver the trigger.
    pub accept: bool,
    /// Why.
    pub reason: &'static str,
    /// The policy fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
}

/// Access trust's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AccessAnswer {
    /// The access is trusted.
    pub trusted: bool,
    /// Why.
    pub reason: &'static str,
    /// `not-needed`, `none-available`, or the bootstrap method to use.
    pub bootstrap: String,
    /// The policy fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
}

/// Media security's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MediaAnswer {
    /// The call's protection.
    pub protection: &'static str,
    /// Why.
    pub reason: &'static str,
    /// `released` (the voucher on offer may be used) or `none`.
    pub voucher: &'static str,
    /// The policy fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
}

/// A name request's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct NameAnswer {
    /// `grant` or `refuse`.
    pub outcome: String,
    /// For `grant`: the name granted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// For `grant`: whom the name is bound to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bound_to: Option<String>,
    /// For `refuse`: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<&'static str>,
    /// The policy fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
}

fn fault(fault: Option<&std::sync::Arc<PolicyFault>>) -> Option<String> {
    fault.map(ToString::to_string)
}

/// The trigger guard.
pub fn trigger(service: &Service, file: &TriggerFile) -> Result<OutcomeAnswer, ApiError> {
    let naf = service.server(&file.naf, "naf")?;
    let trigger =
        file.request(naf).map_err(|(field, message)| ApiError::invalid(field, format!("`{field}`: {message}")))?;
    let verdict = service.with_worker(|worker| Ok(worker.decide_trigger(&trigger)))?;
    Ok(OutcomeAnswer {
        outcome: verdict.outcome.name(),
        reason: verdict.reason.name(),
        fault: fault(verdict.fault.as_ref()),
    })
}

/// Attach admission.
pub fn admission(service: &Service, file: &AdmissionFile) -> Result<AdmissionAnswer, ApiError> {
    let request = file
        .request(service.server(&file.server, "server")?)
        .map_err(|(field, message)| ApiError::invalid(field, format!("`{field}`: {message}")))?;
    let verdict = service.with_worker(|worker| Ok(worker.admit(&request)))?;
    let (admission, name, cause, back_off) = match verdict.admission {
        Admission::Allow { name } => ("allow".to_owned(), name, None, None),
        Admission::Reject { cause, back_off } => {
            ("reject".to_owned(), None, Some(cause.name()), back_off.map(|back_off| back_off.as_secs()))
        }
        other => (format!("{other:?}"), None, None, None),
    };
    Ok(AdmissionAnswer { admission, name, asked: verdict.asked, cause, back_off, fault: fault(verdict.fault.as_ref()) })
}

/// A server's trigger submission, counted by the runtime.
pub fn submission(service: &Service, ask: &SubmissionAsk) -> Result<SubmissionAnswer, ApiError> {
    let server = service.server(&ask.server, "server")?;
    let verdict = service.with_worker(|worker| Ok(worker.submit_trigger(server)))?;
    Ok(SubmissionAnswer { accept: verdict.accept, reason: verdict.reason.name(), fault: fault(verdict.fault.as_ref()) })
}

/// Access trust.
pub fn access(service: &Service, file: &AccessFile) -> Result<AccessAnswer, ApiError> {
    let verdict = service.with_worker(|worker| Ok(worker.decide_access(&file.request())))?;
    let bootstrap = match verdict.bootstrap {
        Bootstrap::NotNeeded => "not-needed".to_owned(),
        Bootstrap::NoneAvailable => "none-available".to_owned(),
        Bootstrap::Use(method) => method.name().to_owned(),
        other => format!("{other:?}"),
    };
    Ok(AccessAnswer {
        trusted: verdict.trusted,
        reason: verdict.reason.name(),
        bootstrap,
        fault: fault(verdict.fault.as_ref()),
    })
}

/// Media security. The voucher's key stays with the caller: the answer says whether it is released.
pub fn media(service: &Service, file: &MediaFile) -> Result<MediaAnswer, ApiError> {
    let verdict = service.with_worker(|worker| Ok(worker.decide_media(&file.request(b""))))?;
    Ok(MediaAnswer {
        protection: verdict.protection.name(),
        reason: verdict.reason.name(),
        voucher: if verdict.voucher.is_some() { "released" } else { "none" },
        fault: fault(verdict.fault.as_ref()),
    })
}

/// A location update.
pub fn location(service: &Service, file: &LocationFile) -> Result<OutcomeAnswer, ApiError> {
    let verdict = service.with_worker(|worker| Ok(worker.decide_location(&file.request())))?;
    Ok(OutcomeAnswer {
        outcome: verdict.outcome.name(),
        reason: verdict.reason.name(),
        fault: fault(verdict.fault.as_ref()),
    })
}

/// A name request.
pub fn name(service: &Service, file: &NameFile) -> Result<NameAnswer, ApiError> {
    let verdict = service.with_worker(|worker| Ok(worker.decide_name(&file.request())))?;
    let (outcome, name, bound_to, refusal) = match verdict.outcome {
        NameOutcome::Grant { name, bound_to } => ("grant".to_owned(), Some(name.to_string()), Some(bound_to), None),
        NameOutcome::Refuse(refusal) => ("refuse".to_owned(), None, None, Some(refusal.name())),
        other => (format!("{other:?}"), None, None, None),
    };
    Ok(NameAnswer { outcome, name, bound_to, refusal, fault: fault(verdict.fault.as_ref()) })
}

/// Decides `decision` on the JSON body `text` (the HTTP route).
pub fn decide(service: &Service, decision: &str, text: &str) -> Result<Value, ApiError> {
    fn json<T: Serialize>(answer: T) -> Value {
        // Plain fields: serialising them cannot fail.
        serde_json::to_value(answer).unwrap_or(Value::Null)
    }
    let name = "request.json";
    Ok(match decision {
        "trigger" => json(trigger(service, &parse_named(name, text).map_err(ApiError::from_file)?)?),
        "admission" => json(admission(service, &parse_named(name, text).map_err(ApiError::from_file)?)?),
        "submission" => json(submission(service, &parse_named(name, text).map_err(ApiError::from_file)?)?),
        "access" => json(access(service, &parse_named(name, text).map_err(ApiError::from_file)?)?),
        "media" => json(media(service, &parse_named(name, text).map_err(ApiError::from_file)?)?),
        "location" => json(location(service, &parse_named(name, text).map_err(ApiError::from_file)?)?),
        "name" => json(self::name(service, &parse_named(name, text).map_err(ApiError::from_file)?)?),
        other => {
            return Err(ApiError::not_found(
                "decision",
                format!("no related decision `{other}`: one of {}", DECISIONS.join(", ")),
            ));
        }
    })
}
