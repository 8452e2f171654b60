//! `/metrics`: the runtime's metrics (the library's own collector, `pathsec::runtime::prometheus`) and
//! the daemon's: request latency by API and operation, requests by outcome, the fact feed, the log
//! shipper, build info. OpenMetrics text, as `prometheus_client` encodes it (Prometheus scrapes it).

use std::sync::{Arc, Weak};
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use crate::logship::ShipperStats;
use crate::service::Service;

/// The labels of a served call.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    /// `http` or `grpc`.
    pub api: &'static str,
    /// The operation: `decide`, `decide-batch`, `related`, `put-device`, `put-lists`, `swap-policy`, …
    pub operation: &'static str,
}

/// The labels of a finished call.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// `http` or `grpc`.
    pub api: &'static str,
    /// The operation.
    pub operation: &'static str,
    /// `ok`, or the refusal's HTTP status (`400`, `404`, …).
    pub outcome: &'static str,
}

/// The daemon's metrics.
pub struct ServeMetrics {
    registry: Registry,
    latency: Family<CallLabels, Histogram>,
    calls: Family<OutcomeLabels, Counter>,
    /// Connections closed at once because `listen.max-connections` were open.
    pub refused_connections: Counter,
}

impl ServeMetrics {
    /// Metrics of `service`'s runtime, its feed and `shipper`'s log shipping.
    pub fn new(service: &Arc<Service>, shipper: Option<Arc<dyn Fn() -> ShipperStats + Send + Sync>>) -> ServeMetrics {
        let mut registry = Registry::default();
        service.runtime().register_metrics(&mut registry);
        let latency = Family::<CallLabels, Histogram>::new_with_constructor(|| {
            // 5 µs to 1 s: a cache hit over loopback is tens of µs; a batch or a swap, milliseconds.
            Histogram::new([5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 0.1, 1.0])
        });
        registry.register_with_unit(
            "pathsec_serve_request_duration",
            "Time to answer a call (decoding, deciding, encoding), by API and operation",
            prometheus_client::registry::Unit::Seconds,
            latency.clone(),
        );
        let calls = Family::<OutcomeLabels, Counter>::default();
        registry.register("pathsec_serve_requests", "Calls answered, by API, operation and outcome", calls.clone());
        let refused_connections = Counter::default();
        registry.register(
            "pathsec_serve_connections_refused",
            "Connections closed at once because `listen.max-connections` were open",
            refused_connections.clone(),
        );
        registry.register(
            "pathsec_serve_build",
            "The daemon, by version",
            Info::new([("version", env!("CARGO_PKG_VERSION"))]),
        );
        registry.register_collector(Box::new(DaemonCollector { service: Arc::downgrade(service), shipper }));
        ServeMetrics { registry, latency, calls, refused_connections }
    }

    /// A call answered in `took`, ok or refused with `status`.
    pub fn observe(&self, api: &'static str, operation: &'static str, took: Duration, status: Option<u16>) {
        self.latency.get_or_create(&CallLabels { api, operation }).observe(took.as_secs_f64());
        let outcome = match status {
            None => "ok",
            Some(400) => "400",
            Some(401) => "401",
            Some(404) => "404",
            Some(408) => "408",
            Some(409) => "409",
            Some(413) => "413",
            Some(422) => "422",
            Some(503) => "503",
            Some(_) => "other",
        };
        self.calls.get_or_create(&OutcomeLabels { api, operation, outcome }).inc();
    }

    /// The text a scrape gets.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// The fact feed's and the shipper's state, read at each scrape.
struct DaemonCollector {
    service: Weak<Service>,
    shipper: Option<Arc<dyn Fn() -> ShipperStats + Send + Sync>>,
}

impl std::fmt::Debug for DaemonCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DaemonCollector").field("shipper", &self.shipper.is_some()).finish_non_exhaustive()
    }
}

impl Collector for DaemonCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        if let Some(service) = self.service.upgrade() {
            let status = service.status();
            gauge(
                &mut encoder,
                "pathsec_serve_uptime_seconds",
                "Seconds since the daemon started",
                status.uptime_seconds,
            )?;
            if let Some(feed) = service.feed_status() {
                gauge(
                    &mut encoder,
                    "pathsec_fact_feed_connected",
                    "1 while connected to the fact feed's server",
                    f64::from(u8::from(feed.connected)),
                )?;
                gauge(
                    &mut encoder,
                    "pathsec_fact_feed_current",
                    "1 once every shard has caught up with the bucket since the last (re)connection; 0 while behind",
                    f64::from(u8::from(feed.current)),
                )?;
                gauge(
                    &mut encoder,
                    "pathsec_fact_feed_stale",
                    "1 while past the staleness bound",
                    f64::from(u8::from(feed.stale)),
                )?;
                gauge(&mut encoder, "pathsec_fact_feed_devices", "Devices the feed holds", feed.devices as f64)?;
                if let Some(age) = service.feed_contact_age() {
                    gauge(
                        &mut encoder,
                        "pathsec_fact_feed_contact_age_seconds",
                        "Seconds since the fact feed was last known reachable (the clock its staleness bound runs on)",
                        age.as_secs_f64(),
                    )?;
                }
                counter(
                    &mut encoder,
                    "pathsec_fact_feed_updates",
                    "Updates applied from the feed (snapshot entries included)",
                    feed.applied,
                )?;
                counter(
                    &mut encoder,
                    "pathsec_fact_feed_bad_values",
                    "Feed values that did not read (the device's facts were cleared)",
                    feed.bad_values,
                )?;
            }
        }
        if let Some(shipper) = &self.shipper {
            let stats = shipper();
            counter(
                &mut encoder,
                "pathsec_decision_log_shipped_entries",
                "Decision-log entries the HTTP sink accepted",
                stats.shipped_entries,
            )?;
            counter(
                &mut encoder,
                "pathsec_decision_log_shipped_batches",
                "Batches the HTTP sink accepted",
                stats.shipped_batches,
            )?;
            counter(
                &mut encoder,
                "pathsec_decision_log_ship_dropped_entries",
                "Decision-log entries dropped because the shipper's buffer was full",
                stats.dropped_entries,
            )?;
            counter(
                &mut encoder,
                "pathsec_decision_log_ship_failures",
                "Batches the HTTP sink refused or did not answer (each retried)",
                stats.failures,
            )?;
            gauge(
                &mut encoder,
                "pathsec_decision_log_ship_buffered_bytes",
                "Bytes of entries waiting to be shipped",
                stats.buffered_bytes as f64,
            )?;
        }
        Ok(())
    }
}

fn counter(encoder: &mut DescriptorEncoder<'_>, name: &str, help: &str, value: u64) -> Result<(), std::fmt::Error> {
    let metric = ConstCounter::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

fn gauge(encoder: &mut DescriptorEncoder<'_>, name: &str, help: &str, value: f64) -> Result<(), std::fmt::Error> {
    let metric = ConstGauge::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}
