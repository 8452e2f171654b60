//! The plug the related decisions go through. An optional interface a policy may export beside
//! `decide` is an [`OptionalExport`] (one per interface of the host world, listed in `wit.rs` where its
//! bindings are generated); a decision made through one is a [`RelatedDecision`], with the call, the
//! check of the answer, the fail-closed verdict and room for host-held state around the call. The
//! engine resolves every optional export a policy has when it loads it, and calls one through
//! [`Decider::related`](super::Decider::related); it names none of them.

use std::any::{Any, TypeId};
use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

use wasmtime::Store;
use wasmtime::component::{Instance, InstancePre};

use crate::facts::FactSet;
use crate::sync::Locked;
use crate::vocab::PolicyFault;
use crate::wasm::sandbox::StoreState;

/// An optional interface of the host world, as the bindings generate it.
pub(crate) trait OptionalExport: 'static {
    /// The export's name in a component, e.g. `pathsec:policy/trigger-guard@0.1.0`.
    const EXPORT: &'static str;
    /// How a policy built on the Rust SDK exports it, for the fault of a policy without it.
    const SDK_MACRO: &'static str;
    /// Where its functions are in a pre-instantiated component (type-checked when made).
    type Indices: Send + Sync + 'static;
    /// Its functions in one instance.
    type Guest: Send + 'static;

    /// Looks its functions up and type-checks them: an error when the component's export does not
    /// match the host's WIT.
    fn indices(pre: &InstancePre<StoreState>) -> wasmtime::Result<Self::Indices>;

    /// Its functions in `instance`.
    fn load(
        indices: &Self::Indices,
        store: &mut Store<StoreState>,
        instance: &Instance,
    ) -> wasmtime::Result<Self::Guest>;
}

/// An [`OptionalExport`] with its types erased, so a policy keeps one table of them.
pub(crate) trait ErasedExport: Sync {
    /// [`OptionalExport::EXPORT`].
    fn export(&self) -> &'static str;
    /// Which [`OptionalExport`] it is.
    fn id(&self) -> TypeId;
    /// [`OptionalExport::indices`], boxed.
    fn indices(&self, pre: &InstancePre<StoreState>) -> wasmtime::Result<Box<dyn Any + Send + Sync>>;
    /// [`OptionalExport::load`] with indices from [`ErasedExport::indices`], boxed.
    fn load(
        &self,
        indices: &(dyn Any + Send + Sync),
        store: &mut Store<StoreState>,
        instance: &Instance,
    ) -> wasmtime::Result<Box<dyn Any + Send>>;
}

/// The erased form of `E`.
pub(crate) struct Erased<E>(PhantomData<fn() -> E>);

impl<E> Erased<E> {
    pub(crate) const NEW: Erased<E> = Erased(PhantomData);
}

impl<E: OptionalExport> ErasedExport for Erased<E> {
    fn export(&self) -> &'static str {
        E::EXPORT
    }

    fn id(&self) -> TypeId {
        TypeId::of::<E>()
    }

    fn indices(&self, pre: &InstancePre<StoreState>) -> wasmtime::Result<Box<dyn Any + Send + Sync>> {
        Ok(Box::new(E::indices(pre)?))
    }

    fn load(
        &self,
        indices: &(dyn Any + Send + Sync),
        store: &mut Store<StoreState>,
        instance: &Instance,
    ) -> wasmtime::Result<Box<dyn Any + Send>> {
        let indices = indices
            .downcast_ref::<E::Indices>()
            .ok_or_else(|| wasmtime::Error::msg(format!("the indices of `{}` are of another export", E::EXPORT)))?;
        Ok(Box::new(E::load(indices, store, instance)?))
    }
}

/// The position of `E` in `table`, the host world's optional exports.
pub(crate) fn slot<E: OptionalExport>(table: &[&dyn ErasedExport]) -> Option<usize> {
    table.iter().position(|export| export.id() == TypeId::of::<E>())
}

