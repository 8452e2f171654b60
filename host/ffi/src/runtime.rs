//! Runtimes: made on a policy, swapped, fed facts (lists, devices' attach and link state), the device
//! side of the registration exchange, and metrics.

use std::ffi::c_char;

use pathsec::exchange::{Format, Indication, SecurityOption};
use pathsec::files::ListsFile;
use pathsec::runtime::{
    Carried, DeviceId, IndicationError, RegistrationState, ReportError, RolloutError, Selection, SettingsFile,
};
use pathsec::{AccessKind, AccessKinds, Attach, Fqdn, LinkState, PathATerms, PlmnId, Runtime};

use crate::codes::decode;
use crate::handles::{self, Object, PathsecHandle};
use crate::status::{
    Failure, PATHSEC_ERR_DEVICE, PATHSEC_ERR_IO, PATHSEC_ERR_POLICY, PATHSEC_ERR_REGISTRATION, PathsecStatus, Result,
    bytes, guard, non_null, optional_text, out, struct_size, text, write_out,
};
use crate::types::{PathsecAttach, PathsecMetrics};

/// A registration message's encoding: JSON text.
pub const PATHSEC_FORMAT_JSON: u32 = 0;
/// A registration message's encoding: CBOR, for constrained devices.
pub const PATHSEC_FORMAT_CBOR: u32 = 1;

/// `pathsec_runtime_accept_indication`'s state: no registration, decisions use the lists.
pub const PATHSEC_REGISTRATION_NONE: u32 = 0;
/// An outcome stands; decisions with that server follow it.
pub const PATHSEC_REGISTRATION_STANDING: u32 = 1;
/// A re-registration is due (the facts changed since the report); decisions fail closed until then.
pub const PATHSEC_REGISTRATION_PENDING: u32 = 2;

/// Makes a runtime on `policy` (self-checked first: a policy that fails is refused), with empty lists
/// and no devices.
///
/// # Safety
/// `runtime` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pathsec_runtime_new(policy: PathsecHandle, runtime: *mut PathsecHandle) -> PathsecStatus {
    guard(|| {
        let runtime = out(runtime, "runtime")?;
        let policy = handles::policy(policy, "policy")?;
        let built = Runtime::new(policy).map_err(|e| Failure::new(PATHSEC_ERR_POLICY, e.to_string()))?;
        let handle = handles::insert(Object::Runtime(built))?;
        // SAFETY: checked not null.
        unsafe { *runtime = handle };
        Ok(())
    })
}

/// As `pathsec_runtime_new`, with the registration settings of both sides from `text`, a settings file
/// (TOML, or JSON when `name` ends in `.json`; `name` names it in errors): `[registration]` `timer`,
/// `options`, `serves`, `roaming = [{ home, visited }]`; `[device]` `accept-plain-from`,
/// `accept-plain-unciphered`. `PATHSEC_ERR_INVALID` names the file, line and field of a bad one.
///
/// # Safety
/// `name` and `text` are NUL-terminated strings; `runtime` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pathsec_runtime_new_with_settings(
    policy: PathsecHandle,
    name: *const c_char,
    text: *const c_char,
    runtime: *mut PathsecHandle,
) -> PathsecStatus {
    guard(|| {
        let runtime = out(runtime, "runtime")?;
        // SAFETY: as the caller's.
        let (name, body) = unsafe { (crate::status::text(name, "name")?, crate::status::text(text, "text")?) };
        let settings = SettingsFile::read(name, body).map_err(|e| Failure::invalid(e.to_string()))?;
        let policy = handles::policy(policy, "policy")?;
        let built = Runtime::builder(policy)
            .settings(&settings)
            .build()
            .map_err(|e| Failure::new(PATHSEC_ERR_POLICY, e.to_string()))?;
        let handle = handles::insert(Object::Runtime(built))?;
        // SAFETY: checked not null.
        unsafe { *runtime = handle };
        Ok(())
    })
}

