//! `Policy`: a compiled, checked and pre-instantiated policy component, ready to make deciders from.

use std::sync::Arc;

use wasmtime::Store;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, InstancePre};

use crate::bindings::{
    ACCESS_TRUST, ATTACH_ADMISSION, BINDING_UPDATE, DECIDE_EXPORT, MEDIA_SECURITY, PACKED_EXPORT, TRIGGER_GUARD,
    access_trust, attach_admission, binding_update, decide, decide_packed, media_security, trigger_guard,
};
use crate::decider::Decider;
use crate::digest;
use crate::engine::Engine;
use crate::error::LoadError;
use crate::sandbox::{self, StoreState};

/// A loaded policy: compiled, checked to implement `path-secure`, its imports linked. Cheap to clone
/// and shared by threads; each thread decides through its own [`Decider`].
#[derive(Clone)]
pub struct Policy {
    inner: Arc<PolicyInner>,
}

struct PolicyInner {
    name: String,
    size: usize,
    digest: String,
    imports: Vec<String>,
    engine: Engine,
    pre: InstancePre<StoreState>,
    decide: decide::GuestIndices,
    /// Present when the policy exports the packed batch.
    packed: Option<decide_packed::GuestIndices>,
    /// Present when the policy exports the trigger guard.
    trigger_guard: Option<trigger_guard::GuestIndices>,
    /// Present when the policy exports attach admission.
    attach_admission: Option<attach_admission::GuestIndices>,
    /// Present when the policy exports access trust.
    access_trust: Option<access_trust::GuestIndices>,
    /// Present when the policy exports media security.
    media_security: Option<media_security::GuestIndices>,
    /// Present when the policy exports binding updates.
    binding_update: Option<binding_update::GuestIndices>,
}

/// The exports of one instance.
pub(crate) struct Exports {
    pub(crate) decide: decide::Guest,
    pub(crate) packed: Option<decide_packed::Guest>,
    pub(crate) trigger_guard: Option<trigger_guard::Guest>,
    pub(crate) attach_admission: Option<attach_admission::Guest>,
    pub(crate) access_trust: Option<access_trust::Guest>,
    pub(crate) media_security: Option<media_security::Guest>,
    pub(crate) binding_update: Option<binding_update::Guest>,
}

/// What a policy was compiled from: the component's size and SHA-256.
pub(crate) struct Source {
    pub(crate) size: usize,
    pub(crate) digest: String,
}

/// What the first bytes of a WebAssembly binary say it is.
enum Header {
    Component,
    CoreModule,
    NotWasm,
}

/// Refuses, before anything is compiled, a policy larger than the engine's limit, one whose signature
/// `engine` does not accept, and what is not a component.
pub(crate) fn admit(engine: &Engine, name: &str, bytes: &[u8], signature: Option<&str>) -> Result<(), LoadError> {
    engine.check_size(name, bytes.len() as u64)?;
    engine.trusted_keys().check(name, bytes, signature)?;
    check_header(name, bytes)
}

fn check_header(name: &str, bytes: &[u8]) -> Result<(), LoadError> {
    match header(bytes) {
        Header::Component => Ok(()),
        Header::CoreModule => Err(LoadError::CoreModule { name: name.to_owned() }),
        Header::NotWasm => Err(LoadError::NotWasm { name: name.to_owned() }),
    }
}

fn header(bytes: &[u8]) -> Header {
    match bytes.get(..8) {
        Some([0, b'a', b's', b'm', 1, 0, 0, 0]) => Header::CoreModule,
        Some([0, b'a', b's', b'm', _, _, 1, 0]) => Header::Component,
        _ => Header::NotWasm,
    }
}

impl Policy {
    /// Compiles, checks and pre-instantiates a component.
    pub(crate) fn load(
        engine: &Engine,
        name: &str,
        bytes: &[u8],
        signature: Option<&str>,
    ) -> Result<Policy, LoadError> {
        admit(engine, name, bytes, signature)?;
        let component = Component::new(engine.wasmtime(), bytes)
            .map_err(|e| LoadError::Compile { name: name.to_owned(), message: format!("{e:#}") })?;
        Policy::from_component(engine, name, Source { size: bytes.len(), digest: digest::sha256_hex(bytes) }, component)
    }

