//! Write a [pathsec](../../README.md) policy in Rust.
//!
//! Implement [`Policy`] for a type — every method defaults to the reference rule, the method exactly —
//! override what your operator needs, and export it:
//!
//! ```ignore
//! use pathsec_policy::{AccessKind, Facts, PlmnId, Policy};
//!
//! struct TrustFrance;
//!
//! impl Policy for TrustFrance {
//!     /// Path A is protected in every French network (MCC 208), listed or not.
//!     fn path_a_trusted(facts: &Facts, serving: PlmnId, access: AccessKind) -> bool {
//!         serving.mcc == 208 || facts.path_a(serving, access)
//!     }
//! }
//!
//! pathsec_policy::export!(TrustFrance);
//! ```
//!
//! Build for `wasm32-wasip2` as a `cdylib`; the result is a component the pathsec host loads.
//!
//! The related decisions are optional, each a trait with the method as defaults and an export macro
//! used beside [`export!`]: [`TriggerGuard`] ([`export_trigger_guard!`]), [`AttachAdmission`]
//! ([`export_attach_admission!`]), [`AccessTrust`] ([`export_access_trust!`]), [`MediaSecurity`]
//! ([`export_media_security!`]) and [`BindingUpdate`] ([`export_binding_update!`]). A policy without
//! one gets the engine's fail-closed answer for that decision.

mod access;
mod admission;
mod binding;
mod facts;
mod keyed;
mod keys;
mod media;
mod packed;
mod rule;
mod trigger;

/// The WIT bindings (`pathsec:policy/path-secure-scalar`), generated once for every policy built on this crate.
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "path-secure-scalar",
        pub_export_macro: true,
        export_macro_name: "export_bindings",
        default_bindings_module: "pathsec_policy::bindings",
        additional_derives: [PartialEq, Eq, Hash],
    });
}

/// The bindings of the trigger guard (`trigger-guard-part`), for [`export_trigger_guard!`]; the
/// shared types are those of [`bindings`].
pub mod triggers {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "trigger-guard-part",
        pub_export_macro: true,
        export_macro_name: "export_trigger_guard_bindings",
        default_bindings_module: "pathsec_policy::triggers",
        with: { "pathsec:policy/types@0.2.0": crate::bindings::pathsec::policy::types },
    });
}

/// The bindings of access trust (`access-trust-part`), for [`export_access_trust!`]; the shared types
/// are those of [`bindings`].
pub mod access_bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "access-trust-part",
        pub_export_macro: true,
        export_macro_name: "export_access_trust_bindings",
        default_bindings_module: "pathsec_policy::access_bindings",
        with: { "pathsec:policy/types@0.2.0": crate::bindings::pathsec::policy::types },
    });
}

/// The bindings of media security (`media-security-part`), for [`export_media_security!`] (it uses no
/// shared type).
pub mod media_bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "media-security-part",
        pub_export_macro: true,
        export_macro_name: "export_media_security_bindings",
        default_bindings_module: "pathsec_policy::media_bindings",
    });
}

/// The bindings of binding updates (`binding-update-part`), for [`export_binding_update!`] (they use
/// no shared type).
pub mod binding_bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "binding-update-part",
        pub_export_macro: true,
        export_macro_name: "export_binding_update_bindings",
        default_bindings_module: "pathsec_policy::binding_bindings",
    });
}

/// The bindings of attach admission (`attach-admission-part`), for [`export_attach_admission!`]; the
/// shared types are those of [`bindings`].
pub mod admission_bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "attach-admission-part",
        pub_export_macro: true,
        export_macro_name: "export_attach_admission_bindings",
        default_bindings_module: "pathsec_policy::admission_bindings",
        with: { "pathsec:policy/types@0.2.0": crate::bindings::pathsec::policy::types },
    });
}

pub use access::AccessTrust;
pub use access_bindings::exports::pathsec::policy::access_trust::{
    AccessReason, AccessRequest, AccessVerdict, AvailableKey, Bootstrap, BootstrapMethod,
};
pub use admission::AttachAdmission;
pub use admission_bindings::exports::pathsec::policy::attach_admission::{
    Admission, AdmissionRequest, RejectCause, Rejection, SubmissionReason, SubmissionVerdict, TriggerSubmission,
};
pub use binding::BindingUpdate;
pub use binding_bindings::exports::pathsec::policy::binding_update::{
    GrantedName, LocationOutcome, LocationReason, LocationUpdate, LocationVerdict, NameOutcome, NameRefusal,
    NameRequest,
};
pub use bindings::pathsec::policy::types::{
    AccessIntegrity, AccessKind, Action, Agreement, Attach, Decision, EndToEnd, Event, LinkState, PlmnId, Reason,
    Registration, Request, Role, ServerId, TriggerCheck,
};
pub use facts::Facts;
pub use media::MediaSecurity;
pub use media_bindings::exports::pathsec::policy::media_security::{
    CallParties, MediaProtection, MediaReason, MediaRequest, MediaVerdict,
};
pub use rule::Policy;

