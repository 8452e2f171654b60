//! Resource limits: what one decision, one load and one policy instance may use.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::vocab::PolicyFault;

/// The epoch ticker's period: the resolution of every deadline.
pub(crate) const TICK: Duration = Duration::from_millis(1);

/// What a policy may use. Every limit hit makes the decision fail closed with a
/// [`PolicyFault`](crate::PolicyFault) that carries the observed value and the limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest a `decide` call may run (a batch of `n` gets `n.div_ceil(64)` times this). Default 10 ms.
    pub deadline: Duration,
    /// Longest instantiating a policy or loading a fact generation into it may run. Default 1 s.
    pub load_deadline: Duration,
    /// Most linear memory one policy instance may have, in bytes. Default 64 MiB.
    pub memory: usize,
    /// Most elements one table may have. Default 100,000.
    pub table_elements: usize,
    /// Most core instances, tables and memories one policy instance may create. Default 64.
    pub instances: usize,
    /// Largest policy component loaded, in bytes; a larger file is refused before it is read. Default
    /// 32 MiB (a Python policy is ~18 MB, a Rust one ~60 KB).
    pub module_size: usize,
    /// Most entries each of Lists 1, 2 and 3 may have when loaded into a policy; a fact generation with
    /// a longer list is not loaded, and decisions on it fail closed. Default 1,000,000.
    pub list_entries: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            deadline: Duration::from_millis(10),
            load_deadline: Duration::from_secs(1),
            memory: 64 << 20,
            table_elements: 100_000,
            instances: 64,
            module_size: 32 << 20,
            list_entries: 1_000_000,
        }
    }
}

impl Limits {
    /// Checks every limit is usable.
    pub(crate) fn validate(&self) -> Result<(), LimitError> {
        let problem = |limit: &'static str, problem: String| Err(LimitError { limit, problem });
        for (name, value) in [("deadline", self.deadline), ("load_deadline", self.load_deadline)] {
            if value < TICK || value > Duration::from_secs(3600) {
                return problem(name, format!("{value:?} is outside 1 ms ..= 1 h"));
            }
        }
        if self.memory < 1 << 16 {
            return problem("memory", format!("{} bytes is less than one 64 KiB page", self.memory));
        }
        for (name, value) in [
            ("instances", self.instances),
            ("table_elements", self.table_elements),
            ("module_size", self.module_size),
            ("list_entries", self.list_entries),
        ] {
            if value == 0 {
                return problem(name, "must be at least 1".to_owned());
            }
        }
        Ok(())
    }

    /// The deadline for a batch of `requests`: [`Limits::deadline`] per started 64.
    pub(crate) fn batch_deadline(&self, requests: usize) -> Duration {
        self.deadline.saturating_mul(u32::try_from(requests.div_ceil(64).max(1)).unwrap_or(u32::MAX))
    }
}

/// How often each limit was hit since the engine started (every clone of an engine shares them). A
/// batch that hits a limit counts once.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LimitHits {
    /// Calls stopped at [`Limits::deadline`] or [`Limits::load_deadline`].
    pub deadline: u64,
    /// Memory growths refused at [`Limits::memory`].
    pub memory: u64,
    /// Table growths refused at [`Limits::table_elements`].
    pub table_elements: u64,
    /// Instantiations refused at [`Limits::instances`] (too many core instances, tables or memories).
    pub instances: u64,
    /// Policies refused for [`Limits::module_size`].
    pub module_size: u64,
    /// Fact generations not loaded for [`Limits::list_entries`].
    pub list_entries: u64,
}

/// The counters behind [`LimitHits`].
#[derive(Default)]
pub(crate) struct LimitCounters {
    deadline: AtomicU64,
    memory: AtomicU64,
    table_elements: AtomicU64,
    instances: AtomicU64,
    module_size: AtomicU64,
    list_entries: AtomicU64,
}

impl LimitCounters {
    /// Counts `fault` if it is a limit hit the limiter did not count already (memory and table growths
    /// are counted where they are refused, whether or not the policy then fails).
    pub(crate) fn record(&self, fault: &PolicyFault) {
        let counter = match fault {
            PolicyFault::DeadlineExceeded { .. } => &self.deadline,
            PolicyFault::InstanceLimitExceeded { .. } => &self.instances,
            PolicyFault::ListTooLong { .. } => &self.list_entries,
            _ => return,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn module_too_large(&self) {
        self.module_size.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn hits(&self) -> LimitHits {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        LimitHits {
            deadline: get(&self.deadline),
            memory: get(&self.memory),
            table_elements: get(&self.table_elements),
            instances: get(&self.instances),
            module_size: get(&self.module_size),
            list_entries: get(&self.list_entries),
        }
    }
}

/// Ticks to wait for `limit`: one more than its length, since the current tick may be nearly over.
pub(crate) fn ticks(limit: Duration) -> u64 {
    (limit.as_nanos().div_ceil(TICK.as_nanos()) as u64).saturating_add(1)
}

/// The per-store limiter: enforces [`Limits`], counts every growth it refuses, and remembers the last
/// refused growth so a fault that follows is blamed on it.
pub(crate) struct StoreLimiter {
    memory: usize,
    table_elements: usize,
    instances: usize,
    counters: Arc<LimitCounters>,
    /// The refused growth since the last call started, if any.
    pub(crate) refused: Option<Refused>,
}

/// A growth the limiter refused: what was asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Linear memory, in bytes.
    Memory(usize),
    /// Table elements.
    Table(usize),
}

impl StoreLimiter {
    pub(crate) fn new(limits: &Limits, counters: Arc<LimitCounters>) -> StoreLimiter {
        StoreLimiter {
            memory: limits.memory,
            table_elements: limits.table_elements,
            instances: limits.instances,
            counters,
            refused: None,
        }
    }

    /// The fault a refused growth explains, with the limit it hit.
    pub(crate) fn refused_fault(&self) -> Option<PolicyFault> {
        match self.refused? {
            Refused::Memory(requested) => Some(PolicyFault::MemoryLimitExceeded { requested, limit: self.memory }),
            Refused::Table(requested) => {
                Some(PolicyFault::TableLimitExceeded { requested, limit: self.table_elements })
            }
        }
    }

    /// The instance, table and memory cap of one policy instance.
    pub(crate) fn instances_limit(&self) -> usize {
        self.instances
    }
}

impl wasmtime::ResourceLimiter for StoreLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.memory {
            self.refused = Some(Refused::Memory(desired));
            self.counters.memory.fetch_add(1, Ordering::Relaxed);
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.table_elements {
            self.refused = Some(Refused::Table(desired));
            self.counters.table_elements.fetch_add(1, Ordering::Relaxed);
            return Ok(false);
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        self.instances
    }

    fn tables(&self) -> usize {
        self.instances
    }

    fn memories(&self) -> usize {
        self.instances
    }
}

/// A limit out of range: the engine cannot be built with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid limit `{limit}`: {problem}")]
pub struct LimitError {
    /// The setting.
    pub limit: &'static str,
    /// What is wrong with it.
    pub problem: String,
}