/// Frees a runtime handle. Its workers stay usable until they are freed.
#[unsafe(no_mangle)]
pub extern "C" fn pathsec_runtime_free(runtime: PathsecHandle) -> PathsecStatus {
    guard(|| handles::remove(runtime, "runtime", "a runtime"))
}

/// Swaps the runtime's policy for `policy`, after its self-check; every worker's next decision uses it.
/// Refused (`PATHSEC_ERR_POLICY`, the active policy stays) when the self-check fails. Safe while other
/// threads decide.
#[unsafe(no_mangle)]
pub extern "C" fn pathsec_runtime_swap(runtime: PathsecHandle, policy: PathsecHandle) -> PathsecStatus {
    guard(|| {
        let runtime = handles::runtime(runtime, "runtime")?;
        let policy = handles::policy(policy, "policy")?;
        runtime.swap(policy).map_err(|e| Failure::new(PATHSEC_ERR_POLICY, e.to_string()))
    })
}

/// Starts a canary: `candidate` decides for `percent` % of the devices (0 to 100), chosen by the SHA-256
/// of their names (the names given to `pathsec_runtime_device`; every node picks the same ones), the
/// active policy for the rest. The candidate is self-checked first; refused (`PATHSEC_ERR_POLICY`) when
/// it fails, `PATHSEC_ERR_INVALID` for a percentage outside 0-100; either way what runs stays. A canary
/// already running is replaced. `pathsec_runtime_enforcing` tells which policy decides for a device.
#[unsafe(no_mangle)]
pub extern "C" fn pathsec_runtime_start_canary(
    runtime: PathsecHandle,
    candidate: PathsecHandle,
    percent: f64,
) -> PathsecStatus {
    guard(|| {
        let candidate = handles::policy(candidate, "candidate")?;
        let selection = Selection::percent(percent).map_err(|e| Failure::invalid(format!("`percent`: {e}")))?;
        change_rollout(runtime, |runtime| runtime.start_canary(candidate, selection))
    })
}

/// Changes what the runtime behind `runtime` runs with `change`; a refusal (what runs stays) is
/// `PATHSEC_ERR_POLICY`, with the error.
fn change_rollout<T>(
    runtime: PathsecHandle,
    change: impl FnOnce(&Runtime) -> std::result::Result<T, RolloutError>,
) -> Result<()> {
    let runtime = handles::runtime(runtime, "runtime")?;
    change(&runtime).map(drop).map_err(|e| Failure::new(PATHSEC_ERR_POLICY, e.to_string()))
}

/// Promotes the canary's candidate: it becomes the active policy for every device. `PATHSEC_ERR_POLICY`
/// when no canary runs.
#[unsafe(no_mangle)]
pub extern "C" fn pathsec_runtime_promote(runtime: PathsecHandle) -> PathsecStatus {
    guard(|| change_rollout(runtime, Runtime::promote))
}

/// Rolls the canary back: the active policy decides for every device again. `PATHSEC_ERR_POLICY` when
/// no canary runs.
#[unsafe(no_mangle)]
pub extern "C" fn pathsec_runtime_roll_back(runtime: PathsecHandle) -> PathsecStatus {
    guard(|| change_rollout(runtime, Runtime::roll_back))
}

/// Starts a shadow: `policy` decides beside the active one on every `every`th cache miss of each worker
/// and is only compared (the metrics text counts its agreements, disagreements and faults); the
/// decisions returned stay the active policy's. Self-checked first (`PATHSEC_ERR_POLICY`);
/// `every` 0 is `PATHSEC_ERR_INVALID`. A shadow already running is replaced.
#[unsafe(no_mangle)]
pub extern "C" fn pathsec_runtime_start_shadow(
    runtime: PathsecHandle,
    policy: PathsecHandle,
    every: u32,
) -> PathsecStatus {
    guard(|| {
        let policy = handles::policy(policy, "policy")?;
        if every == 0 {
            return Err(Failure::invalid("`every` is 0: give 1 to compare every cache miss".to_owned()));
        }
        change_rollout(runtime, |runtime| runtime.start_shadow(policy, every))
    })
}