    /// Checks and pre-instantiates a compiled component.
    pub(crate) fn from_component(
        engine: &Engine,
        name: &str,
        source: Source,
        component: Component,
    ) -> Result<Policy, LoadError> {
        let name = name.to_owned();
        let ty = component.component_type();

        let imports: Vec<String> = ty.imports(engine.wasmtime()).map(|(import, _)| import.to_owned()).collect();
        if let Some(import) = imports.iter().find(|import| !sandbox::import_allowed(import)) {
            return Err(LoadError::UnsupportedImport { name, import: import.clone() });
        }
        let exports_decide = ty
            .exports(engine.wasmtime())
            .any(|(export, item)| export == DECIDE_EXPORT && matches!(item.ty, ComponentItem::ComponentInstance(_)));
        if !exports_decide {
            return Err(LoadError::MissingExport { name, export: DECIDE_EXPORT });
        }

        let instance_pre = engine
            .linker()
            .instantiate_pre(&component)
            .map_err(|e| LoadError::UnsupportedImport { name: name.clone(), import: format!("{e:#}") })?;
        let decide = decide::GuestIndices::new(&instance_pre).map_err(|e| LoadError::WrongWorld {
            name: name.clone(),
            export: DECIDE_EXPORT,
            message: format!("{e:#}"),
        })?;
        let exports = |wanted: &str| ty.exports(engine.wasmtime()).any(|(export, _)| export == wanted);
        let wrong_world = |export: &'static str| {
            let name = name.clone();
            move |e: wasmtime::Error| LoadError::WrongWorld { name, export, message: format!("{e:#}") }
        };
        let packed = match exports(PACKED_EXPORT) {
            false => None,
            true => Some(decide_packed::GuestIndices::new(&instance_pre).map_err(wrong_world(PACKED_EXPORT))?),
        };
        let trigger_guard = match exports(TRIGGER_GUARD.export) {
            false => None,
            true => Some(trigger_guard::GuestIndices::new(&instance_pre).map_err(wrong_world(TRIGGER_GUARD.export))?),
        };
        let attach_admission = match exports(ATTACH_ADMISSION.export) {
            false => None,
            true => {
                Some(attach_admission::GuestIndices::new(&instance_pre).map_err(wrong_world(ATTACH_ADMISSION.export))?)
            }
        };
        let access_trust = match exports(ACCESS_TRUST.export) {
            false => None,
            true => Some(access_trust::GuestIndices::new(&instance_pre).map_err(wrong_world(ACCESS_TRUST.export))?),
        };
        let media_security = match exports(MEDIA_SECURITY.export) {
            false => None,
            true => Some(media_security::GuestIndices::new(&instance_pre).map_err(wrong_world(MEDIA_SECURITY.export))?),
        };
        let binding_update = match exports(BINDING_UPDATE.export) {
            false => None,
            true => Some(binding_update::GuestIndices::new(&instance_pre).map_err(wrong_world(BINDING_UPDATE.export))?),
        };
        let inner = PolicyInner {
            name,
            size: source.size,
            digest: source.digest,
            imports,
            engine: engine.clone(),
            pre: instance_pre,
            decide,
            packed,
            trigger_guard,
            attach_admission,
            access_trust,
            media_security,
            binding_update,
        };
        Ok(Policy { inner: Arc::new(inner) })
    }

    /// The policy's name (its file name, or the name it was loaded with).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The SHA-256 of the component, in hex: what identifies this exact policy in reports and logs.
    pub fn digest(&self) -> &str {
        &self.inner.digest
    }

    /// The component's size in bytes.
    pub fn size(&self) -> usize {
        self.inner.size
    }

    /// What the component imports (WASI interfaces only; they grant no capability).
    pub fn imports(&self) -> &[String] {
        &self.inner.imports
    }

    /// A decider for this policy: one per thread. Its instance is made on first use.
    pub fn decider(&self) -> Decider {
        Decider::new(self.clone())
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// Whether the policy exports the packed batch (`decide-packed`), which batches then use.
    pub fn has_packed_batch(&self) -> bool {
        self.inner.packed.is_some()
    }

    /// Whether the policy exports the trigger guard (`pathsec:policy/trigger-guard`); without it,
    /// [`Decider::decide_trigger`] discards every trigger.
    pub fn has_trigger_guard(&self) -> bool {
        self.inner.trigger_guard.is_some()
    }

    /// Whether the policy exports attach admission (`pathsec:policy/attach-admission`); without it,
    /// [`Decider::admit`] rejects every registration.
    pub fn has_attach_admission(&self) -> bool {
        self.inner.attach_admission.is_some()
    }

    /// Whether the policy exports access trust (`pathsec:policy/access-trust`); without it,
    /// [`Decider::decide_access`] counts every access untrusted and names no bootstrap method.
    pub fn has_access_trust(&self) -> bool {
        self.inner.access_trust.is_some()
    }

    /// Whether the policy exports media security (`pathsec:policy/media-security`); without it,
    /// [`Decider::decide_media`] refuses every call's media.
    pub fn has_media_security(&self) -> bool {
        self.inner.media_security.is_some()
    }

    /// Whether the policy exports binding updates (`pathsec:policy/binding-update`); without it,
    /// [`Decider::decide_location`] ignores every update and [`Decider::decide_name`] refuses every name.
    pub fn has_binding_update(&self) -> bool {
        self.inner.binding_update.is_some()
    }

    /// A new instance in `store`, with its exports looked up and type-checked.
    pub(crate) fn instantiate(&self, store: &mut Store<StoreState>) -> wasmtime::Result<Exports> {
        let instance = self.inner.pre.instantiate(&mut *store)?;
        let decide = self.inner.decide.load(&mut *store, &instance)?;
        let packed = match &self.inner.packed {
            Some(indices) => Some(indices.load(&mut *store, &instance)?),
            None => None,
        };
        let trigger_guard = match &self.inner.trigger_guard {
            Some(indices) => Some(indices.load(&mut *store, &instance)?),
            None => None,
        };
        let attach_admission = match &self.inner.attach_admission {
            Some(indices) => Some(indices.load(&mut *store, &instance)?),
            None => None,
        };
        let access_trust = match &self.inner.access_trust {
            Some(indices) => Some(indices.load(&mut *store, &instance)?),
            None => None,
        };
        let media_security = match &self.inner.media_security {
            Some(indices) => Some(indices.load(&mut *store, &instance)?),
            None => None,
        };
        let binding_update = match &self.inner.binding_update {
            Some(indices) => Some(indices.load(&mut *store, &instance)?),
            None => None,
        };
        Ok(Exports { decide, packed, trigger_guard, attach_admission, access_trust, media_security, binding_update })
    }
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy").field("name", &self.inner.name).field("size", &self.inner.size).finish_non_exhaustive()
    }
}
