//! Workers: one per thread, deciding flows (one, or a batch) with the runtime's live facts and a
//! per-flow cache; and the server side of the registration exchange.

use pathsec::runtime::{Carried, DeviceId, RegistrationError};
use pathsec::vocab::{AccessIntegrity, EndToEnd, EventKind, TriggerCheck};
use pathsec::{Decision, Event, Flow, Role, ServerId};

use crate::codes::{
    PATHSEC_EVENT_RECEIVE_PROTECTED, PATHSEC_EVENT_RECEIVE_TRIGGER, PATHSEC_EVENT_RECEIVE_UNPROTECTED,
    PATHSEC_EVENT_SEND_DATA, PATHSEC_EVENT_SEND_TRIGGER,
};
use crate::handles::{self, Object, PathsecHandle, WorkerSlot};
use crate::status::{
    Failure, PATHSEC_ERR_DEVICE, PATHSEC_ERR_REGISTRATION, PathsecStatus, bytes, guard, non_null, out, write_out,
};
use crate::types::{PathsecDecision, PathsecFlow};

/// The most flows one batch may have.
pub const PATHSEC_MAX_BATCH: usize = 1 << 20;

/// A worker of `runtime`, for one thread at a time (a second thread using it meanwhile gets
/// `PATHSEC_ERR_BUSY`). Make one per deciding thread; free it when the thread is done.
///
/// # Safety
/// `worker` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pathsec_worker_new(runtime: PathsecHandle, worker: *mut PathsecHandle) -> PathsecStatus {
    guard(|| {
        let worker = out(worker, "worker")?;
        let runtime = handles::runtime(runtime, "runtime")?;
        let slot = WorkerSlot { worker: runtime.worker(), flows: Vec::new(), decisions: Vec::new() };
        let handle = handles::insert(Object::Worker(Box::new(slot)))?;
        // SAFETY: checked not null.
        unsafe { *worker = handle };
        Ok(())
    })
}

/// Frees a worker (waiting for a decision another thread is making with it, if any).
#[unsafe(no_mangle)]
pub extern "C" fn pathsec_worker_free(worker: PathsecHandle) -> PathsecStatus {
    guard(|| handles::remove(worker, "worker", "a worker"))
}

/// A flow from its C form, when every code in it is one (the hot path: a few compares per flow).
#[inline]
fn flow(given: &PathsecFlow) -> Option<Flow> {
    let event = match given.event {
        PATHSEC_EVENT_SEND_DATA => Event::SendData,
        PATHSEC_EVENT_RECEIVE_UNPROTECTED => Event::ReceiveUnprotected,
        PATHSEC_EVENT_RECEIVE_PROTECTED => Event::ReceiveProtected,
        PATHSEC_EVENT_SEND_TRIGGER => Event::SendTrigger,
        PATHSEC_EVENT_RECEIVE_TRIGGER => Event::ReceiveTrigger(TriggerCheck {
            access_integrity: *AccessIntegrity::ALL.get(given.access_integrity as usize)?,
            end_to_end: *EndToEnd::ALL.get(given.end_to_end as usize)?,
        }),
        _ => return None,
    };
    let role = *Role::ALL.get(given.role as usize)?;
    Some(Flow { device: DeviceId::from_raw(given.device), server: ServerId::from_raw(given.server), role, event })
}

/// What is wrong with a flow [`flow`] refused; `at` is its index in a batch, for the message.
#[cold]
fn bad_flow(given: &PathsecFlow, at: Option<usize>) -> Failure {
    let field = |name: &str| match at {
        Some(index) => format!("flows[{index}].{name}"),
        None => format!("flow.{name}"),
    };
    let checks = [
        ("role", given.role, Role::ALL.len()),
        ("event", given.event, EventKind::ALL.len()),
        ("access_integrity", given.access_integrity, AccessIntegrity::ALL.len()),
        ("end_to_end", given.end_to_end, EndToEnd::ALL.len()),
    ];
    // A trigger's checks count only for a received trigger.
    let relevant = if given.event == PATHSEC_EVENT_RECEIVE_TRIGGER { 4 } else { 2 };
    let (name, code, count) =
        checks[..relevant].iter().copied().find(|&(_, code, count)| code as usize >= count).unwrap_or(checks[0]);
    Failure::invalid(format!("`{}` is {code}, and its codes are 0 to {}", field(name), count - 1))
}

