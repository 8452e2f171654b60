//! The runtime's metrics for a Prometheus scrape (feature `prometheus`): register a runtime in a
//! `prometheus_client` registry with [`Runtime::register_metrics`] and encode the registry wherever the
//! embedder serves `/metrics`. Each scrape reads [`Runtime::metrics`] once; nothing is counted twice
//! and the per-packet path is unchanged.
//!
//! | metric | labels | what |
//! |---|---|---|
//! | `pathsec_decisions_total` | `policy`, `action`, `reason` | decisions answered, by the policy that made them (the active one or a canary's candidate) |
//! | `pathsec_cache_hits_total` | | decisions the flow cache answered |
//! | `pathsec_policy_calls_total` | | decisions the policy was asked for |
//! | `pathsec_unknown_facts_total` | | decisions failed closed before the policy |
//! | `pathsec_policy_faults_total` | `kind` | decisions failed closed on a policy fault |
//! | `pathsec_policy_swaps_total` | | policies swapped in |
//! | `pathsec_policy_swaps_refused_total` | | swaps refused by the self-check |
//! | `pathsec_decision_log_entries_total` | `outcome` (`written`, `dropped`, `failed`) | the decision log's counts |
//! | `pathsec_lists_generation` | | the lists' generation |
//! | `pathsec_fact_feed_revision` | | the newest fact-feed revision applied (0 without a feed) |
//! | `pathsec_policy_info` | `name`, `sha256`, `role` | 1 for each policy running: `active`, `candidate`, `shadow` |
//! | `pathsec_canary_fraction` | `candidate` | the fraction of devices (0-1) a canary selects by name, besides its ring |
//! | `pathsec_shadow_decisions_total` | `shadow`, `outcome` (`agreed`, `disagreed`, `skipped`) | decisions a shadow was compared on, or skipped by sampling |
//! | `pathsec_shadow_disagreements_total` | `shadow`, `active_action`, `active_reason`, `shadow_action`, `shadow_reason` | a shadow's disagreements, one way each |
//! | `pathsec_shadow_faults_total` | `shadow`, `kind` | a shadow's faults (the active decision stood) |
//! | `pathsec_build_info` | `version` | 1 |

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use crate::deciding::live::Runtime;

