//! The structs that cross the boundary. Those the caller fills in start with `size` (set it to
//! `sizeof` the struct), so a program built against another version of the header is refused rather
//! than misread.

use std::ffi::c_char;

/// What a policy may use: [`pathsec::Limits`] in microseconds and bytes. Fill with
/// `pathsec_limits_default`, then change what you need.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PathsecLimits {
    /// `sizeof(PathsecLimits)`.
    pub size: u32,
    /// Longest one decision may run, in µs (default 10,000).
    pub deadline_us: u64,
    /// Longest instantiating a policy or loading lists into it may run, in µs (default 1,000,000).
    pub load_deadline_us: u64,
    /// Most linear memory one policy instance may have, in bytes (default 64 MiB).
    pub memory: u64,
    /// Most elements one table may have (default 100,000).
    pub table_elements: u64,
    /// Most core instances, tables and memories one policy instance may create (default 64).
    pub instances: u64,
    /// Largest policy component, in bytes (default 32 MiB; an artifact may be 16 times that).
    pub module_size: u64,
    /// Most entries each list may have when loaded into a policy (default 1,000,000).
    pub list_entries: u64,
}

/// How to make an engine (`pathsec_engine_new`); zero everything but `size` for the defaults.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PathsecEngineOptions {
    /// `sizeof(PathsecEngineOptions)`.
    pub size: u32,
    /// The limits; null for the defaults.
    pub limits: *const PathsecLimits,
    /// Public keys policies must be signed by (each the text of a `pathsec keygen` `.pub` file); none
    /// (count 0): signatures are not required.
    pub trusted_keys: *const *const c_char,
    /// How many `trusted_keys`.
    pub trusted_key_count: usize,
    /// The target triple (null: this host's): `"pulley64"` to run Pulley artifacts.
    pub target: *const c_char,
    /// Bounds checked in the code instead of by signal handlers and guard pages (for hosts that own
    /// the signal handlers, and for memory checkers). Artifacts must be compiled the same way.
    pub explicit_bounds_checks: bool,
}

/// A device's attach facts (`pathsec_runtime_set_attach`).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PathsecAttach {
    /// `sizeof(PathsecAttach)`.
    pub size: u32,
    /// The serving network's PLMN-ID (`"310410"`, `"20801"`), or null while unknown.
    pub serving: *const c_char,
    /// The home network's PLMN-ID.
    pub home: *const c_char,
    /// `PATHSEC_ACCESS_...`.
    pub access: u32,
}

/// A flow to decide: device and server handles of the runtime, who asks, and what happens.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct PathsecFlow {
    /// A device handle (`pathsec_runtime_device`).
    pub device: u32,
    /// A server handle (`pathsec_runtime_server`).
    pub server: u32,
    /// `PATHSEC_ROLE_...`: which node asks.
    pub role: u32,
    /// `PATHSEC_EVENT_...`.
    pub event: u32,
    /// For `PATHSEC_EVENT_RECEIVE_TRIGGER`: `PATHSEC_ACCESS_INTEGRITY_...` (else ignored).
    pub access_integrity: u32,
    /// For `PATHSEC_EVENT_RECEIVE_TRIGGER`: `PATHSEC_END_TO_END_...` (else ignored).
    pub end_to_end: u32,
}

impl From<&pathsec::Flow> for PathsecFlow {
    /// The C form of a flow (for a Rust program handing flows to C code, and the benches).
    fn from(flow: &pathsec::Flow) -> PathsecFlow {
        let (access_integrity, end_to_end) = match flow.event {
            pathsec::Event::ReceiveTrigger(check) => {
                (check.access_integrity.index() as u32, check.end_to_end.index() as u32)
            }
            _ => (0, 0),
        };
        PathsecFlow {
            device: flow.device.get(),
            server: flow.server.get(),
            role: flow.role.index() as u32,
            event: flow.event.kind().index() as u32,
            access_integrity,
            end_to_end,
        }
    }
}

/// A decision.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PathsecDecision {
    /// `PATHSEC_ACTION_...`.
    pub action: u32,
    /// Why: a `PATHSEC_VOCABULARY_REASON` code (`pathsec_name` names it).
    pub reason: u32,
    /// 0, or 1 + a `PATHSEC_VOCABULARY_FAULT` code when the policy failed (the decision then fails
    /// closed).
    pub fault: u32,
}

/// The runtime's counters since it started (`pathsec_runtime_metrics`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct PathsecMetrics {
    /// `sizeof(PathsecMetrics)`.
    pub size: u32,
    /// Decisions made.
    pub decisions: u64,
    /// Of them, answered from a worker's cache.
    pub cache_hits: u64,
    /// Calls into the policy.
    pub policy_calls: u64,
    /// Decisions failed closed because a fact was unknown.
    pub unknown_facts: u64,
    /// Decisions failed closed because the policy failed.
    pub faults: u64,
    /// Policies swapped in.
    pub swaps: u64,
    /// Swaps refused (the new policy failed its self-check).
    pub swaps_refused: u64,
    /// Devices the runtime holds.
    pub devices: u64,
}