/// What a related decision's verdict offers the engine and the case files: its fail-closed form, its
/// fault, and its answer without the fault.
pub(crate) trait Verdict: Sized + fmt::Display {
    /// The engine's answer when the policy cannot give one: the safe side, carrying `fault`.
    fn fail_closed(fault: Arc<PolicyFault>) -> Self;
    /// Why the policy could not decide, when it could not.
    fn fault(&self) -> Option<&Arc<PolicyFault>>;
    /// It is the engine's fail-closed answer (its reason says `policy-fault`), with or without a fault.
    /// (The case files judge verdicts by this and the next; the engine alone does not.)
    #[cfg_attr(not(feature = "tools"), allow(dead_code))]
    fn is_fail_closed(&self) -> bool;
    /// It gives the same answer as `other`, their faults aside.
    #[cfg_attr(not(feature = "tools"), allow(dead_code))]
    fn same_answer(&self, other: &Self) -> bool;
}

/// A decision a policy makes through an [`OptionalExport`]: what is asked, how the export is called,
/// how its answer is checked, and what the host holds around the call.
pub(crate) trait RelatedDecision: 'static {
    /// The interface whose function decides it.
    type Export: OptionalExport;
    /// What is asked.
    type Request: ?Sized;
    /// The policy's answer, as the bindings give it.
    type Answer;
    /// The answer, checked; the engine's fail-closed one when the policy fails.
    type Verdict: Verdict;
    /// What the host keeps across decisions of this kind (one per runtime, or per decider).
    type State: Default + Send + Sync + 'static;

    /// A check the host makes before it asks the policy: a verdict here is the answer, and the policy
    /// is not asked.
    fn before(state: &Self::State, request: &Self::Request) -> Option<Self::Verdict> {
        let _ = (state, request);
        None
    }

    /// Asks the policy.
    fn call(
        guest: &<Self::Export as OptionalExport>::Guest,
        store: &mut Store<StoreState>,
        facts: &FactSet,
        request: &Self::Request,
    ) -> wasmtime::Result<Self::Answer>;

    /// The policy's answer to `request`, unless it makes no sense: then the fail-closed verdict with
    /// [`PolicyFault::OutcomeNotAllowed`].
    fn check(request: &Self::Request, answer: Self::Answer) -> Self::Verdict;

    /// What the host records once the verdict is known (the policy's, or the fail-closed one).
    fn after(state: &Self::State, request: &Self::Request, verdict: &Self::Verdict) {
        let _ = (state, request, verdict);
    }
}

/// The host-held state of each kind of related decision, made on first use.
#[derive(Default)]
pub(crate) struct States {
    states: Mutex<Vec<(TypeId, Arc<dyn Any + Send + Sync>)>>,
}

impl States {
    /// Puts `state` in as the state of `D`'s decisions (a runtime's settings for them), replacing one
    /// made before.
    pub(crate) fn set<D: RelatedDecision>(&self, state: D::State) {
        let mut states = self.states.locked();
        let id = TypeId::of::<D>();
        states.retain(|(entry, _)| *entry != id);
        states.push((id, Arc::new(state)));
    }

    /// The state of `D`'s decisions.
    pub(crate) fn of<D: RelatedDecision>(&self) -> Arc<D::State> {
        // Each entry is whole once pushed: a panic elsewhere cannot leave the list half-made.
        let mut states = self.states.locked();
        let id = TypeId::of::<D>();
        let state = match states.iter().find(|(entry, _)| *entry == id) {
            Some((_, state)) => Arc::clone(state),
            None => {
                let state: Arc<dyn Any + Send + Sync> = Arc::new(D::State::default());
                states.push((id, Arc::clone(&state)));
                state
            }
        };
        // Only `D::State` is ever stored under `D`'s id.
        state.downcast::<D::State>().unwrap_or_else(|_| Arc::new(D::State::default()))
    }
}
