//! OpenTelemetry: traces and metrics, exported over OTLP (HTTP/protobuf)
//! when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, metrics also served in the
//! Prometheus text format on `METRICS_ADDR`.
//!
//! Everything is decided once, at start-up ([`start`]), and kept in a
//! process-wide [`OnceLock`]: with neither an endpoint nor `METRICS_ADDR`
//! nothing is installed and the request path creates nothing (the server
//! layer passes the request straight through, the SQL and client span
//! helpers return `None` after one atomic load).
//!
//! - [`server`]: the server span and the request-duration histogram, the
//!   outermost layer of the app;
//! - [`spans`]: child spans (pool wait, SQL statements, outgoing HTTP), and
//!   the trace-context seam for work that outlives the request (webhook
//!   deliveries store [`spans::current_traceparent`] with their outbox row);
//! - [`metrics`]: the instruments, resolved at start-up;
//! - [`prometheus`]: the `/metrics` listener and its text rendering;
//! - [`client`]: the exporter's HTTP client, on the server's runtime.

use std::sync::OnceLock;
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::trace::{Sampler, SdkTracer, SdkTracerProvider};

use crate::config::{Telemetry, TraceSampler};
use crate::db::Pool;
use crate::error::BoxError;

pub mod client;
pub mod metrics;
pub mod prometheus;
pub mod server;
pub mod spans;

/// What [`start`] installed; read on the request path.
#[derive(Debug)]
pub(crate) struct Installed {
    /// The tracer, when spans are exported.
    pub(crate) tracer: Option<SdkTracer>,
    /// The instruments, when metrics are exported or scraped.
    pub(crate) metrics: Option<metrics::Instruments>,
}

static INSTALLED: OnceLock<Installed> = OnceLock::new();

/// What was installed, if anything was.
pub(crate) fn installed() -> Option<&'static Installed> {
    INSTALLED.get()
}

/// The tracer, when traces are exported (one atomic load otherwise).
pub(crate) fn tracer() -> Option<&'static SdkTracer> {
    INSTALLED.get().and_then(|i| i.tracer.as_ref())
}

/// Flushes and stops the providers when dropped or [`shut down`](Self::shutdown).
#[must_use = "dropping the guard stops telemetry"]
#[derive(Debug, Default)]
pub struct OtelGuard {
    tracer_provider: Option<SdkTracerProvider>,
    meter_provider: Option<SdkMeterProvider>,
    /// The Prometheus reader, for the `/metrics` listener.
    pub scrape: Option<prometheus::SharedReader>,
}

impl OtelGuard {
    /// Exports what is pending (the last batch of spans, the metrics) and
    /// stops the exporters, within `timeout` in all. Blocking: run it off the
    /// runtime's workers (the exporter's requests run on them).
    pub fn shutdown(self, timeout: Duration) {
        let half = timeout / 2;
        if let Some(provider) = self.tracer_provider
            && let Err(e) = provider.shutdown_with_timeout(half)
        {
            tracing::warn!(error = %e, "trace export did not finish");
        }
        if let Some(provider) = self.meter_provider
            && let Err(e) = provider.shutdown_with_timeout(half)
        {
            tracing::warn!(error = %e, "metric export did not finish");
        }
    }
}

/// How long one export may take; the processors' default is 30 s, longer
/// than any shutdown deadline.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);
/// How often metrics are pushed over OTLP.
const METRIC_INTERVAL: Duration = Duration::from_secs(10);

/// Installs what `settings` ask for: the tracer and OTLP exporters when an
/// endpoint is set, the instruments when metrics go anywhere. Call once,
/// inside the runtime, before building the state (its background work is
/// traced from the start) and the app; a second call installs nothing.
/// Then [`observe_pool`] adds the pool's gauges.
pub fn start(settings: &Telemetry) -> Result<OtelGuard, BoxError> {
    let exports = settings.exports();
    let scrapes = settings.metrics_addr.is_some();
    if !exports && !scrapes {
        return Ok(OtelGuard::default());
    }
    let resource = resource(settings);
    let http = client::ExportClient::new(tokio::runtime::Handle::current(), EXPORT_TIMEOUT)?;
    let mut guard = OtelGuard::default();
    let tracer = match &settings.otlp_endpoint {
        Some(endpoint) if exports => {
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_http_client(http.clone())
                .with_protocol(Protocol::HttpBinary)
                .with_endpoint(format!("{endpoint}/v1/traces"))
                .with_timeout(EXPORT_TIMEOUT)
                .build()?;
            let provider = SdkTracerProvider::builder()
                .with_batch_exporter(exporter)
                .with_sampler(sampler(settings.sampler))
                .with_resource(resource.clone())
                .build();
            let tracer = opentelemetry::trace::TracerProvider::tracer(&provider, "backend");
            guard.tracer_provider = Some(provider);
            Some(tracer)
        }
        _ => None,
    };
    let mut meters = SdkMeterProvider::builder().with_resource(resource);
    if scrapes {
        let reader = prometheus::SharedReader::default();
        meters = meters.with_reader(reader.clone());
        guard.scrape = Some(reader);
    }
    if let (Some(endpoint), true) = (&settings.otlp_endpoint, exports) {
        let exporter = opentelemetry_otlp::MetricExporter::builder()
            .with_http()
            .with_http_client(http)
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(format!("{endpoint}/v1/metrics"))
            .with_timeout(EXPORT_TIMEOUT)
            .build()?;
        let reader = opentelemetry_sdk::metrics::PeriodicReader::builder(exporter)
            .with_interval(METRIC_INTERVAL)
            .build();
        meters = meters.with_reader(reader);
    }
    let provider = meters.build();
    let instruments = metrics::Instruments::new(&provider);
    guard.meter_provider = Some(provider);
    let _ = INSTALLED.set(Installed {
        tracer,
        metrics: Some(instruments),
    });
    Ok(guard)
}

/// Adds the gauges of `pool` (size, idle, waiting, max), when metrics are on.
pub fn observe_pool(pool: &Pool) {
    if let Some(instruments) = metrics::instruments() {
        instruments.observe_pool(pool);
    }
}

fn resource(settings: &Telemetry) -> Resource {
    Resource::builder_empty()
        .with_attributes(
            settings
                .resource_attributes
                .iter()
                .map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
        )
        .with_service_name(settings.service_name.clone())
        .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
        .with_attribute(KeyValue::new("telemetry.sdk.language", "rust"))
        .with_attribute(KeyValue::new("telemetry.sdk.name", "opentelemetry"))
        .build()
}

/// The SDK's sampler for `OTEL_TRACES_SAMPLER`; the parent-based ones honour
/// the caller's `traceparent` decision.
fn sampler(choice: TraceSampler) -> Sampler {
    match choice {
        TraceSampler::AlwaysOn => Sampler::AlwaysOn,
        TraceSampler::AlwaysOff => Sampler::AlwaysOff,
        TraceSampler::Ratio(r) => Sampler::TraceIdRatioBased(r),
        TraceSampler::ParentBasedAlwaysOn => Sampler::ParentBased(Box::new(Sampler::AlwaysOn)),
        TraceSampler::ParentBasedAlwaysOff => Sampler::ParentBased(Box::new(Sampler::AlwaysOff)),
        TraceSampler::ParentBasedRatio(r) => {
            Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(r)))
        }
    }
}
