//! The only place the WIT bindings are generated, and the conversions between the library's types and
//! the generated ones. Every conversion here is a copy of small values: no allocation per decision.

use crate::decision::{Action, Reason};
use crate::facts::{AccessKind, FactSet};
use crate::plmn::PlmnId;
use crate::request::{self, Event, Registration, Request, Role};

// The world with every export the host knows. A policy must export `decide` and may export the others;
// `Policy` looks each one up on its own (`GuestIndices`), so a policy with only `decide` loads.
wasmtime::component::bindgen!({ path: "../wit", world: "pathsec-host" });

pub(crate) use self::exports::pathsec::policy::{
    access_trust, attach_admission, binding_update, decide, decide_packed, media_security, trigger_guard,
};
use self::pathsec::policy::types as wit;

/// The export every policy must have, as it appears in the component.
pub(crate) const DECIDE_EXPORT: &str = "pathsec:policy/decide@0.1.0";
/// The optional packed batch export.
pub(crate) const PACKED_EXPORT: &str = "pathsec:policy/decide-packed@0.1.0";
/// An optional export for a related decision: its name, and how a Rust SDK policy exports it.
pub(crate) struct Related {
    pub(crate) export: &'static str,
    pub(crate) sdk_macro: &'static str,
}

/// The trigger guard.
pub(crate) const TRIGGER_GUARD: Related =
    Related { export: "pathsec:policy/trigger-guard@0.1.0", sdk_macro: "pathsec_policy::export_trigger_guard!" };
/// Access trust and bootstrap.
pub(crate) const ACCESS_TRUST: Related =
    Related { export: "pathsec:policy/access-trust@0.1.0", sdk_macro: "pathsec_policy::export_access_trust!" };
/// Media security over a CS leg.
pub(crate) const MEDIA_SECURITY: Related =
    Related { export: "pathsec:policy/media-security@0.1.0", sdk_macro: "pathsec_policy::export_media_security!" };
/// Binding and name updates.
pub(crate) const BINDING_UPDATE: Related =
    Related { export: "pathsec:policy/binding-update@0.1.0", sdk_macro: "pathsec_policy::export_binding_update!" };
/// Attach admission.
pub(crate) const ATTACH_ADMISSION: Related =
    Related { export: "pathsec:policy/attach-admission@0.1.0", sdk_macro: "pathsec_policy::export_attach_admission!" };
/// The types interface a policy imports (types only, no functions).
pub(crate) const TYPES_IMPORT: &str = "pathsec:policy/types@0.1.0";

fn plmn(id: PlmnId) -> wit::PlmnId {
    wit::PlmnId { mcc: id.mcc(), mnc: id.mnc(), mnc_digits: id.mnc_digits() }
}

/// The fact set as the WIT carries it: names one per line, lists as sorted integer keys (a `FactSet`
/// keeps its lists sorted, and `PlmnId` orders as its key does).
pub(crate) fn facts(facts: &FactSet) -> wit::FactSet {
    let mut server_names = String::new();
    for (index, (_, fqdn)) in facts.servers().enumerate() {
        if index > 0 {
            server_names.push('\n');
        }
        server_names.push_str(fqdn.as_str());
    }
    wit::FactSet {
        generation: facts.generation(),
        server_names,
        lists: wit::TrustLists {
            path_a: facts.path_a().iter().map(|network| network.key()).collect(),
            path_b: facts
                .path_b()
                .iter()
                .map(|(home, server)| (u64::from(home.key()) << 32) | u64::from(server.get()))
                .collect(),
            interconnect: facts.interconnect().iter().map(|network| network.key()).collect(),
        },
    }
}

