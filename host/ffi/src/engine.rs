//! Engines and policies: `pathsec_engine_new`, `pathsec_policy_load_*`, and freeing them.

use std::ffi::c_char;
use std::time::Duration;

use pathsec::signing::{PublicKey, TrustedKeys};
use pathsec::wasm::LoadError;
use pathsec::{Engine, Limits, Policy};

use crate::handles::{self, Object, PathsecHandle};
use crate::status::{
    Failure, PATHSEC_ERR_IO, PATHSEC_ERR_POLICY, PathsecStatus, Result, bytes, guard, non_null, optional_text, out,
    struct_size, text, write_out,
};
use crate::types::{PathsecEngineOptions, PathsecLimits};

/// Fills `limits` with the defaults (and its `size`).
///
/// # Safety
/// `limits` is null (refused) or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pathsec_limits_default(limits: *mut PathsecLimits) -> PathsecStatus {
    guard(|| {
        let limits = out(limits, "limits")?;
        let d = Limits::default();
        let micros = |d: Duration| d.as_micros() as u64;
        // SAFETY: checked not null; writable by the caller's contract.
        unsafe {
            *limits = PathsecLimits {
                size: size_of::<PathsecLimits>() as u32,
                deadline_us: micros(d.deadline),
                load_deadline_us: micros(d.load_deadline),
                memory: d.memory as u64,
                table_elements: d.table_elements as u64,
                instances: d.instances as u64,
                module_size: d.module_size as u64,
                list_entries: d.list_entries as u64,
            }
        };
        Ok(())
    })
}

/// Makes an engine (with its deadline clock thread). `options` null: this host's target, default
/// limits, no trusted keys. Free it with `pathsec_engine_free`; policies loaded by it keep it alive.
///
/// # Safety
/// `options` is null or points to a `PathsecEngineOptions` whose pointers are valid for the call;
/// `engine` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pathsec_engine_new(
    options: *const PathsecEngineOptions,
    engine: *mut PathsecHandle,
) -> PathsecStatus {
    guard(|| {
        let engine = out(engine, "engine")?;
        let mut builder = Engine::builder();
        if !options.is_null() {
            // SAFETY: not null; valid by the caller's contract.
            let options = unsafe { &*options };
            struct_size(options.size, size_of::<PathsecEngineOptions>(), "PathsecEngineOptions")?;
            if !options.limits.is_null() {
                // SAFETY: not null; valid by the caller's contract.
                builder = builder.limits(limits(unsafe { &*options.limits })?);
            }
            // SAFETY: as the caller's.
            builder = builder.trusted_keys(unsafe { trusted_keys(options.trusted_keys, options.trusted_key_count) }?);
            // SAFETY: as the caller's.
            if let Some(target) = unsafe { optional_text(options.target, "options.target") }? {
                builder = builder.target(target);
            }
            builder = builder.signals_based_traps(!options.explicit_bounds_checks);
        }
        let built = builder.build().map_err(|e| Failure::invalid(e.to_string()))?;
        let handle = handles::insert(Object::Engine(built))?;
        // SAFETY: checked not null.
        unsafe { *engine = handle };
        Ok(())
    })
}

fn limits(given: &PathsecLimits) -> Result<Limits> {
    struct_size(given.size, size_of::<PathsecLimits>(), "PathsecLimits")?;
    let size = |value: u64, field: &str| {
        usize::try_from(value)
            .map_err(|_| Failure::invalid(format!("`limits.{field}` ({value}) is too large for this machine")))
    };
    Ok(Limits {
        deadline: Duration::from_micros(given.deadline_us),
        load_deadline: Duration::from_micros(given.load_deadline_us),
        memory: size(given.memory, "memory")?,
        table_elements: size(given.table_elements, "table_elements")?,
        instances: size(given.instances, "instances")?,
        module_size: size(given.module_size, "module_size")?,
        list_entries: size(given.list_entries, "list_entries")?,
    })
}

/// # Safety
/// `keys` is readable for `count` string pointers, each a NUL-terminated string.
unsafe fn trusted_keys(keys: *const *const c_char, count: usize) -> Result<TrustedKeys> {
    if count == 0 {
        return Ok(TrustedKeys::default());
    }
    non_null(keys, "options.trusted_keys")?;
    let mut parsed = Vec::with_capacity(count);
    for index in 0..count {
        let field = format!("options.trusted_keys[{index}]");
        // SAFETY: `index < count` readable pointers, each a string, by the caller's contract.
        let key = unsafe { text(*keys.add(index), &field) }?;
        parsed.push(PublicKey::parse(&field, key).map_err(|e| Failure::invalid(e.to_string()))?);
    }
    Ok(TrustedKeys::new(parsed))
}

