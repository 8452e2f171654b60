//! The runtime's metrics for a Prometheus scrape (feature `prometheus`): register a runtime in a
//! `prometheus_client` registry with [`Runtime::register_metrics`] and encode the registry wherever the
//! embedder serves `/metrics`. Each scrape reads [`Runtime::metrics`] once; nothing is counted twice
//! and the per-packet path is unchanged.
//!
//! | metric | labels | what |
//! |---|---|---|
//! | `pathsec_decisions_total` | `policy`, `action`, `reason` | decisions answered |
//! | `pathsec_cache_hits_total` | | decisions the flow cache answered |
//! | `pathsec_policy_calls_total` | | decisions the policy was asked for |
//! | `pathsec_unknown_facts_total` | | decisions failed closed before the policy |
//! | `pathsec_policy_faults_total` | `kind` | decisions failed closed on a policy fault |
//! | `pathsec_policy_swaps_total` | | policies swapped in |
//! | `pathsec_policy_swaps_refused_total` | | swaps refused by the self-check |
//! | `pathsec_decision_log_entries_total` | `outcome` (`written`, `dropped`, `failed`) | the decision log's counts |
//! | `pathsec_lists_generation` | | the lists' generation |
//! | `pathsec_fact_feed_revision` | | the newest fact-feed revision applied (0 without a feed) |
//! | `pathsec_policy_info` | `name`, `sha256` | 1, for the active policy |
//! | `pathsec_build_info` | `version` | 1 |

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use crate::runtime::live::Runtime;

impl Runtime {
    /// Registers this runtime's metrics in `registry` (see the [module](crate::runtime::prometheus)
    /// for the names). The registry keeps the runtime alive.
    pub fn register_metrics(&self, registry: &mut Registry) {
        registry.register_collector(Box::new(RuntimeCollector { runtime: self.clone() }));
    }
}

/// Encodes a runtime's metrics on each scrape.
#[derive(Debug)]
struct RuntimeCollector {
    runtime: Runtime,
}

impl Collector for RuntimeCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let metrics = self.runtime.metrics();
        let policy = self.runtime.policy();

        let mut family = encoder.encode_descriptor(
            "pathsec_decisions",
            "Decisions answered, by the policy that was active, the action and the reason",
            None,
            prometheus_client::metrics::MetricType::Counter,
        )?;
        for outcome in &metrics.outcomes {
            let labels =
                [("policy", &*outcome.policy), ("action", outcome.action.name()), ("reason", outcome.reason.name())];
            ConstCounter::new(outcome.count).encode(family.encode_family(&labels)?)?;
        }

        counter(
            &mut encoder,
            "pathsec_cache_hits",
            "Decisions answered from a worker's flow cache",
            metrics.cache_hits,
        )?;
        counter(&mut encoder, "pathsec_policy_calls", "Decisions the policy was asked for", metrics.policy_calls)?;
        counter(
            &mut encoder,
            "pathsec_unknown_facts",
            "Decisions that failed closed before the policy: unknown attach facts, stale fed facts, a pending re-registration",
            metrics.unknown_facts,
        )?;

        let mut family = encoder.encode_descriptor(
            "pathsec_policy_faults",
            "Decisions that failed closed on a policy fault, by kind",
            None,
            prometheus_client::metrics::MetricType::Counter,
        )?;
        for (kind, count) in metrics.faults.iter() {
            ConstCounter::new(count).encode(family.encode_family(&[("kind", kind.name())])?)?;
        }

        counter(&mut encoder, "pathsec_policy_swaps", "Policies swapped in", metrics.swaps)?;
        counter(
            &mut encoder,
            "pathsec_policy_swaps_refused",
            "Policies refused by the self-check (the active policy stayed)",
            metrics.swaps_refused,
        )?;

        if let Some(log) = &metrics.log {
            let mut family = encoder.encode_descriptor(
                "pathsec_decision_log_entries",
                "Decisions handed to the decision log: written to its sink, dropped on a full queue, or refused by the sink",
                None,
                prometheus_client::metrics::MetricType::Counter,
            )?;
            for (outcome, count) in [("written", log.written), ("dropped", log.dropped), ("failed", log.failed)] {
                ConstCounter::new(count).encode(family.encode_family(&[("outcome", outcome)])?)?;
            }
        }

        gauge(
            &mut encoder,
            "pathsec_lists_generation",
            "The generation of the lists in force",
            self.runtime.lists().generation(),
        )?;
        gauge(
            &mut encoder,
            "pathsec_fact_feed_revision",
            "The newest fact-feed revision applied (0 without a feed)",
            self.runtime.feed_revision(),
        )?;
        let mut family = encoder.encode_descriptor(
            "pathsec_policy_info",
            "The active policy: 1, labelled with its name and SHA-256",
            None,
            prometheus_client::metrics::MetricType::Gauge,
        )?;
        ConstGauge::new(1i64).encode(family.encode_family(&[("name", policy.name()), ("sha256", policy.digest())])?)?;
        let build = Info::new([("version", env!("CARGO_PKG_VERSION"))]);
        build.encode(encoder.encode_descriptor(
            "pathsec_build",
            "The pathsec library, by version",
            None,
            build.metric_type(),
        )?)?;
        Ok(())
    }
}

fn counter(encoder: &mut DescriptorEncoder<'_>, name: &str, help: &str, value: u64) -> Result<(), std::fmt::Error> {
    let metric = ConstCounter::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

fn gauge(encoder: &mut DescriptorEncoder<'_>, name: &str, help: &str, value: u64) -> Result<(), std::fmt::Error> {
    let metric = ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX));
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}