pub(crate) fn request(request: &Request) -> wit::Request {
    wit::Request {
        role: match request.role {
            Role::Server => wit::Role::Server,
            Role::Device => wit::Role::Device,
        },
        event: match request.event {
            Event::SendData => wit::Event::SendData,
            Event::ReceiveUnprotected => wit::Event::ReceiveUnprotected,
            Event::ReceiveProtected => wit::Event::ReceiveProtected,
            Event::ReceiveTrigger(check) => wit::Event::ReceiveTrigger(trigger(check)),
            Event::SendTrigger => wit::Event::SendTrigger,
        },
        server: request.server.get(),
        attach: wit::Attach {
            serving: request.attach.serving.map(plmn),
            home: plmn(request.attach.home),
            access: match request.attach.access {
                AccessKind::ThreeGpp => wit::AccessKind::ThreeGpp,
                AccessKind::TrustedNon3gpp => wit::AccessKind::TrustedNonThreeGpp,
                AccessKind::UntrustedNon3gpp => wit::AccessKind::UntrustedNonThreeGpp,
                AccessKind::Wireline => wit::AccessKind::Wireline,
            },
        },
        link: wit::LinkState { ciphering: request.link.ciphering, integrity: request.link.integrity },
        registration: match request.registration {
            Registration::None => wit::Registration::None,
            Registration::Agreed => wit::Registration::Agreed,
            Registration::Mismatch => wit::Registration::Mismatch,
        },
    }
}

fn trigger(check: request::TriggerCheck) -> wit::TriggerCheck {
    wit::TriggerCheck {
        access_integrity: match check.access_integrity {
            request::AccessIntegrity::Verified => wit::AccessIntegrity::Verified,
            request::AccessIntegrity::Absent => wit::AccessIntegrity::Absent,
            request::AccessIntegrity::Failed => wit::AccessIntegrity::Failed,
        },
        end_to_end: match check.end_to_end {
            request::EndToEnd::Valid => wit::EndToEnd::Valid,
            request::EndToEnd::Absent => wit::EndToEnd::Absent,
            request::EndToEnd::Invalid => wit::EndToEnd::Invalid,
        },
    }
}

pub(crate) fn decision(decision: wit::Decision) -> (Action, Reason) {
    let action = match decision.action {
        wit::Action::SendPlain => Action::SendPlain,
        wit::Action::SecureThenSend => Action::SecureThenSend,
        wit::Action::Accept => Action::Accept,
        wit::Action::DiscardAndSecure => Action::DiscardAndSecure,
        wit::Action::Discard => Action::Discard,
        wit::Action::ProtectTrigger => Action::ProtectTrigger,
    };
    let reason = match decision.reason {
        wit::Reason::PathSecure => Reason::PathSecure,
        wit::Reason::ServingNetworkUnknown => Reason::ServingNetworkUnknown,
        wit::Reason::RegistrationMismatch => Reason::RegistrationMismatch,
        wit::Reason::AccessCipheringOff => Reason::AccessCipheringOff,
        wit::Reason::AccessIntegrityOff => Reason::AccessIntegrityOff,
        wit::Reason::PathANotTrusted => Reason::PathANotTrusted,
        wit::Reason::PathBNotTrusted => Reason::PathBNotTrusted,
        wit::Reason::InterconnectNotTrusted => Reason::InterconnectNotTrusted,
        wit::Reason::ApplicationLayerProtected => Reason::ApplicationLayerProtected,
        wit::Reason::TriggerIntegrityFailed => Reason::TriggerIntegrityFailed,
        wit::Reason::TriggerEndToEndValid => Reason::TriggerEndToEndValid,
        wit::Reason::TriggerUnprotected => Reason::TriggerUnprotected,
        wit::Reason::TriggerEndToEndInvalid => Reason::TriggerEndToEndInvalid,
        wit::Reason::PolicyRequiresApplicationSecurity => Reason::PolicyRequiresApplicationSecurity,
        wit::Reason::EventNotForRole => Reason::EventNotForRole,
    };
    (action, reason)
}

/// A trigger as the trigger guard takes it.
pub(crate) fn guarded_trigger(trigger: &crate::trigger::Trigger) -> trigger_guard::Trigger {
    trigger_guard::Trigger {
        naf: trigger.naf.get(),
        registered: trigger.registered,
        protection: trigger.protection.map(|p| trigger_guard::PushProtection {
            mac_verified: p.mac_verified,
            fields_covered: p.fields_covered,
            key_expired: p.key_expired,
        }),
        window: trigger.window.map(|w| trigger_guard::Window { opens_in: w.opens_in(), closes_in: w.closes_in() }),
    }
}