/// Ends the shadow (nothing when none runs).
#[unsafe(no_mangle)]
pub extern "C" fn pathsec_runtime_end_shadow(runtime: PathsecHandle) -> PathsecStatus {
    guard(|| handles::runtime(runtime, "runtime").map(|runtime| drop(runtime.end_shadow())))
}

/// The name of the policy that decides for `device` now (the canary's candidate when it selects the
/// device, else the active policy), into `buffer`, its length into `written` (no NUL). ABI 1's
/// `PathsecDecision` does not say which policy made it: this does, per device.
///
/// # Safety
/// `buffer` writable for `capacity` bytes; `written` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pathsec_runtime_enforcing(
    runtime: PathsecHandle,
    device: u32,
    buffer: *mut u8,
    capacity: usize,
    written: *mut usize,
) -> PathsecStatus {
    guard(|| {
        let runtime = handles::runtime(runtime, "runtime")?;
        let policy = runtime.enforcing(DeviceId::from_raw(device)).ok_or_else(|| {
            Failure::new(PATHSEC_ERR_DEVICE, format!("`device` {device} is not a device of this runtime"))
        })?;
        // SAFETY: as the caller's.
        unsafe { write_out(policy.name().as_bytes(), buffer, capacity, written, "policy name") }
    })
}

/// Replaces Lists 1-3 with the lists in `text`, a lists file (TOML, or JSON when `name` ends in
/// `.json`): `path-a = [...]`, `path-b = [{ home, server }]`, `interconnect-per-home = [...]`. `name`
/// names it in errors. On error nothing changes.
///
/// # Safety
/// `name` and `text` are NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pathsec_runtime_set_lists(
    runtime: PathsecHandle,
    name: *const c_char,
    text: *const c_char,
) -> PathsecStatus {
    guard(|| {
        // SAFETY: as the caller's.
        let (name, body) = unsafe { (crate::status::text(name, "name")?, crate::status::text(text, "text")?) };
        replace_lists(&handles::runtime(runtime, "runtime")?, name, body)
    })
}

/// As `pathsec_runtime_set_lists`, from a file.
///
/// # Safety
/// `path` is a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pathsec_runtime_set_lists_file(runtime: PathsecHandle, path: *const c_char) -> PathsecStatus {
    guard(|| {
        // SAFETY: as the caller's.
        let path = unsafe { text(path, "path") }?;
        let body = std::fs::read_to_string(path)
            .map_err(|e| Failure::new(PATHSEC_ERR_IO, format!("cannot read lists file `{path}`: {e}")))?;
        replace_lists(&handles::runtime(runtime, "runtime")?, path, &body)
    })
}

/// Replaces Lists 1-3 with lists file `name`'s `body`, once it parses and checks.
fn replace_lists(runtime: &Runtime, name: &str, body: &str) -> Result<()> {
    let lists: ListsFile = pathsec::files::parse_named(name, body).map_err(|e| Failure::invalid(e.to_string()))?;
    lists.check(name, "").map_err(|e| Failure::invalid(e.to_string()))?;
    runtime.replace_lists(|builder| lists.edit(builder, true));
    Ok(())
}