impl LinkState {
    /// Access-layer ciphering is on.
    pub fn ciphering(self) -> bool {
        self.bits() & LinkState::CIPHERING.bits() != 0
    }

    /// Access-layer integrity protection is on.
    pub fn integrity(self) -> bool {
        self.bits() & LinkState::INTEGRITY.bits() != 0
    }

    /// The link state with these flags.
    pub fn new(ciphering: bool, integrity: bool) -> LinkState {
        LinkState::from_bits_retain(u8::from(ciphering) | u8::from(integrity) << 1)
    }
}

impl Agreement {
    /// The server decided that application-layer security is needed from now on.
    pub fn application_security(self) -> bool {
        self.bits() & Agreement::APPLICATION_SECURITY.bits() != 0
    }

    /// Device role only: the device accepts "no application-layer security" from this server even
    /// while its access-layer ciphering is off.
    pub fn accept_plain_unciphered(self) -> bool {
        self.bits() & Agreement::ACCEPT_PLAIN_UNCIPHERED.bits() != 0
    }
}
pub use trigger::TriggerGuard;
pub use triggers::exports::pathsec::policy::trigger_guard::{
    PushProtection, Trigger, TriggerOutcome, TriggerReason, TriggerVerdict, Window,
};

/// Exports a [`Policy`] as the component's `pathsec:policy/decide` interface, its packed batch
/// (`pathsec:policy/decide-packed`) and its scalar single decision (`pathsec:policy/decide-scalar`).
#[macro_export]
macro_rules! export {
    ($policy:ty) => {
        const _: () = {
            struct PathsecExport;

            impl $crate::bindings::exports::pathsec::policy::decide::Guest for PathsecExport {
                fn load(
                    facts: $crate::bindings::pathsec::policy::types::FactSet,
                ) -> ::core::result::Result<(), String> {
                    $crate::__export::load::<$policy>(facts)
                }

                fn decide(request: $crate::Request) -> $crate::Decision {
                    $crate::__export::decide::<$policy>(&request)
                }

                fn decide_batch(requests: Vec<$crate::Request>) -> Vec<$crate::Decision> {
                    $crate::__export::decide_batch::<$policy>(&requests)
                }
            }

            impl $crate::bindings::exports::pathsec::policy::decide_packed::Guest for PathsecExport {
                fn decide_packed(requests: Vec<u64>) -> Vec<u8> {
                    $crate::__export::decide_packed::<$policy>(&requests)
                }
            }

            impl $crate::bindings::exports::pathsec::policy::decide_scalar::Guest for PathsecExport {
                fn decide_one(first: u64, second: u64) -> u8 {
                    $crate::__export::decide_one::<$policy>(first, second)
                }
            }

    $crate::bindings::export_bindings!(PathsecExport with_types_in $crate::bindings);
        };
    };
}

/// Exports one related decision's interface: the one macro behind [`export_trigger_guard!`],
/// [`export_attach_admission!`], [`export_access_trust!`], [`export_media_security!`] and
/// [`export_binding_update!`]. Each function of the interface calls the policy's trait method of the
/// same name with the facts the policy holds.
#[doc(hidden)]
#[macro_export]
macro_rules! __export_related {
    (
        $policy:ty as $trait:ident in $bindings:ident :: $interface:ident by $export_bindings:ident {
            $( fn $function:ident($argument:ident: $argument_type:ident) -> $answer:ident; )+
        }
    ) => {
        const _: () = {
            struct PathsecRelated;

            impl $crate::$bindings::exports::pathsec::policy::$interface::Guest for PathsecRelated {
                $(
                    fn $function($argument: $crate::$argument_type) -> $crate::$answer {
                        $crate::__export::with_facts(|facts| <$policy as $crate::$trait>::$function(facts, &$argument))
                    }
                )+
            }

            $crate::$bindings::$export_bindings!(PathsecRelated with_types_in $crate::$bindings);
        };
    };
}