/// The trigger guard's answer in the library's terms.
pub(crate) fn trigger_verdict(
    verdict: trigger_guard::TriggerVerdict,
) -> (crate::trigger::TriggerOutcome, crate::trigger::TriggerReason) {
    use crate::trigger::{TriggerOutcome as O, TriggerReason as R};
    use trigger_guard::{TriggerOutcome as WO, TriggerReason as WR};
    let outcome = match verdict.outcome {
        WO::Accept => O::Accept,
        WO::Discard => O::Discard,
        WO::AcceptWithinWindow => O::AcceptWithinWindow,
    };
    let reason = match verdict.reason {
        WR::Protected => R::Protected,
        WR::Unprotected => R::Unprotected,
        WR::MacInvalid => R::MacInvalid,
        WR::FieldsUnprotected => R::FieldsUnprotected,
        WR::KeyExpired => R::KeyExpired,
        WR::ServerNotRegistered => R::ServerNotRegistered,
        WR::WindowClosed => R::WindowClosed,
        WR::WindowNotOpen => R::WindowNotOpen,
    };
    (outcome, reason)
}

/// An admission request as attach admission takes it.
pub(crate) fn admission_request(request: &crate::admission::AdmissionRequest) -> attach_admission::AdmissionRequest {
    attach_admission::AdmissionRequest {
        server: request.server.get(),
        attachment_blocked: request.attachment_blocked,
        server_permitted: request.server_permitted,
        trigger_quota_left: request.trigger_quota_left,
        quota_resets_in: request.quota_resets_in,
        trigger_rate: request.trigger_rate,
        trigger_rate_limit: request.trigger_rate_limit,
    }
}

/// Attach admission's answer in the library's terms.
pub(crate) fn admission(answer: attach_admission::Admission) -> crate::admission::Admission {
    use crate::admission::{Admission, RejectCause};
    use attach_admission::{Admission as W, RejectCause as C};
    match answer {
        W::Allow => Admission::Allow,
        W::Reject(rejection) => Admission::Reject {
            cause: match rejection.cause {
                C::AttachmentBlocked => RejectCause::AttachmentBlocked,
                C::ServerNotPermitted => RejectCause::ServerNotPermitted,
                C::QuotaExhausted => RejectCause::QuotaExhausted,
                C::RateExceeded => RejectCause::RateExceeded,
            },
            back_off: std::time::Duration::from_secs(u64::from(rejection.back_off_seconds)),
        },
    }
}

fn bootstrap_method(method: crate::access::BootstrapMethod) -> access_trust::BootstrapMethod {
    use crate::access::BootstrapMethod as M;
    match method {
        M::GbaPush => access_trust::BootstrapMethod::GbaPush,
        M::EapAka => access_trust::BootstrapMethod::EapAka,
        M::AccessNetworkKey => access_trust::BootstrapMethod::AccessNetworkKey,
        M::PreProvisionedKey => access_trust::BootstrapMethod::PreProvisionedKey,
    }
}

/// An access request as access trust takes it.
pub(crate) fn access_request(request: &crate::access::AccessRequest, facts: &FactSet) -> access_trust::AccessRequest {
    access_trust::AccessRequest {
        access: match request.access {
            AccessKind::ThreeGpp => wit::AccessKind::ThreeGpp,
            AccessKind::TrustedNon3gpp => wit::AccessKind::TrustedNonThreeGpp,
            AccessKind::UntrustedNon3gpp => wit::AccessKind::UntrustedNonThreeGpp,
            AccessKind::Wireline => wit::AccessKind::Wireline,
        },
        access_network_listed: request.access_network.as_deref().is_some_and(|id| facts.trusts_access_network(id)),
        tunnel_up: request.tunnel_up,
        keys: request
            .keys
            .iter()
            .map(|key| access_trust::AvailableKey { method: bootstrap_method(key.method), expired: key.expired })
            .collect(),
    }
}

