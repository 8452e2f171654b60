//! The `decide` contract a policy implements: `pathsec:policy@0.2.0`'s, or 0.1.0's through the adapter
//! (`wit::v0_1`), so a policy deployed before 0.2.0 keeps deciding after the host is upgraded — on
//! the flat List 3 only and with the registration as 0.1.0 had it, which can only make it secure more.

use wasmtime::Store;
use wasmtime::component::{Instance, InstancePre};

use crate::facts::FactSet;
use crate::vocab::{Action, Reason, Request};
use crate::wasm::engine::LoadError;
use crate::wasm::packed;
use crate::wasm::sandbox::StoreState;
use crate::wasm::wit::{self, v0_1};

/// Where a policy's `decide` exports are, found when it loads.
pub(crate) enum ContractIndices {
    Now {
        decide: wit::decide::GuestIndices,
        packed: Option<wit::decide_packed::GuestIndices>,
        scalar: Option<wit::decide_scalar::GuestIndices>,
    },
    V0_1 {
        decide: v0_1::decide::GuestIndices,
        packed: Option<v0_1::decide_packed::GuestIndices>,
    },
}

/// A policy instance's `decide` exports.
pub(crate) enum Contract {
    Now {
        decide: wit::decide::Guest,
        packed: Option<wit::decide_packed::Guest>,
        scalar: Option<wit::decide_scalar::Guest>,
    },
    V0_1 {
        decide: v0_1::decide::Guest,
        packed: Option<v0_1::decide_packed::Guest>,
        words: Vec<u64>,
    },
}

impl ContractIndices {
    /// The contract `pre` implements: 0.2.0 when it exports 0.2.0's `decide`, else 0.1.0 when it
    /// exports that one's. `exports` says whether the component exports an interface.
    pub(crate) fn find(
        name: &str,
        pre: &InstancePre<StoreState>,
        exports: impl Fn(&str) -> bool,
    ) -> Result<ContractIndices, LoadError> {
        let wrong_world = |export: &'static str| {
            move |e: wasmtime::Error| LoadError::WrongWorld { name: name.to_owned(), export, message: format!("{e:#}") }
        };
        if exports(wit::DECIDE_EXPORT) {
            let decide = wit::decide::GuestIndices::new(pre).map_err(wrong_world(wit::DECIDE_EXPORT))?;
            let packed = match exports(wit::PACKED_EXPORT) {
                false => None,
                true => Some(wit::decide_packed::GuestIndices::new(pre).map_err(wrong_world(wit::PACKED_EXPORT))?),
            };
            let scalar = match exports(wit::SCALAR_EXPORT) {
                false => None,
                true => Some(wit::decide_scalar::GuestIndices::new(pre).map_err(wrong_world(wit::SCALAR_EXPORT))?),
            };
            return Ok(ContractIndices::Now { decide, packed, scalar });
        }
        if exports(v0_1::DECIDE_EXPORT) {
            let decide = v0_1::decide::GuestIndices::new(pre).map_err(wrong_world(v0_1::DECIDE_EXPORT))?;
            let packed = match exports(v0_1::PACKED_EXPORT) {
                false => None,
                true => Some(v0_1::decide_packed::GuestIndices::new(pre).map_err(wrong_world(v0_1::PACKED_EXPORT))?),
            };
            return Ok(ContractIndices::V0_1 { decide, packed });
        }
        Err(LoadError::MissingExport { name: name.to_owned(), export: wit::DECIDE_EXPORT })
    }

    /// The WIT version the policy was built for: `0.2.0` or `0.1.0`.
    pub(crate) fn version(&self) -> &'static str {
        match self {
            ContractIndices::Now { .. } => "0.2.0",
            ContractIndices::V0_1 { .. } => "0.1.0",
        }
    }

    /// The name of its `decide` export.
    pub(crate) fn decide_export(&self) -> &'static str {
        match self {
            ContractIndices::Now { .. } => wit::DECIDE_EXPORT,
            ContractIndices::V0_1 { .. } => v0_1::DECIDE_EXPORT,
        }
    }

    pub(crate) fn has_packed(&self) -> bool {
        match self {
            ContractIndices::Now { packed, .. } => packed.is_some(),
            ContractIndices::V0_1 { packed, .. } => packed.is_some(),
        }
    }

    /// Whether it exports the scalar single decision (`decide-scalar`, 0.2.0 only).
    pub(crate) fn has_scalar(&self) -> bool {
        matches!(self, ContractIndices::Now { scalar: Some(_), .. })
    }

    /// The exports of `instance`, type-checked.
    pub(crate) fn load(&self, store: &mut Store<StoreState>, instance: &Instance) -> wasmtime::Result<Contract> {
        let context = || format!("its `{}` does not match this host's WIT", self.decide_export());
        Ok(match self {
            ContractIndices::Now { decide, packed, scalar } => Contract::Now {
                decide: decide.load(&mut *store, instance).map_err(|e| e.context(context()))?,
                packed: packed.as_ref().map(|packed| packed.load(&mut *store, instance)).transpose()?,
                scalar: scalar.as_ref().map(|scalar| scalar.load(&mut *store, instance)).transpose()?,
            },
            ContractIndices::V0_1 { decide, packed } => Contract::V0_1 {
                decide: decide.load(&mut *store, instance).map_err(|e| e.context(context()))?,
                packed: packed.as_ref().map(|packed| packed.load(&mut *store, instance)).transpose()?,
                words: Vec::new(),
            },
        })
    }
}