/// Frees an engine handle. Policies and runtimes made with it stay usable.
#[unsafe(no_mangle)]
pub extern "C" fn pathsec_engine_free(engine: PathsecHandle) -> PathsecStatus {
    guard(|| handles::remove(engine, "engine", "an engine"))
}

fn load_failure(error: LoadError) -> Failure {
    let status = match error {
        LoadError::Read { .. } => PATHSEC_ERR_IO,
        _ => PATHSEC_ERR_POLICY,
    };
    // The message with its causes (an I/O error's reason is its source).
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    Failure::new(status, message)
}

fn store_policy(policy: std::result::Result<Policy, LoadError>, out_policy: *mut PathsecHandle) -> Result<()> {
    let out_policy = out(out_policy, "policy")?;
    let handle = handles::insert(Object::Policy(policy.map_err(load_failure)?))?;
    // SAFETY: checked not null.
    unsafe { *out_policy = handle };
    Ok(())
}

/// Loads a policy file: a component (`.wasm`, compiled now: needs the compiler build), or a
/// precompiled artifact (`pathsec compile --out`), told apart by its first bytes; with its signature
/// from `<path>.sig` when there is one (required when the engine trusts keys).
///
/// # Safety
/// `path` is a NUL-terminated string; `policy` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pathsec_policy_load_file(
    engine: PathsecHandle,
    path: *const c_char,
    policy: *mut PathsecHandle,
) -> PathsecStatus {
    guard(|| {
        out(policy, "policy")?;
        // SAFETY: as the caller's.
        let path = unsafe { text(path, "path") }?;
        let engine = handles::engine(engine, "engine")?;
        store_policy(engine.load_policy_file(path), policy)
    })
}

/// Loads a policy component from memory (`length` bytes; compiled now: needs the compiler build).
/// `name` names it in messages and metrics; `signature` is the text of its `.sig` file, or null.
///
/// # Safety
/// `name` is a NUL-terminated string; `component` readable for `length` bytes; `signature` null or a
/// NUL-terminated string; `policy` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pathsec_policy_load_bytes(
    engine: PathsecHandle,
    name: *const c_char,
    component: *const u8,
    length: usize,
    signature: *const c_char,
    policy: *mut PathsecHandle,
) -> PathsecStatus {
    // SAFETY: as the caller's.
    unsafe {
        load_from_memory(engine, name, (component, length, "component"), signature, policy, Engine::load_signed_policy)
    }
}

/// Loads a precompiled artifact from memory: refused (naming both sides) when made for another target,
/// engine profile or wasmtime, and when truncated or altered; `signature` is the text of its `.sig`
/// file, or null (required when the engine trusts keys).
///
/// # Safety
/// As `pathsec_policy_load_bytes`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pathsec_policy_load_artifact(
    engine: PathsecHandle,
    name: *const c_char,
    artifact: *const u8,
    length: usize,
    signature: *const c_char,
    policy: *mut PathsecHandle,
) -> PathsecStatus {
    // SAFETY: as the caller's.
    unsafe { load_from_memory(engine, name, (artifact, length, "artifact"), signature, policy, Engine::load_artifact) }
}

/// `Engine::load_signed_policy` or `Engine::load_artifact`.
type Loader = fn(&Engine, &str, &[u8], Option<&str>) -> std::result::Result<Policy, LoadError>;

/// A policy loaded from `(pointer, length, argument name)` by `load`, stored as a handle.
///
/// # Safety
/// As `pathsec_policy_load_bytes`.
unsafe fn load_from_memory(
    engine: PathsecHandle,
    name: *const c_char,
    (pointer, length, argument): (*const u8, usize, &str),
    signature: *const c_char,
    policy: *mut PathsecHandle,
    load: Loader,
) -> PathsecStatus {
    guard(|| {
        out(policy, "policy")?;
        // SAFETY: as the caller's.
        let (name, bytes, signature) =
            unsafe { (text(name, "name")?, bytes(pointer, length, argument)?, optional_text(signature, "signature")?) };
        let engine = handles::engine(engine, "engine")?;
        store_policy(load(&engine, name, bytes, signature), policy)
    })
}

/// Writes the policy's identity into `buffer`: the SHA-256 of its component in hex (64 bytes, no NUL).
///
/// # Safety
/// `buffer` writable for `capacity` bytes; `written` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pathsec_policy_digest(
    policy: PathsecHandle,
    buffer: *mut u8,
    capacity: usize,
    written: *mut usize,
) -> PathsecStatus {
    guard(|| {
        let policy = handles::policy(policy, "policy")?;
        // SAFETY: as the caller's.
        unsafe { write_out(policy.digest().as_bytes(), buffer, capacity, written, "digest") }
    })
}

/// Frees a policy handle. A runtime running it keeps it.
#[unsafe(no_mangle)]
pub extern "C" fn pathsec_policy_free(policy: PathsecHandle) -> PathsecStatus {
    guard(|| handles::remove(policy, "policy", "a policy"))
}