impl Runtime {
    /// Registers this runtime's metrics in `registry` (see the [module](crate::drivers::prometheus)
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
            "Decisions answered, by the policy that made them (the active one or a canary's candidate), the action and the reason",
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
        counter(
            &mut encoder,
            "pathsec_instances_prepared",
            "Workers' policy instances made ready with a change before it was published",
            metrics.instances_prepared,
        )?;
        counter(
            &mut encoder,
            "pathsec_loads_while_deciding",
            "Times a worker made its instances or loaded the lists on its decision path",
            metrics.loads_while_deciding,
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
        let rollout = self.runtime.rollout();
        let running = std::iter::once(("active", &policy))
            .chain(rollout.canary.as_ref().map(|canary| ("candidate", &canary.policy)))
            .chain(rollout.shadow.as_ref().map(|shadow| ("shadow", &shadow.policy)));
        for (role, policy) in running {
            let labels = [("name", policy.name()), ("sha256", policy.digest()), ("role", role)];
            ConstGauge::new(1i64).encode(family.encode_family(&labels)?)?;
        }
        if let Some(canary) = &rollout.canary {
            let mut family = encoder.encode_descriptor(
                "pathsec_canary_fraction",
                "The fraction of devices (0-1) the canary selects by the SHA-256 of their names, besides its ring",
                None,
                prometheus_client::metrics::MetricType::Gauge,
            )?;
            let fraction = ConstGauge::new(canary.selection.fraction_percent() / 100.0);
            fraction.encode(family.encode_family(&[("candidate", canary.policy.name())])?)?;
        }
        shadows(&mut encoder, &metrics.shadows)?;
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

/// The shadows' comparisons, disagreements and faults.
fn shadows(
    encoder: &mut DescriptorEncoder<'_>,
    shadows: &[crate::telemetry::metrics::ShadowMetrics],
) -> Result<(), std::fmt::Error> {
    if shadows.is_empty() {
        return Ok(());
    }
    let mut family = encoder.encode_descriptor(
        "pathsec_shadow_decisions",
        "Decisions a shadow policy was compared on (agreed or disagreed with the active one), or skipped by its sampling",
        None,
        prometheus_client::metrics::MetricType::Counter,
    )?;
    for shadow in shadows {
        for (outcome, count) in
            [("agreed", shadow.agreed), ("disagreed", shadow.disagreed), ("skipped", shadow.skipped)]
        {
            ConstCounter::new(count)
                .encode(family.encode_family(&[("shadow", &*shadow.policy), ("outcome", outcome)])?)?;
        }
    }
    let mut family = encoder.encode_descriptor(
        "pathsec_shadow_disagreements",
        "A shadow policy's disagreements with the active one, by what each answered",
        None,
        prometheus_client::metrics::MetricType::Counter,
    )?;
    for shadow in shadows {
        for disagreement in &shadow.disagreements {
            let labels = [
                ("shadow", &*shadow.policy),
                ("active_action", disagreement.active.0.name()),
                ("active_reason", disagreement.active.1.name()),
                ("shadow_action", disagreement.shadow.0.name()),
                ("shadow_reason", disagreement.shadow.1.name()),
            ];
            ConstCounter::new(disagreement.count).encode(family.encode_family(&labels)?)?;
        }
    }
    let mut family = encoder.encode_descriptor(
        "pathsec_shadow_faults",
        "A shadow policy's faults, by kind (the active decision stood)",
        None,
        prometheus_client::metrics::MetricType::Counter,
    )?;
    for shadow in shadows {
        for (kind, count) in shadow.faults.iter() {
            ConstCounter::new(count)
                .encode(family.encode_family(&[("shadow", &*shadow.policy), ("kind", kind.name())])?)?;
        }
    }
    Ok(())
}

fn counter(encoder: &mut DescriptorEncoder<'_>, name: &str, help: &str, value: u64) -> Result<(), std::fmt::Error> {
    let metric = ConstCounter::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

fn gauge(encoder: &mut DescriptorEncoder<'_>, name: &str, help: &str, value: u64) -> Result<(), std::fmt::Error> {
    let metric = ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX));
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

#[cfg(all(test, feature = "bundled-policies"))]
mod tests {
    use super::*;
    use crate::rollout::Selection;
    use crate::store::flow::Flow;
    use crate::{AccessKind, Attach, Engine, Event, LinkState, Role};

    #[test]
    fn a_scrape_shows_the_canary_and_the_shadow() {
        let engine = Engine::new().expect("engine");
        let reference = engine.load_policy("reference", crate::bundled::REFERENCE).expect("loads");
        let strict = engine.load_policy("always-secure", crate::bundled::ALWAYS_SECURE).expect("loads");
        let runtime = Runtime::new(reference.clone()).expect("runtime");
        let home = "310410".parse().expect("valid");
        let server = runtime.server_id(&"mtc.example.com".parse().expect("valid"));
        runtime.update_lists(|lists| {
            lists.trust_path_a(home).trust_path_b(home, server);
        });
        let device = runtime.device_id("meter").expect("room");
        runtime.set_attach(device, Attach { serving: Some(home), home, access: AccessKind::ThreeGpp }).expect("known");
        runtime.set_link(device, LinkState { ciphering: true, integrity: true }).expect("known");
        runtime.start_canary(strict.clone(), Selection::percent(0.0).expect("valid")).expect("canary");
        runtime.start_shadow(strict, 1).expect("shadow");
        runtime.worker().decide(&Flow { device, server, role: Role::Server, event: Event::SendData });
        let mut registry = Registry::default();
        runtime.register_metrics(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).expect("encodes");
        for wanted in [
            r#"role="candidate""#,
            r#"role="shadow""#,
            r#"pathsec_canary_fraction{candidate="always-secure"} 0"#,
            r#"pathsec_shadow_decisions_total{shadow="always-secure",outcome="disagreed"} 1"#,
            r#"pathsec_shadow_disagreements_total{shadow="always-secure",active_action="send-plain",active_reason="path-secure",shadow_action="secure-then-send",shadow_reason="policy-requires-application-security"} 1"#,
        ] {
            assert!(text.contains(wanted), "`{wanted}` missing from:\n{text}");
        }
    }
}