/// One List entry added (`trust` true) or removed: List 1 when only `network` is given; List 2 when
/// `server` is given (the pair (`network` as home, `server`)); List 3 when `visited` is given (the
/// visited network `visited` for home `network`). The next decisions use it.
///
/// # Safety
/// `network` is a NUL-terminated string; `server` and `visited` null or NUL-terminated strings.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pathsec_runtime_trust(
    runtime: PathsecHandle,
    network: *const c_char,
    server: *const c_char,
    visited: *const c_char,
    trust: bool,
) -> PathsecStatus {
    guard(|| {
        // SAFETY: as the caller's.
        let (network, server, visited) = unsafe {
            (text(network, "network")?, optional_text(server, "server")?, optional_text(visited, "visited")?)
        };
        let network = plmn(network, "network")?;
        let runtime = handles::runtime(runtime, "runtime")?;
        match (server, visited) {
            (Some(_), Some(_)) => {
                Err(Failure::invalid("give `server` (a List 2 entry) or `visited` (List 3), not both"))
            }
            (Some(server), None) => {
                let server = runtime.server_id(&fqdn(server, "server")?);
                runtime.update_lists(|lists| match trust {
                    true => drop(lists.trust_path_b(network, server)),
                    false => drop(lists.distrust_path_b(network, server)),
                });
                Ok(())
            }
            (None, Some(visited)) => {
                let visited = plmn(visited, "visited")?;
                runtime.update_lists(|lists| match trust {
                    true => drop(lists.trust_interconnect_for(network, visited)),
                    false => drop(lists.distrust_interconnect_for(network, visited)),
                });
                Ok(())
            }
            (None, None) => {
                runtime.update_lists(|lists| match trust {
                    true => drop(lists.trust_path_a(network)),
                    false => drop(lists.distrust_path_a(network)),
                });
                Ok(())
            }
        }
    })
}

/// Adds List 1 entry `network` with its terms, or replaces a listed network's terms: `access_kinds` is a
/// bit set of the access kinds it vouches for (bit `PATHSEC_ACCESS_3GPP` for 3GPP radio,
/// `1u << PATHSEC_ACCESS_WIRELINE` for wireline, …; at least one), and `integrity_required` asks for
/// access-layer integrity as well as ciphering where the deciding node knows the device's access
/// security. `pathsec_runtime_trust` with `network` alone adds an entry for 3GPP radio.
///
/// # Safety
/// `network` is a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pathsec_runtime_trust_path_a(
    runtime: PathsecHandle,
    network: *const c_char,
    access_kinds: u32,
    integrity_required: bool,
) -> PathsecStatus {
    guard(|| {
        // SAFETY: as the caller's.
        let network = plmn(unsafe { text(network, "network") }?, "network")?;
        if access_kinds == 0 || access_kinds >> AccessKind::ALL.len() != 0 {
            return Err(Failure::invalid(format!(
                "`access_kinds` {access_kinds:#x}: set at least one bit, and only bits 0-{} (1u << PATHSEC_ACCESS_…)",
                AccessKind::ALL.len() - 1
            )));
        }
        let access: AccessKinds =
            AccessKind::ALL.iter().copied().filter(|&kind| access_kinds & (1 << kind as u32) != 0).collect();
        let runtime = handles::runtime(runtime, "runtime")?;
        runtime.update_lists(|lists| {
            lists.trust_path_a_with(network, PathATerms { access, integrity_required });
        });
        Ok(())
    })
}

/// Says server `fqdn` is attached to `network` rather than to the device's home network (000: the
/// server's network is "typically the HPLMN … but this is not always the case"); List 2 and List 3 are
/// read for that network. `network` null: attached to the device's home again.
///
/// # Safety
/// `fqdn` is a NUL-terminated string; `network` null or a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pathsec_runtime_attach_server(
    runtime: PathsecHandle,
    fqdn: *const c_char,
    network: *const c_char,
) -> PathsecStatus {
    guard(|| {
        // SAFETY: as the caller's.
        let (name, network) = unsafe { (text(fqdn, "fqdn")?, optional_text(network, "network")?) };
        let name = self::fqdn(name, "fqdn")?;
        let network = network.map(|network| plmn(network, "network")).transpose()?;
        let runtime = handles::runtime(runtime, "runtime")?;
        let server = runtime.server_id(&name);
        runtime.update_lists(|lists| match network {
            Some(network) => drop(lists.attach_server(server, network)),
            None => drop(lists.detach_server(server)),
        });
        Ok(())
    })
}