/// Access trust's answer in the library's terms: (trusted, reason, bootstrap).
pub(crate) fn access_verdict(
    verdict: access_trust::AccessVerdict,
) -> (bool, crate::access::AccessReason, crate::access::Bootstrap) {
    use crate::access::{AccessReason as R, Bootstrap, BootstrapMethod as M};
    use access_trust::{AccessReason as WR, Bootstrap as WB, BootstrapMethod as WM};
    let reason = match verdict.reason {
        WR::ThreeGpp => R::ThreeGpp,
        WR::TrustedAccessListed => R::TrustedAccessListed,
        WR::TrustedAccessNotListed => R::TrustedAccessNotListed,
        WR::TunnelUp => R::TunnelUp,
        WR::TunnelDown => R::TunnelDown,
        WR::Wireline => R::Wireline,
    };
    let bootstrap = match verdict.bootstrap {
        WB::NotNeeded => Bootstrap::NotNeeded,
        WB::NoneAvailable => Bootstrap::NoneAvailable,
        WB::UseMethod(method) => Bootstrap::Use(match method {
            WM::GbaPush => M::GbaPush,
            WM::EapAka => M::EapAka,
            WM::AccessNetworkKey => M::AccessNetworkKey,
            WM::PreProvisionedKey => M::PreProvisionedKey,
        }),
    };
    (verdict.trusted, reason, bootstrap)
}

/// A media request as media security takes it: the voucher only as "one is on offer".
pub(crate) fn media_request(request: &crate::media::MediaRequest) -> media_security::MediaRequest {
    media_security::MediaRequest {
        crosses_cs_leg: request.crosses_cs_leg,
        via_gateway: request.via_gateway,
        network_path_secure: request.network_path_secure,
        call: media_security::CallParties { device: request.call.device.clone(), peer: request.call.peer.clone() },
        voucher_offered: request.voucher.is_some(),
    }
}

/// Media security's answer in the library's terms.
pub(crate) fn media_verdict(
    verdict: media_security::MediaVerdict,
) -> (crate::media::MediaProtection, crate::media::MediaReason) {
    use crate::media::{MediaProtection as P, MediaReason as R};
    use media_security::{MediaProtection as WP, MediaReason as WR};
    let protection = match verdict.protection {
        WP::NetworkLayer => P::NetworkLayer,
        WP::MediaLayer => P::MediaLayer,
        WP::Refuse => P::Refuse,
    };
    let reason = match verdict.reason {
        WR::PathSecure => R::PathSecure,
        WR::CsLeg => R::CsLeg,
        WR::PathNotSecure => R::PathNotSecure,
        WR::NoVoucher => R::NoVoucher,
    };
    (protection, reason)
}

/// A location update as binding updates take it.
pub(crate) fn location_update(update: &crate::binding::LocationUpdate) -> binding_update::LocationUpdate {
    binding_update::LocationUpdate { security_association: update.security_association }
}

/// A location update's answer in the library's terms.
pub(crate) fn location_verdict(
    verdict: binding_update::LocationVerdict,
) -> (crate::binding::LocationOutcome, crate::binding::LocationReason) {
    use crate::binding::{LocationOutcome as O, LocationReason as R};
    let outcome = match verdict.outcome {
        binding_update::LocationOutcome::Act => O::Act,
        binding_update::LocationOutcome::Ignore => O::Ignore,
    };
    let reason = match verdict.reason {
        binding_update::LocationReason::Protected => R::Protected,
        binding_update::LocationReason::NoSecurityAssociation => R::NoSecurityAssociation,
    };
    (outcome, reason)
}

/// A name request as binding updates take it.
pub(crate) fn name_request(request: &crate::binding::NameRequest) -> binding_update::NameRequest {
    binding_update::NameRequest {
        name: request.name.as_str().to_owned(),
        operator_domain: request.operator_domain.as_str().to_owned(),
        under_operator_domain: request.under_operator_domain(),
        name_free: request.name_free,
        requester: request.requester.clone(),
        security_association: request.security_association,
    }
}

/// A name request's answer in the library's terms.
pub(crate) fn name_outcome(outcome: binding_update::NameOutcome) -> crate::binding::NameOutcome {
    use crate::binding::{NameOutcome, NameRefusal};
    match outcome {
        binding_update::NameOutcome::Grant(bound_to) => NameOutcome::Grant { bound_to },
        binding_update::NameOutcome::Refuse(refusal) => NameOutcome::Refuse(match refusal {
            binding_update::NameRefusal::NoSecurityAssociation => NameRefusal::NoSecurityAssociation,
            binding_update::NameRefusal::OutsideOperatorDomain => NameRefusal::OutsideOperatorDomain,
            binding_update::NameRefusal::NameTaken => NameRefusal::NameTaken,
        }),
    }
}
