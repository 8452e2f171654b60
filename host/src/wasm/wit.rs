//! The only place the WIT bindings are generated — `pathsec:policy@0.2.0`'s host world, and 0.1.0's
//! `path-secure-packed` for the adapter that still runs policies built for it ([`v0_1`]) —; the host
//! world's optional exports, one line each; and the conversions of the `decide` interface between the
//! library's types and the generated ones (the related decisions convert their own). Every conversion
//! here is a copy of small values: no allocation per decision.

use crate::facts::FactSet;
use crate::vocab::{
    self as request, AccessKind, Action, Event, PlmnId, Reason, Registration, RegistrationSource, Request, Role,
};
use crate::wasm::plug::{Erased, ErasedExport, OptionalExport};

// The world with every export the host knows. A policy must export `decide` and may export the others;
// `Policy` looks each one up on its own (`GuestIndices`), so a policy with only `decide` loads.
// `OptionalExport` is implemented for each optional one by `optional_exports!` below.
wasmtime::component::bindgen!({ path: "../wit", world: "pathsec-host" });

pub(crate) use self::exports::pathsec::policy::{decide, decide_packed, decide_scalar};
pub(crate) use self::pathsec::policy::types as wit;

/// The export every policy must have, as it appears in the component.
pub(crate) const DECIDE_EXPORT: &str = "pathsec:policy/decide@0.2.0";
/// The optional packed batch export.
pub(crate) const PACKED_EXPORT: &str = "pathsec:policy/decide-packed@0.2.0";
/// The optional scalar single decision export.
pub(crate) const SCALAR_EXPORT: &str = "pathsec:policy/decide-scalar@0.2.0";
/// The types interface a policy imports (types only, no functions).
pub(crate) const TYPES_IMPORT: &str = "pathsec:policy/types@0.2.0";

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
    TriggerGuard = trigger_guard, "pathsec:policy/trigger-guard@0.2.0", "pathsec_policy::export_trigger_guard!";
    /// `pathsec:policy/attach-admission`: may a device register with a server.
    AttachAdmission = attach_admission, "pathsec:policy/attach-admission@0.2.0", "pathsec_policy::export_attach_admission!";
    /// `pathsec:policy/access-trust`: access trust and the bootstrap method.
    AccessTrust = access_trust, "pathsec:policy/access-trust@0.2.0", "pathsec_policy::export_access_trust!";
    /// `pathsec:policy/media-security`: media over a CS leg.
    MediaSecurity = media_security, "pathsec:policy/media-security@0.2.0", "pathsec_policy::export_media_security!";
    /// `pathsec:policy/binding-update`: location and name updates at a mobility anchor.
    BindingUpdate = binding_update, "pathsec:policy/binding-update@0.2.0", "pathsec_policy::export_binding_update!";
}

pub(crate) fn plmn(id: PlmnId) -> wit::PlmnId {
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
            path_a: facts
                .path_a_in_force()
                .map(|(network, terms)| (u64::from(network.key()) << 32) | u64::from(terms.bits()))
                .collect(),
            path_b: facts
                .path_b()
                .iter()
                .map(|(home, server)| (u64::from(home.key()) << 32) | u64::from(server.get()))
                .collect(),
            interconnect: facts.interconnect().iter().map(|network| network.key()).collect(),
            interconnect_per_home: facts
                .interconnect_per_home()
                .iter()
                .map(|(home, visited)| (u64::from(home.key()) << 32) | u64::from(visited.key()))
                .collect(),
        },
        server_networks: facts
            .server_networks()
            .iter()
            .map(|(server, network)| (u64::from(server.get()) << 32) | u64::from(network.key()))
            .collect(),
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
        link: request.link.map(link),
        registration: match request.registration {
            Registration::Agreed(agreement) => {
                let mut flags = wit::Agreement::empty();
                if agreement.application_security {
                    flags |= wit::Agreement::APPLICATION_SECURITY;
                }
                if agreement.accept_plain_unciphered {
                    flags |= wit::Agreement::ACCEPT_PLAIN_UNCIPHERED;
                }
                match agreement.source {
                    RegistrationSource::NetworkView => wit::Registration::NetworkView(flags),
                    RegistrationSource::DeviceReport => wit::Registration::DeviceReport(flags),
                    RegistrationSource::ServerIndication => wit::Registration::ServerIndication(flags),
                }
            }
            Registration::Mismatch => wit::Registration::Mismatch,
            _ => wit::Registration::None,
        },
    }
}