fn plmn(text: &str, field: &str) -> Result<PlmnId> {
    text.parse().map_err(|e| Failure::invalid(format!("`{field}`: {e}")))
}

fn fqdn(text: &str, field: &str) -> Result<Fqdn> {
    text.parse().map_err(|e| Failure::invalid(format!("`{field}`: {e}")))
}

/// The handle of server `fqdn` (case and a trailing dot ignored), for flows: the same name gives the
/// same handle for the runtime's life.
///
/// # Safety
/// `fqdn` is a NUL-terminated string; `server` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pathsec_runtime_server(
    runtime: PathsecHandle,
    fqdn: *const c_char,
    server: *mut u32,
) -> PathsecStatus {
    guard(|| {
        let server = out(server, "server")?;
        // SAFETY: as the caller's.
        let name = self::fqdn(unsafe { text(fqdn, "fqdn") }?, "fqdn")?;
        let id = handles::runtime(runtime, "runtime")?.server_id(&name);
        // SAFETY: checked not null.
        unsafe { *server = id.get() };
        Ok(())
    })
}

/// The handle of device `name` (added when new; its facts unknown until set, so its decisions fail
/// closed). `PATHSEC_ERR_DEVICE` when the runtime is full.
///
/// # Safety
/// `name` is a NUL-terminated string; `device` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pathsec_runtime_device(
    runtime: PathsecHandle,
    name: *const c_char,
    device: *mut u32,
) -> PathsecStatus {
    guard(|| {
        let device = out(device, "device")?;
        // SAFETY: as the caller's.
        let name = unsafe { text(name, "name") }?;
        let id = handles::runtime(runtime, "runtime")?
            .device_id(name)
            .map_err(|e| Failure::new(PATHSEC_ERR_DEVICE, e.to_string()))?;
        // SAFETY: checked not null.
        unsafe { *device = id.get() };
        Ok(())
    })
}

fn unknown_device(error: impl std::fmt::Display) -> Failure {
    Failure::new(PATHSEC_ERR_DEVICE, error.to_string())
}

/// The device attached, re-attached or moved network.
///
/// # Safety
/// `attach` points to a `PathsecAttach` whose strings are NUL-terminated (or null where allowed).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pathsec_runtime_set_attach(
    runtime: PathsecHandle,
    device: u32,
    attach: *const PathsecAttach,
) -> PathsecStatus {
    guard(|| {
        non_null(attach, "attach")?;
        // SAFETY: not null; valid by the caller's contract.
        let attach = unsafe { &*attach };
        struct_size(attach.size, size_of::<PathsecAttach>(), "PathsecAttach")?;
        // SAFETY: as the caller's.
        let (serving, home) =
            unsafe { (optional_text(attach.serving, "attach.serving")?, text(attach.home, "attach.home")?) };
        let facts = Attach {
            serving: serving.map(|serving| plmn(serving, "attach.serving")).transpose()?,
            home: plmn(home, "attach.home")?,
            access: decode(AccessKind::ALL, attach.access, "attach.access")?,
        };
        let runtime = handles::runtime(runtime, "runtime")?;
        runtime.set_attach(DeviceId::from_raw(device), facts).map_err(unknown_device)
    })
}

/// The device's attach facts are no longer known (it detached): its decisions fail closed.
#[unsafe(no_mangle)]
pub extern "C" fn pathsec_runtime_clear_attach(runtime: PathsecHandle, device: u32) -> PathsecStatus {
    guard(|| handles::runtime(runtime, "runtime")?.clear_attach(DeviceId::from_raw(device)).map_err(unknown_device))
}