fn answer(decision: &Decision) -> PathsecDecision {
    PathsecDecision {
        action: decision.action.index() as u32,
        reason: decision.reason.index() as u32,
        fault: decision.fault.as_ref().map_or(0, |fault| fault.kind().index() as u32 + 1),
    }
}

/// Decides one flow: from the worker's cache when no fact it used changed, else by the policy. A
/// device or server the runtime does not know, or facts not yet set, fail closed (reason
/// `attach-unknown`), as every unknown does. No allocation.
///
/// # Safety
/// `flow` readable; `decision` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pathsec_worker_decide(
    worker: PathsecHandle,
    flow: *const PathsecFlow,
    decision: *mut PathsecDecision,
) -> PathsecStatus {
    guard(|| {
        let (flow, decision) = (non_null(flow, "flow")?, out(decision, "decision")?);
        // SAFETY: not null; readable by the caller's contract.
        let given = unsafe { &*flow };
        let flow = self::flow(given).ok_or_else(|| bad_flow(given, None))?;
        let made = handles::with_worker(worker, "worker", |slot| Ok(slot.worker.decide(&flow)))?;
        // SAFETY: not null; writable by the caller's contract.
        unsafe { *decision = answer(&made) };
        Ok(())
    })
}

/// Decides `count` flows, cached ones from the cache and the rest in one call into the policy, into
/// `decisions` (room for `count`). A malformed flow refuses the whole batch, naming it (`flows[i]`),
/// and nothing is decided. No allocation once the worker has seen a batch this large.
///
/// # Safety
/// `flows` readable and `decisions` writable for `count` elements.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pathsec_worker_decide_batch(
    worker: PathsecHandle,
    flows: *const PathsecFlow,
    count: usize,
    decisions: *mut PathsecDecision,
) -> PathsecStatus {
    guard(|| {
        if count == 0 {
            return Ok(());
        }
        if count > PATHSEC_MAX_BATCH {
            return Err(Failure::invalid(format!(
                "`count` is {count}, more than the {PATHSEC_MAX_BATCH} flows a batch may have"
            )));
        }
        let (flows, decisions) = (non_null(flows, "flows")?, out(decisions, "decisions")?);
        // SAFETY: not null; `count` readable elements by the caller's contract.
        let given = unsafe { std::slice::from_raw_parts(flows, count) };
        handles::with_worker(worker, "worker", |slot| {
            slot.flows.clear();
            for (index, given) in given.iter().enumerate() {
                slot.flows.push(flow(given).ok_or_else(|| bad_flow(given, Some(index)))?);
            }
            let WorkerSlot { worker, flows, decisions: made } = slot;
            worker.decide_batch_into(flows, made);
            for (index, decision) in made.iter().enumerate() {
                // SAFETY: `index < count` writable elements by the caller's contract.
                unsafe { *decisions.add(index) = answer(decision) };
            }
            Ok(())
        })
    })
}

/// Server side of the registration exchange (000, FIG. 7 steps 5-8a): decides a device's report
/// (`length` bytes in `format`) with the runtime's lists and answers the indication to send back, in
/// the same format, into `buffer`. `protected` says whether the report came over a protected exchange
/// (an unprotected one is refused: it could be forged).
///
/// # Safety
/// `report` readable for `length` bytes; `buffer` writable for `capacity` bytes; `written` writable.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn pathsec_worker_register(
    worker: PathsecHandle,
    format: u32,
    report: *const u8,
    length: usize,
    protected: bool,
    buffer: *mut u8,
    capacity: usize,
    written: *mut usize,
) -> PathsecStatus {
    guard(|| {
        out(written, "written")?;
        // SAFETY: as the caller's.
        let message = unsafe { bytes(report, length, "report") }?;
        let encoding = crate::runtime::format(format)?;
        let decoded = pathsec::exchange::Report::decode(encoding, message)
            .map_err(|e| Failure::new(PATHSEC_ERR_REGISTRATION, e.to_string()))?;
        let carried = if protected { Carried::Protected } else { Carried::Unprotected };
        let indication = handles::with_worker(worker, "worker", |slot| {
            slot.worker.register(&decoded, carried).map_err(|e| match e {
                RegistrationError::TooManyDevices(e) => Failure::new(PATHSEC_ERR_DEVICE, e.to_string()),
                other => Failure::new(PATHSEC_ERR_REGISTRATION, other.to_string()),
            })
        })?;
        // SAFETY: as the caller's.
        unsafe { write_out(&indication.encode(encoding), buffer, capacity, written, "indication") }
    })
}