#[inline]
fn link(link: request::LinkState) -> wit::LinkState {
    let mut flags = wit::LinkState::empty();
    if link.ciphering {
        flags |= wit::LinkState::CIPHERING;
    }
    if link.integrity {
        flags |= wit::LinkState::INTEGRITY;
    }
    flags
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
        wit::Reason::AccessNotProtected => Reason::AccessNotProtected,
        wit::Reason::RegistrationRequiresApplicationSecurity => Reason::RegistrationRequiresApplicationSecurity,
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

/// `pathsec:policy@0.1.0`'s `path-secure-packed`, for policies built before 0.2.0 (`wit/0.1.0/`), and
/// what the adapter gives them: the 0.2.0 request with the registration as 0.1.0 had it, and the flat
/// List 3 only. Their reasons are 0.2.0's first fifteen, in the same order.
pub(crate) mod v0_1 {
    wasmtime::component::bindgen!({ path: "../wit/0.1.0", world: "path-secure-packed" });

    pub(crate) use self::exports::pathsec::policy::{decide, decide_packed};
    pub(crate) use self::pathsec::policy::types as wit;

    use super::wit as now;
    use crate::facts::{FactSet, PathATerms};
    use crate::vocab::{Action, Reason, Registration, Request, ServerId};

    /// The export a 0.1.0 policy has.
    pub(crate) const DECIDE_EXPORT: &str = "pathsec:policy/decide@0.1.0";
    /// Its packed batch export.
    pub(crate) const PACKED_EXPORT: &str = "pathsec:policy/decide-packed@0.1.0";
    /// Its types interface.
    pub(crate) const TYPES_IMPORT: &str = "pathsec:policy/types@0.1.0";

    /// The registration as 0.1.0 has it: an agreement that requires application-layer security is a
    /// `mismatch` (the only case 0.1.0 secures on); any other standing agreement is `agreed`.
    pub(crate) fn registration(registration: Registration) -> wit::Registration {
        match registration {
            Registration::Agreed(agreement) if agreement.application_security => wit::Registration::Mismatch,
            Registration::Agreed(_) => wit::Registration::Agreed,
            Registration::Mismatch => wit::Registration::Mismatch,
            _ => wit::Registration::None,
        }
    }

    /// The facts as 0.1.0 carries them: per-home List 3 entries and the servers' networks are left out (and
    /// List 2 pairs that name another network than their server's), so the policy trusts less.
    pub(crate) fn facts(facts: &FactSet) -> wit::FactSet {
        let now = super::facts(facts);
        wit::FactSet {
            generation: now.generation,
            server_names: now.server_names,
            lists: wit::TrustLists {
                // 0.1.0 knows no terms: the networks whose entry vouches for 3GPP access (an entry's
                // default), and no integrity requirement (0.1.0's rule asks for both flags anyway).
                path_a: now
                    .lists
                    .path_a
                    .iter()
                    .filter(|entry| (**entry as u8) & PathATerms::DEFAULT.access.bits() != 0)
                    .map(|entry| (entry >> 32) as u32)
                    .collect(),
                // 0.1.0 reads List 2 for the device's home: a pair naming another network than the one
                // its server is attached to is left out, so a device whose home is not that network
                // finds no pair and secures (it trusts less, never more).
                path_b: now
                    .lists
                    .path_b
                    .iter()
                    .copied()
                    .filter(|&key| {
                        let (network, server) = ((key >> 32) as u32, ServerId::new(key as u32));
                        facts.server_network(server).is_none_or(|attached| attached.key() == network)
                    })
                    .collect(),
                interconnect: now.lists.interconnect,
            },
        }
    }

    pub(crate) fn request(request: &Request) -> wit::Request {
        let now = super::request(request);
        wit::Request {
            role: match now.role {
                now::Role::Server => wit::Role::Server,
                now::Role::Device => wit::Role::Device,
            },
            event: match now.event {
                now::Event::SendData => wit::Event::SendData,
                now::Event::ReceiveUnprotected => wit::Event::ReceiveUnprotected,
                now::Event::ReceiveProtected => wit::Event::ReceiveProtected,
                now::Event::ReceiveTrigger(check) => wit::Event::ReceiveTrigger(wit::TriggerCheck {
                    access_integrity: match check.access_integrity {
                        now::AccessIntegrity::Verified => wit::AccessIntegrity::Verified,
                        now::AccessIntegrity::Absent => wit::AccessIntegrity::Absent,
                        now::AccessIntegrity::Failed => wit::AccessIntegrity::Failed,
                    },
                    end_to_end: match check.end_to_end {
                        now::EndToEnd::Valid => wit::EndToEnd::Valid,
                        now::EndToEnd::Absent => wit::EndToEnd::Absent,
                        now::EndToEnd::Invalid => wit::EndToEnd::Invalid,
                    },
                }),
                now::Event::SendTrigger => wit::Event::SendTrigger,
            },
            server: now.server,
            attach: wit::Attach {
                serving: now.attach.serving.map(plmn),
                home: plmn(now.attach.home),
                access: match now.attach.access {
                    now::AccessKind::ThreeGpp => wit::AccessKind::ThreeGpp,
                    now::AccessKind::TrustedNonThreeGpp => wit::AccessKind::TrustedNonThreeGpp,
                    now::AccessKind::UntrustedNonThreeGpp => wit::AccessKind::UntrustedNonThreeGpp,
                    now::AccessKind::Wireline => wit::AccessKind::Wireline,
                },
            },
            // 0.1.0 has no unknown link state: unknown is both off, as 0.1.0 hosts sent it.
            link: {
                let link = request.link.unwrap_or(crate::vocab::LinkState::OFF);
                wit::LinkState { ciphering: link.ciphering, integrity: link.integrity }
            },
            registration: registration(request.registration),
        }
    }

    fn plmn(id: now::PlmnId) -> wit::PlmnId {
        wit::PlmnId { mcc: id.mcc, mnc: id.mnc, mnc_digits: id.mnc_digits }
    }

    /// A 0.1.0 decision: its reasons are 0.2.0's first fifteen.
    pub(crate) fn decision(decision: wit::Decision) -> (Action, Reason) {
        (Action::ALL[decision.action as usize], Reason::ALL[decision.reason as usize])
    }
}