/// The device's access-layer security: ciphering and integrity on or off. Either one protects path A
/// ("encryption and/or integrity"); a List 1 entry may ask for integrity as well.
#[unsafe(no_mangle)]
pub extern "C" fn pathsec_runtime_set_link(
    runtime: PathsecHandle,
    device: u32,
    ciphering: bool,
    integrity: bool,
) -> PathsecStatus {
    guard(|| {
        let link = LinkState { ciphering, integrity };
        handles::runtime(runtime, "runtime")?.set_link(DeviceId::from_raw(device), link).map_err(unknown_device)
    })
}

/// This node no longer knows the device's access security (the network stopped telling it): decisions
/// as a server take List 1 as the statement that path A is protected; as the device, they fail closed.
#[unsafe(no_mangle)]
pub extern "C" fn pathsec_runtime_clear_link(runtime: PathsecHandle, device: u32) -> PathsecStatus {
    guard(|| handles::runtime(runtime, "runtime")?.clear_link(DeviceId::from_raw(device)).map_err(unknown_device))
}

pub(crate) fn format(code: u32) -> Result<Format> {
    match code {
        PATHSEC_FORMAT_JSON => Ok(Format::Json),
        PATHSEC_FORMAT_CBOR => Ok(Format::Cbor),
        _ => Err(Failure::invalid(format!(
            "`format` is {code}: give PATHSEC_FORMAT_JSON ({PATHSEC_FORMAT_JSON}) or PATHSEC_FORMAT_CBOR ({PATHSEC_FORMAT_CBOR})"
        ))),
    }
}

/// Device side of the registration exchange (000, FIG. 7 steps 2-4): the report of `device`'s serving
/// network, access and access security to server `server_fqdn`, with the application-layer security
/// `options` it supports, encoded in `format` into `buffer`. Send it over a protected exchange.
///
/// # Safety
/// `server_fqdn` a NUL-terminated string; `options` readable for `option_count` strings; `buffer`
/// writable for `capacity` bytes; `written` writable.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn pathsec_runtime_registration_report(
    runtime: PathsecHandle,
    device: u32,
    server_fqdn: *const c_char,
    options: *const *const c_char,
    option_count: usize,
    format: u32,
    buffer: *mut u8,
    capacity: usize,
    written: *mut usize,
) -> PathsecStatus {
    guard(|| {
        out(written, "written")?;
        // SAFETY: as the caller's.
        let server = fqdn(unsafe { text(server_fqdn, "server_fqdn") }?, "server_fqdn")?;
        let mut offered = Vec::with_capacity(option_count);
        if option_count > 0 {
            non_null(options, "options")?;
        }
        for index in 0..option_count {
            let field = format!("options[{index}]");
            // SAFETY: `index < option_count` readable string pointers, by the caller's contract.
            let option = unsafe { text(*options.add(index), &field) }?;
            offered.push(option.parse::<SecurityOption>().map_err(|e| Failure::invalid(format!("`{field}`: {e}")))?);
        }
        let encoding = self::format(format)?;
        let runtime = handles::runtime(runtime, "runtime")?;
        let report =
            runtime.registration_report(DeviceId::from_raw(device), &server, offered).map_err(|e| match e {
                ReportError::UnknownDevice(e) => unknown_device(e),
                other => Failure::new(PATHSEC_ERR_REGISTRATION, other.to_string()),
            })?;
        // SAFETY: as the caller's.
        unsafe { write_out(&report.encode(encoding), buffer, capacity, written, "report") }
    })
}

/// Device side (000, FIG. 7 step 8b): checks the server's indication (`length` bytes in `format`) —
/// for this device, from a server it reported to, answering the last report it sent there, not
/// expired, newer than the one held — and stores it; `state` gets `PATHSEC_REGISTRATION_...`. On error
/// nothing is stored.
///
/// The caller asserts that the indication arrived over a protected exchange (the registration's own
/// application-layer security); `pathsec_runtime_accept_indication_over` takes that as an argument.
///
/// # Safety
/// `indication` readable for `length` bytes; `state` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pathsec_runtime_accept_indication(
    runtime: PathsecHandle,
    device: u32,
    format: u32,
    indication: *const u8,
    length: usize,
    state: *mut u32,
) -> PathsecStatus {
    // SAFETY: as the caller's.
    unsafe { pathsec_runtime_accept_indication_over(runtime, device, format, indication, length, true, state) }
}

