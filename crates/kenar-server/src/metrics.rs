//! Prometheus metrics, served at `/metrics`.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, &'static str)>;

/// The process's metrics. Counters are cheap atomics; the gauges that describe the database
/// (queue depth, disabled endpoints) are read from it when scraped.
pub struct Metrics {
    registry: Registry,
    /// Events accepted by the ingestion API, by webhook type.
    pub ingested: Family<Labels, Counter>,
    /// Delivery attempts by outcome: `succeeded`, `retrying`, `failed`.
    pub attempts: Family<Labels, Counter>,
    /// Deliveries this process started, by how it came to hold them: `handoff` (written
    /// leased by ingestion) or `claim` (taken from the store's queue: a backlog or a retry).
    pub started: Family<Labels, Counter>,
    /// Seconds from sending a webhook to its response (or error).
    pub latency: Histogram,
    pub queue_depth: Gauge,
    pub disabled_endpoints: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("kenar");
        let ingested = Family::<Labels, Counter>::default();
        let attempts = Family::<Labels, Counter>::default();
        let started = Family::<Labels, Counter>::default();
        // 1 ms to about 33 s.
        let latency = Histogram::new(exponential_buckets(0.001, 2.0, 16));
        let queue_depth = Gauge::default();
        let disabled_endpoints = Gauge::default();
        registry.register(
            "ingested_events",
            "Events accepted by the ingestion API",
            ingested.clone(),
        );
        registry.register(
            "delivery_attempts",
            "Webhook delivery attempts by outcome",
            attempts.clone(),
        );
        registry.register(
            "deliveries_started",
            "Deliveries started, by how this process came to hold them (handoff or claim)",
            started.clone(),
        );
        registry.register(
            "delivery_latency_seconds",
            "Time from sending a webhook to its answer",
            latency.clone(),
        );
        registry.register("queue_depth", "Deliveries pending", queue_depth.clone());
        registry.register(
            "disabled_endpoints",
            "Apps whose webhook endpoint is disabled",
            disabled_endpoints.clone(),
        );
        Metrics {
            registry,
            ingested,
            started,
            attempts,
            latency,
            queue_depth,
            disabled_endpoints,
        }
    }
}

impl Metrics {
    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}