/// Exports a [`TriggerGuard`] as `pathsec:policy/trigger-guard`, beside [`export!`] of the same type.
#[macro_export]
macro_rules! export_trigger_guard {
    ($policy:ty) => {
        $crate::__export_related!($policy as TriggerGuard in triggers::trigger_guard by export_trigger_guard_bindings {
            fn decide_trigger(trigger: Trigger) -> TriggerVerdict;
        });
    };
}

/// Exports an [`AccessTrust`] as `pathsec:policy/access-trust`, beside [`export!`] of the same type.
#[macro_export]
macro_rules! export_access_trust {
    ($policy:ty) => {
        $crate::__export_related!($policy as AccessTrust in access_bindings::access_trust by export_access_trust_bindings {
            fn decide_access(request: AccessRequest) -> AccessVerdict;
        });
    };
}

/// Exports a [`MediaSecurity`] as `pathsec:policy/media-security`, beside [`export!`] of the same type.
#[macro_export]
macro_rules! export_media_security {
    ($policy:ty) => {
        $crate::__export_related!($policy as MediaSecurity in media_bindings::media_security by export_media_security_bindings {
            fn decide_media(request: MediaRequest) -> MediaVerdict;
        });
    };
}

/// Exports a [`BindingUpdate`] as `pathsec:policy/binding-update`, beside [`export!`] of the same type.
#[macro_export]
macro_rules! export_binding_update {
    ($policy:ty) => {
        $crate::__export_related!($policy as BindingUpdate in binding_bindings::binding_update by export_binding_update_bindings {
            fn decide_location(update: LocationUpdate) -> LocationVerdict;
            fn decide_name(request: NameRequest) -> NameOutcome;
        });
    };
}

/// Exports an [`AttachAdmission`] as `pathsec:policy/attach-admission`, beside [`export!`] of the same
/// type.
#[macro_export]
macro_rules! export_attach_admission {
    ($policy:ty) => {
        $crate::__export_related!($policy as AttachAdmission in admission_bindings::attach_admission by export_attach_admission_bindings {
            fn admit(request: AdmissionRequest) -> Admission;
            fn submit_trigger(submission: TriggerSubmission) -> SubmissionVerdict;
        });
    };
}

/// What [`export!`] expands to call; not part of the API.
#[doc(hidden)]
pub mod __export {
    use std::cell::RefCell;

    use crate::bindings::pathsec::policy::types::FactSet;
    use crate::{Decision, Facts, Policy, Request};

    thread_local! {
        static FACTS: RefCell<Facts> = RefCell::new(Facts::default());
    }

    pub fn load<P: Policy>(facts: FactSet) -> Result<(), String> {
        let facts = Facts::new(&facts);
        P::accept_facts(&facts)?;
        FACTS.with(|cell| *cell.borrow_mut() = facts);
        Ok(())
    }

    pub fn decide<P: Policy>(request: &Request) -> Decision {
        FACTS.with(|cell| P::decide(&cell.borrow(), request))
    }

    pub fn decide_batch<P: Policy>(requests: &[Request]) -> Vec<Decision> {
        FACTS.with(|cell| {
            let facts = cell.borrow();
            requests.iter().map(|request| P::decide(&facts, request)).collect()
        })
    }

    /// Runs `decide` with the facts the policy holds: how every related decision's export reaches them.
    pub fn with_facts<R>(decide: impl FnOnce(&Facts) -> R) -> R {
        FACTS.with(|cell| decide(&cell.borrow()))
    }

    pub fn decide_packed<P: Policy>(words: &[u64]) -> Vec<u8> {
        FACTS.with(|cell| {
            let facts = cell.borrow();
            words.chunks_exact(2).map(|pair| packed_one::<P>(&facts, pair[0], pair[1])).collect()
        })
    }

    pub fn decide_one<P: Policy>(first: u64, second: u64) -> u8 {
        FACTS.with(|cell| packed_one::<P>(&cell.borrow(), first, second))
    }

    /// One packed request's decision byte: from the words themselves when the policy is
    /// [`Policy::KEYED`], else through [`Policy::decide`].
    #[inline(always)]
    fn packed_one<P: Policy>(facts: &Facts, first: u64, second: u64) -> u8 {
        if P::KEYED {
            crate::keyed::decide::<P>(facts, first, second)
        } else {
            crate::packed::byte(P::decide(facts, &crate::packed::request(first, second)))
        }
    }
}