/// As `pathsec_runtime_accept_indication`, with how the indication arrived: `protected` false (it did
/// not come over the registration's protected exchange) refuses it, since it could be forged.
///
/// # Safety
/// `indication` readable for `length` bytes; `state` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pathsec_runtime_accept_indication_over(
    runtime: PathsecHandle,
    device: u32,
    format: u32,
    indication: *const u8,
    length: usize,
    protected: bool,
    state: *mut u32,
) -> PathsecStatus {
    guard(|| {
        let state = out(state, "state")?;
        // SAFETY: as the caller's.
        let message = unsafe { bytes(indication, length, "indication") }?;
        let decoded = Indication::decode(self::format(format)?, message)
            .map_err(|e| Failure::new(PATHSEC_ERR_REGISTRATION, e.to_string()))?;
        let runtime = handles::runtime(runtime, "runtime")?;
        let arrived = if protected { Carried::Protected } else { Carried::Unprotected };
        let stored = runtime.accept_indication(DeviceId::from_raw(device), &decoded, arrived).map_err(|e| match e {
            IndicationError::UnknownDevice(e) => unknown_device(e),
            other => Failure::new(PATHSEC_ERR_REGISTRATION, other.to_string()),
        })?;
        let code = match stored {
            RegistrationState::Standing(_) => PATHSEC_REGISTRATION_STANDING,
            RegistrationState::Pending(_) => PATHSEC_REGISTRATION_PENDING,
            _ => PATHSEC_REGISTRATION_NONE,
        };
        // SAFETY: checked not null.
        unsafe { *state = code };
        Ok(())
    })
}

/// The runtime's counters (`metrics.size` must be set to `sizeof(PathsecMetrics)`).
///
/// # Safety
/// `metrics` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pathsec_runtime_metrics(
    runtime: PathsecHandle,
    metrics: *mut PathsecMetrics,
) -> PathsecStatus {
    guard(|| {
        let metrics = out(metrics, "metrics")?;
        // SAFETY: checked not null; readable and writable by the caller's contract.
        struct_size(unsafe { (*metrics).size }, size_of::<PathsecMetrics>(), "PathsecMetrics")?;
        let runtime = handles::runtime(runtime, "runtime")?;
        let m = runtime.metrics();
        // SAFETY: as above.
        unsafe {
            *metrics = PathsecMetrics {
                size: size_of::<PathsecMetrics>() as u32,
                decisions: m.decisions,
                cache_hits: m.cache_hits,
                policy_calls: m.policy_calls,
                unknown_facts: m.unknown_facts,
                faults: m.faults.total(),
                swaps: m.swaps,
                swaps_refused: m.swaps_refused,
                devices: runtime.device_count() as u64,
            }
        };
        Ok(())
    })
}

/// The runtime's metrics in the Prometheus text format (OpenMetrics), for a server that serves
/// `/metrics` itself: into `buffer`, its length into `written` (no NUL).
///
/// # Safety
/// `buffer` writable for `capacity` bytes; `written` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pathsec_runtime_metrics_text(
    runtime: PathsecHandle,
    buffer: *mut u8,
    capacity: usize,
    written: *mut usize,
) -> PathsecStatus {
    guard(|| {
        let runtime = handles::runtime(runtime, "runtime")?;
        let mut registry = prometheus_client::registry::Registry::default();
        runtime.register_metrics(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).map_err(|e| {
            Failure::new(crate::status::PATHSEC_ERR_INTERNAL, format!("cannot encode the metrics: {e}"))
        })?;
        // SAFETY: as the caller's.
        unsafe { write_out(text.as_bytes(), buffer, capacity, written, "metrics text") }
    })
}
