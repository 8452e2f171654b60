//! What a policy instance gets from the host: WASI 0.2 with an empty context (no files, environment,
//! arguments, network or stdio — so no capability), a memory and table cap, and an epoch deadline.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use wasmtime::Store;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::wasm::engine::Engine;
use crate::wasm::limits::StoreLimiter;
use crate::wasm::wit::{TYPES_IMPORT, v0_1};

/// The host state of one policy instance.
pub(crate) struct StoreState {
    pub(crate) limiter: StoreLimiter,
    wasi: WasiCtx,
    table: ResourceTable,
    _live: Live,
}

/// Counts a policy instance (its store) as live until it is dropped: [`Engine::live_instances`].
struct Live(Arc<AtomicUsize>);

impl Live {
    fn new(gauge: Arc<AtomicUsize>) -> Live {
        gauge.fetch_add(1, Ordering::Relaxed);
        Live(gauge)
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl WasiView for StoreState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// The linker every policy is instantiated with: WASI 0.2, and the contract's types interface (which
/// a component imports because its export uses those types; it holds no functions).
pub(crate) fn linker(engine: &wasmtime::Engine) -> wasmtime::Result<Linker<StoreState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    linker.instance(TYPES_IMPORT)?;
    linker.instance(v0_1::TYPES_IMPORT)?;
    Ok(linker)
}

/// May a policy import this? WASI 0.2 interfaces and the contract's types interface only (0.2.0's, or
/// 0.1.0's for a policy the adapter runs).
pub(crate) fn import_allowed(name: &str) -> bool {
    name.starts_with("wasi:") || name == TYPES_IMPORT || name == v0_1::TYPES_IMPORT
}

/// A new store for one policy instance. Its epoch deadline traps; callers set it before every call.
pub(crate) fn store(engine: &Engine) -> Store<StoreState> {
    // `WasiCtx::builder()` starts empty: no preopened directories, environment, arguments or
    // inherited stdio, and sockets that refuse every address. The network is also switched off by
    // name, so a change of those defaults in a later wasmtime-wasi cannot open it
    // (`tests/hostile.rs` checks with a guest that tries everything).
    let wasi = WasiCtx::builder().allow_tcp(false).allow_udp(false).allow_ip_name_lookup(false).build();
    let state = StoreState {
        limiter: StoreLimiter::new(engine.limits(), engine.limit_counters_shared()),
        wasi,
        table: ResourceTable::new(),
        _live: Live::new(engine.live_gauge()),
    };
    let mut store = Store::new(engine.wasmtime(), state);
    store.limiter(|state| &mut state.limiter);
    store.epoch_deadline_trap();
    store
}
