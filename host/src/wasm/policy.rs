//! `Policy`: a compiled, checked and pre-instantiated policy component, ready to make deciders from.

use std::any::Any;
use std::sync::Arc;

use wasmtime::Store;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, InstancePre};

use crate::wasm::contract::{Contract, ContractIndices};
use crate::wasm::decider::Decider;
use crate::wasm::engine::{Engine, LoadError};
use crate::wasm::plug::{self, OptionalExport};
use crate::wasm::sandbox::{self, StoreState};
use crate::wasm::wit;

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
    /// Its `decide` exports (with the packed batch when it has one), of the WIT version it was built for.
    decide: ContractIndices,
    /// One slot per optional export of the host world ([`wit::OPTIONAL`]), in its order: its indices
    /// when the policy exports it.
    optional: Box<[Option<Box<dyn Any + Send + Sync>>]>,
}

/// The exports of one instance.
pub(crate) struct Exports {
    /// `decide` and the packed batch.
    pub(crate) decide: Contract,
    /// The optional exports' functions in this instance, in [`wit::OPTIONAL`]'s order.
    optional: Box<[Option<Box<dyn Any + Send>>]>,
}

impl Exports {
    /// The functions of `E` in this instance, when the policy exports it.
    pub(crate) fn optional<E: OptionalExport>(&self) -> Option<&E::Guest> {
        let slot = plug::slot::<E>(wit::OPTIONAL)?;
        self.optional.get(slot)?.as_ref()?.downcast_ref::<E::Guest>()
    }
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
        engine.check_runs_here(name)?;
        admit(engine, name, bytes, signature)?;
        Policy::compile(engine, name, bytes)
    }

    #[cfg(feature = "compiler")]
    fn compile(engine: &Engine, name: &str, bytes: &[u8]) -> Result<Policy, LoadError> {
        let component = Component::new(engine.wasmtime(), bytes)
            .map_err(|e| LoadError::Compile { name: name.to_owned(), message: format!("{e:#}") })?;
        let source = Source { size: bytes.len(), digest: crate::wasm::digest::sha256_hex(bytes) };
        Policy::from_component(engine, name, source, component)
    }

    #[cfg(not(feature = "compiler"))]
    fn compile(engine: &Engine, name: &str, _bytes: &[u8]) -> Result<Policy, LoadError> {
        Err(LoadError::NoCompiler { name: name.to_owned(), target: engine.target().to_owned() })
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
        let instance_pre = engine
            .linker()
            .instantiate_pre(&component)
            .map_err(|e| LoadError::UnsupportedImport { name: name.clone(), import: format!("{e:#}") })?;
        let exports = |wanted: &str| {
            ty.exports(engine.wasmtime())
                .any(|(export, item)| export == wanted && matches!(item.ty, ComponentItem::ComponentInstance(_)))
        };
        let decide = ContractIndices::find(&name, &instance_pre, exports)?;
        let wrong_world = |export: &'static str| {
            let name = name.clone();
            move |e: wasmtime::Error| LoadError::WrongWorld { name, export, message: format!("{e:#}") }
        };
        let optional = wit::OPTIONAL
            .iter()
            .map(|export| match exports(export.export()) {
                false => Ok(None),
                true => export.indices(&instance_pre).map(Some).map_err(wrong_world(export.export())),
            })
            .collect::<Result<_, _>>()?;
        let inner = PolicyInner {
            name,
            size: source.size,
            digest: source.digest,
            imports,
            engine: engine.clone(),
            pre: instance_pre,
            decide,
            optional,
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

    /// Whether `other` is this very loaded policy (a clone of it), not merely the same component.
    pub(crate) fn same_as(&self, other: &Policy) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
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
        self.inner.decide.has_packed()
    }

    /// Whether the policy exports the scalar single decision (`decide-scalar`), which single decisions
    /// then use.
    pub fn has_scalar_decision(&self) -> bool {
        self.inner.decide.has_scalar()
    }

    /// The version of the `pathsec:policy` WIT the policy was built for: `0.2.0`, or `0.1.0` for one
    /// the host runs through its adapter (flat List 3 only, the registration as 0.1.0 had it, and no
    /// related decision: see `wit/path-secure.wit`).
    pub fn wit_version(&self) -> &'static str {
        self.inner.decide.version()
    }

    /// Whether the policy exports the interface named `export` (as it appears in a component, e.g.
    /// `pathsec:policy/trigger-guard@0.1.0`): one of the host world's optional exports, type-checked when
    /// the policy loaded. [`related::Interface::exported_by`](crate::related::Interface::exported_by)
    /// asks it for a related decision.
    pub fn exports(&self, export: &str) -> bool {
        wit::OPTIONAL
            .iter()
            .zip(self.inner.optional.iter())
            .any(|(optional, indices)| optional.export() == export && indices.is_some())
    }

    /// Whether the policy exports `E`.
    pub(crate) fn provides<E: OptionalExport>(&self) -> bool {
        plug::slot::<E>(wit::OPTIONAL).is_some_and(|slot| self.inner.optional.get(slot).is_some_and(Option::is_some))
    }

    /// A new instance in `store`, with its exports looked up and type-checked.
    pub(crate) fn instantiate(&self, store: &mut Store<StoreState>) -> wasmtime::Result<Exports> {
        let instance = self.inner.pre.instantiate(&mut *store)?;
        let decide = self.inner.decide.load(&mut *store, &instance)?;
        let optional = wit::OPTIONAL
            .iter()
            .zip(self.inner.optional.iter())
            .map(|(export, indices)| match indices {
                Some(indices) => export
                    .load(indices.as_ref(), &mut *store, &instance)
                    .map(Some)
                    .map_err(|e| e.context(format!("its `{}` does not match this host's WIT", export.export()))),
                None => Ok(None),
            })
            .collect::<wasmtime::Result<_>>()?;
        Ok(Exports { decide, optional })
    }
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy").field("name", &self.inner.name).field("size", &self.inner.size).finish_non_exhaustive()
    }
}
