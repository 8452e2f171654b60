//! The related decisions over the API: `POST /v1/related/{decision}` with the request as the case
//! files write it (`pathsec::related::files`), answered with the verdict.

use pathsec::files::parse_named;
use pathsec::related::files::{AccessFile, AdmissionFile, LocationFile, MediaFile, NameFile, TriggerFile};
use pathsec::related::{Admission, Bootstrap, NameOutcome};
use pathsec::{Fqdn, ServerId};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::service::Service;

/// The decisions this route takes, by name.
pub const DECISIONS: &[&str] = &["trigger", "admission", "access", "media", "location", "name"];

/// Decides the related decision `decision` on the JSON `text`.
pub fn decide(service: &Service, decision: &str, text: &str) -> Result<Value, ApiError> {
    let fault = |fault: Option<&std::sync::Arc<pathsec::PolicyFault>>| fault.map(ToString::to_string);
    match decision {
        "trigger" => {
            let file: TriggerFile = parse_named("request.json", text).map_err(ApiError::from_file)?;
            let naf = server(service, &file.naf, "naf")?;
            let trigger = file
                .request(naf)
                .map_err(|(field, message)| ApiError::invalid(field, format!("`{field}`: {message}")))?;
            let verdict = service.with_worker(|worker| Ok(worker.decide_trigger(&trigger)))?;
            Ok(
                json!({ "outcome": verdict.outcome.name(), "reason": verdict.reason.name(), "fault": fault(verdict.fault.as_ref()) }),
            )
        }
        "admission" => {
            let file: AdmissionFile = parse_named("request.json", text).map_err(ApiError::from_file)?;
            let request = file.request(server(service, &file.server, "server")?);
            let verdict = service.with_worker(|worker| Ok(worker.admit(&request)))?;
            let admission = match verdict.admission {
                Admission::Allow => json!({ "admission": "allow" }),
                Admission::Reject { cause, back_off } => {
                    json!({ "admission": "reject", "cause": cause.name(), "back-off": back_off.as_secs() })
                }
                other => json!({ "admission": format!("{other:?}") }),
            };
            Ok(json!({ "admission": admission, "fault": fault(verdict.fault.as_ref()) }))
        }
        "access" => {
            let file: AccessFile = parse_named("request.json", text).map_err(ApiError::from_file)?;
            let verdict = service.with_worker(|worker| Ok(worker.decide_access(&file.request())))?;
            let bootstrap = match verdict.bootstrap {
                Bootstrap::NotNeeded => "not-needed".to_owned(),
                Bootstrap::NoneAvailable => "none-available".to_owned(),
                Bootstrap::Use(method) => method.name().to_owned(),
                other => format!("{other:?}"),
            };
            Ok(json!({
                "trusted": verdict.trusted, "reason": verdict.reason.name(), "bootstrap": bootstrap,
                "fault": fault(verdict.fault.as_ref()),
            }))
        }
        "media" => {
            let file: MediaFile = parse_named("request.json", text).map_err(ApiError::from_file)?;
            // The voucher's key stays with the caller: the answer says whether the voucher is released.
            let verdict = service.with_worker(|worker| Ok(worker.decide_media(&file.request(b""))))?;
            Ok(json!({
                "protection": verdict.protection.name(), "reason": verdict.reason.name(),
                "voucher": if verdict.voucher.is_some() { "released" } else { "none" },
                "fault": fault(verdict.fault.as_ref()),
            }))
        }
        "location" => {
            let file: LocationFile = parse_named("request.json", text).map_err(ApiError::from_file)?;
            let verdict = service.with_worker(|worker| Ok(worker.decide_location(&file.request())))?;
            Ok(
                json!({ "outcome": verdict.outcome.name(), "reason": verdict.reason.name(), "fault": fault(verdict.fault.as_ref()) }),
            )
        }
        "name" => {
            let file: NameFile = parse_named("request.json", text).map_err(ApiError::from_file)?;
            let verdict = service.with_worker(|worker| Ok(worker.decide_name(&file.request())))?;
            let outcome = match verdict.outcome {
                NameOutcome::Grant { bound_to } => json!({ "outcome": "grant", "bound-to": bound_to }),
                NameOutcome::Refuse(refusal) => json!({ "outcome": "refuse", "refusal": refusal.name() }),
                other => json!({ "outcome": format!("{other:?}") }),
            };
            Ok(json!({ "outcome": outcome, "fault": fault(verdict.fault.as_ref()) }))
        }
        other => Err(ApiError::not_found(
            "decision",
            format!("no related decision `{other}`: one of {}", DECISIONS.join(", ")),
        )),
    }
}

/// The server `fqdn` names, which the lists must know.
fn server(service: &Service, fqdn: &Fqdn, field: &str) -> Result<ServerId, ApiError> {
    service.runtime().lists().server_id(fqdn).ok_or_else(|| {
        ApiError::not_found(field, format!("server `{fqdn}` is in no list and not among the facts' servers"))
    })
}
