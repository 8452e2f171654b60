//! `Policy`: a compiled, checked and pre-instantiated policy component, ready to make deciders from.

use std::sync::Arc;

use wasmtime::component::Component;
use wasmtime::component::types::ComponentItem;

use crate::bindings::{DECIDE_EXPORT, PathSecurePre};
use crate::decider::Decider;
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
    imports: Vec<String>,
    engine: Engine,
    pre: PathSecurePre<StoreState>,
}

/// What the first bytes of a WebAssembly binary say it is.
enum Header {
    Component,
    CoreModule,
    NotWasm,
}

fn header(bytes: &[u8]) -> Header {
    match bytes.get(..8) {
        Some([0, b'a', b's', b'm', 1, 0, 0, 0]) => Header::CoreModule,
        Some([0, b'a', b's', b'm', _, _, 1, 0]) => Header::Component,
        _ => Header::NotWasm,
    }
}

impl Policy {
    pub(crate) fn load(engine: &Engine, name: &str, bytes: &[u8]) -> Result<Policy, LoadError> {
        let name = name.to_owned();
        match header(bytes) {
            Header::Component => {}
            Header::CoreModule => return Err(LoadError::CoreModule { name }),
            Header::NotWasm => return Err(LoadError::NotWasm { name }),
        }
        let component = Component::new(engine.wasmtime(), bytes)
            .map_err(|e| LoadError::Compile { name: name.clone(), message: format!("{e:#}") })?;
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
        let pre = PathSecurePre::new(instance_pre).map_err(|e| LoadError::WrongWorld {
            name: name.clone(),
            export: DECIDE_EXPORT,
            message: format!("{e:#}"),
        })?;
        Ok(Policy { inner: Arc::new(PolicyInner { name, size: bytes.len(), imports, engine: engine.clone(), pre }) })
    }

    /// The policy's name (its file name, or the name it was loaded with).
    pub fn name(&self) -> &str {
        &self.inner.name
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

    pub(crate) fn pre(&self) -> &PathSecurePre<StoreState> {
        &self.inner.pre
    }
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy").field("name", &self.inner.name).field("size", &self.inner.size).finish_non_exhaustive()
    }
}
