//! The only place the WIT bindings are generated; the host world's optional exports, one line each; and
//! the conversions of the `decide` interface between the library's types and the generated ones (the
//! related decisions convert their own). Every conversion here is a copy of small values: no
//! allocation per decision.

use crate::facts::FactSet;
use crate::vocab::{self as request, AccessKind, Action, Event, PlmnId, Reason, Registration, Request, Role};
use crate::wasm::plug::{Erased, ErasedExport, OptionalExport};

// The world with every export the host knows. A policy must export `decide` and may export the others;
// `Policy` looks each one up on its own (`GuestIndices`), so a policy with only `decide` loads.
// `OptionalExport` is implemented for each optional one by `optional_exports!` below.
wasmtime::component::bindgen!({ path: "../wit", world: "pathsec-host" });

pub(crate) use self::exports::pathsec::policy::{decide, decide_packed};
pub(crate) use self::pathsec::policy::types as wit;

/// The export every policy must have, as it appears in the component.
pub(crate) const DECIDE_EXPORT: &str = "pathsec:policy/decide@0.1.0";
/// The optional packed batch export.
pub(crate) const PACKED_EXPORT: &str = "pathsec:policy/decide-packed@0.1.0";
/// The types interface a policy imports (types only, no functions).
pub(crate) const TYPES_IMPORT: &str = "pathsec:policy/types@0.1.0";

/// Declares the host world's optional exports: a type implementing [`OptionalExport`] for each, and
/// [`OPTIONAL`], the table a policy resolves when it loads.
macro_rules! optional_exports {
    ($( $(#[$meta:meta])* $name:ident = $module:ident, $export:literal, $sdk_macro:literal; )*) => {
        $(
            $(#[$meta])*
            pub(crate) enum $name {}

            impl OptionalExport for $name {
                const EXPORT: &'static str = $export;
                const SDK_MACRO: &'static str = $sdk_macro;
                type Indices = exports::pathsec::policy::$module::GuestIndices;
                type Guest = exports::pathsec::policy::$module::Guest;

                fn indices(
                    pre: &wasmtime::component::InstancePre<crate::wasm::sandbox::StoreState>,
                ) -> wasmtime::Result<Self::Indices> {
                    Self::Indices::new(pre)
                }

                fn load(
                    indices: &Self::Indices,
                    store: &mut wasmtime::Store<crate::wasm::sandbox::StoreState>,
                    instance: &wasmtime::component::Instance,
                ) -> wasmtime::Result<Self::Guest> {
                    indices.load(store, instance)
                }
            }
        )*

        /// Every optional export of the host world, in the order `pathsec check` reports them.
        pub(crate) const OPTIONAL: &[&dyn ErasedExport] = &[$(&Erased::<$name>::NEW),*];
    };
}

optional_exports! {
    /// `pathsec:policy/trigger-guard`: GBA push triggers.
    TriggerGuard = trigger_guard, "pathsec:policy/trigger-guard@0.1.0", "pathsec_policy::export_trigger_guard!";
    /// `pathsec:policy/attach-admission`: may a device register with a server.
    AttachAdmission = attach_admission, "pathsec:policy/attach-admission@0.1.0", "pathsec_policy::export_attach_admission!";
    /// `pathsec:policy/access-trust`: access trust and the bootstrap method.
    AccessTrust = access_trust, "pathsec:policy/access-trust@0.1.0", "pathsec_policy::export_access_trust!";
    /// `pathsec:policy/media-security`: media over a CS leg.
    MediaSecurity = media_security, "pathsec:policy/media-security@0.1.0", "pathsec_policy::export_media_security!";
    /// `pathsec:policy/binding-update`: location and name updates at a mobility anchor.
    BindingUpdate = binding_update, "pathsec:policy/binding-update@0.1.0", "pathsec_policy::export_binding_update!";
}

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
            access: access_kind(request.attach.access),
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

/// An access kind as the WIT carries it.
pub(crate) fn access_kind(access: AccessKind) -> wit::AccessKind {
    match access {
        AccessKind::ThreeGpp => wit::AccessKind::ThreeGpp,
        AccessKind::TrustedNon3gpp => wit::AccessKind::TrustedNonThreeGpp,
        AccessKind::UntrustedNon3gpp => wit::AccessKind::UntrustedNonThreeGpp,
        AccessKind::Wireline => wit::AccessKind::Wireline,
    }
}
