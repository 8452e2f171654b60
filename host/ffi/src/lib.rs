//! pathsec behind a C ABI, for servers written in C, C++, Go or Java that decide in-process, and for
//! device firmware (built without the `compiler` feature, loading precompiled artifacts). The header
//! is `include/pathsec.h`, generated from this crate by cbindgen and checked against it by a test.
//!
//! # Rules
//! - Every function returns a `PathsecStatus` (`PATHSEC_OK` or an error code); on error,
//!   `pathsec_last_error()` gives a message naming the argument and what to do, on the calling thread.
//!   Output arguments are written only on success (but for `*written`, which a short buffer also gets).
//! - Objects are opaque `PathsecHandle`s (`u64`, 0 is none). A freed, never-issued or wrong-kind handle
//!   is refused with `PATHSEC_ERR_HANDLE`: use after free and double free are detected, not undefined.
//! - Strings are NUL-terminated UTF-8; byte buffers are a pointer and a length; structs the caller
//!   fills start with `size` (`sizeof` the struct). Outputs that vary in length take a buffer and a
//!   capacity, write the length needed to `*written`, and answer `PATHSEC_ERR_BUFFER` when it is short.
//! - Threads: engines, policies and runtimes may be used from any number of threads at once (fact
//!   updates, swaps and metrics while others decide). A worker is for one thread at a time: make one
//!   per deciding thread; a concurrent second use gets `PATHSEC_ERR_BUSY`. Freeing a handle another
//!   thread is using waits for that call (a worker) or leaves the object alive until it returns.
//! - Deciding allocates nothing: `pathsec_worker_decide`, and `pathsec_worker_decide_batch` once the
//!   worker has seen a batch as large.
//! - Panics never cross the boundary (`PATHSEC_ERR_INTERNAL`). wasmtime installs signal handlers for
//!   its traps (SIGSEGV, SIGILL, SIGFPE, SIGBUS) unless the engine is made with
//!   `explicit_bounds_checks`; a host that owns those signals should chain them or use that option.
#![deny(unsafe_op_in_unsafe_fn)]

mod codes;
mod engine;
mod handles;
mod runtime;
mod status;
mod types;
mod worker;

pub use codes::*;
pub use engine::*;
pub use handles::{PathsecHandle, pathsec_live_handles};
pub use runtime::*;
pub use status::*;
pub use types::*;
pub use worker::*;

/// The ABI version this library implements: it changes when a function, struct or constant changes
/// in a way that a program built against an older header would misuse. Check it at start-up against
/// `PATHSEC_ABI_VERSION` from the header the program was built with.
pub const PATHSEC_ABI_VERSION: u32 = 1;

/// This library's ABI version (see `PATHSEC_ABI_VERSION`).
#[unsafe(no_mangle)]
pub extern "C" fn pathsec_abi_version() -> u32 {
    PATHSEC_ABI_VERSION
}

/// A handle for a runtime made in Rust, for a Rust program that hands it to C code (which then makes
/// workers of it, feeds it facts and frees the handle as for one made by `pathsec_runtime_new`).
pub fn runtime_handle(runtime: pathsec::Runtime) -> std::result::Result<PathsecHandle, String> {
    handles::insert(handles::Object::Runtime(runtime)).map_err(|failure| failure.message)
}