impl Contract {
    /// `load`: the policy's own answer (an error rejects the facts), or the call's failure.
    pub(crate) fn call_load(
        &mut self,
        store: &mut Store<StoreState>,
        facts: &FactSet,
    ) -> wasmtime::Result<Result<(), String>> {
        match self {
            Contract::Now { decide, .. } => decide.call_load(store, &wit::facts(facts)),
            Contract::V0_1 { decide, .. } => decide.call_load(store, &v0_1::facts(facts)),
        }
    }

    /// `decide`.
    #[inline]
    pub(crate) fn call_decide(
        &mut self,
        store: &mut Store<StoreState>,
        request: &Request,
    ) -> wasmtime::Result<(Action, Reason)> {
        match self {
            Contract::Now { decide, .. } => decide.call_decide(store, wit::request(request)).map(wit::decision),
            Contract::V0_1 { decide, .. } => decide.call_decide(store, v0_1::request(request)).map(v0_1::decision),
        }
    }

    /// `decide-one` on a request's two words, as [`packed::push`] writes them: the decision byte. `None`
    /// when the policy has no scalar export (then the host asks `decide`).
    #[inline]
    pub(crate) fn call_decide_one(
        &mut self,
        store: &mut Store<StoreState>,
        [first, second]: [u64; 2],
    ) -> Option<wasmtime::Result<u8>> {
        match self {
            Contract::Now { scalar: Some(scalar), .. } => Some(scalar.call_decide_one(store, first, second)),
            _ => None,
        }
    }

    /// `decide-batch`.
    pub(crate) fn call_decide_batch(
        &mut self,
        store: &mut Store<StoreState>,
        requests: &[Request],
    ) -> wasmtime::Result<Vec<(Action, Reason)>> {
        match self {
            Contract::Now { decide, .. } => {
                let lowered: Vec<_> = requests.iter().map(wit::request).collect();
                Ok(decide.call_decide_batch(store, &lowered)?.into_iter().map(wit::decision).collect())
            }
            Contract::V0_1 { decide, .. } => {
                let lowered: Vec<_> = requests.iter().map(v0_1::request).collect();
                Ok(decide.call_decide_batch(store, &lowered)?.into_iter().map(v0_1::decision).collect())
            }
        }
    }

    /// `decide-packed`, on words as [`packed::push`] writes them (rewritten for a 0.1.0 policy).
    pub(crate) fn call_decide_packed(
        &mut self,
        store: &mut Store<StoreState>,
        requests: &[u64],
    ) -> wasmtime::Result<Vec<u8>> {
        let missing = || wasmtime::Error::msg("the host asked a policy without a packed batch export for one");
        match self {
            Contract::Now { packed, .. } => packed.as_ref().ok_or_else(missing)?.call_decide_packed(store, requests),
            Contract::V0_1 { packed, words, .. } => {
                let packed = packed.as_ref().ok_or_else(missing)?;
                words.clear();
                words.extend(requests.chunks_exact(2).flat_map(|pair| [pair[0], packed::to_v0_1(pair[1])]));
                packed.call_decide_packed(store, words)
            }
        }
    }
}
