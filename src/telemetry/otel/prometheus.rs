//! `GET /metrics` on `METRICS_ADDR`: the SDK's instruments read on demand
//! (a [`ManualReader`]) and written in the Prometheus text format (0.0.4).
//!
//! A small renderer of our own rather than `opentelemetry-prometheus`,
//! which brings the `prometheus` crate and its protobuf stack for what is a
//! few dozen lines of text. Names follow the OpenTelemetry-to-Prometheus
//! rules: dots become underscores, the unit `s` becomes a `_seconds`
//! suffix, counters end in `_total`.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, Metric, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::reader::MetricReader;
use opentelemetry_sdk::metrics::{InstrumentKind, ManualReader, Pipeline, Temporality};
use tokio::net::TcpListener;

/// The content type of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A [`ManualReader`] the meter provider and the listener share (clones
/// are one reference count).
#[derive(Debug, Default, Clone)]
pub struct SharedReader(Arc<ManualReader>);

impl MetricReader for SharedReader {
    fn register_pipeline(&self, pipeline: Weak<Pipeline>) {
        self.0.register_pipeline(pipeline);
    }

    fn collect(&self, rm: &mut ResourceMetrics) -> OTelSdkResult {
        self.0.collect(rm)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn temporality(&self, kind: InstrumentKind) -> Temporality {
        self.0.temporality(kind)
    }
}

impl SharedReader {
    /// Every metric now, in the text format.
    pub fn render(&self) -> String {
        let mut rm = ResourceMetrics::default();
        if let Err(e) = self.0.collect(&mut rm) {
            tracing::warn!(error = %e, "metrics collection failed");
        }
        let mut out = String::with_capacity(4096);
        for scope in rm.scope_metrics() {
            for metric in scope.metrics() {
                render_metric(&mut out, metric);
            }
        }
        out
    }
}

/// Serves `GET /metrics` on `listener` until the process ends (HTTP/1.1;
/// anything else is 404 or 405).
pub async fn serve(listener: TcpListener, reader: SharedReader) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let reader = reader.clone();
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            let reader = reader.clone();
            async move { Ok::<_, Infallible>(answer(&req, &reader)) }
        });
        tokio::spawn(async move {
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(Duration::from_secs(5))
                .serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(Duration::from_secs(60), conn).await;
        });
    }
}

fn answer(req: &Request<Incoming>, reader: &SharedReader) -> http::Response<Full<Bytes>> {
    let (status, body) = match (req.method(), req.uri().path()) {
        (&Method::GET, "/metrics") => (StatusCode::OK, reader.render()),
        (_, "/metrics") => (StatusCode::METHOD_NOT_ALLOWED, String::new()),
        _ => (StatusCode::NOT_FOUND, String::new()),
    };
    let mut response = http::Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(CONTENT_TYPE),
    );
    response
}

/// The Prometheus name of `metric`: dots to underscores, unit suffix.
fn name(metric: &Metric) -> String {
    let mut name: String = metric
        .name()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if metric.unit() == "s" {
        name.push_str("_seconds");
    }
    name
}

fn render_metric(out: &mut String, metric: &Metric) {
    let name = name(metric);
    let help = metric
        .description()
        .replace('\\', "\\\\")
        .replace('\n', "\\n");
    match metric.data() {
        AggregatedMetrics::F64(MetricData::Histogram(h)) => {
            let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} histogram\n");
            for point in h.data_points() {
                let labels = labels(point.attributes());
                let mut cumulative = 0;
                for (bound, count) in point.bounds().zip(point.bucket_counts()) {
                    cumulative += count;
                    let le = format!("le=\"{bound}\"");
                    let _ = writeln!(out, "{name}_bucket{} {cumulative}", join(&labels, &le));
                }
                let inf = "le=\"+Inf\"";
                let count = point.count();
                let _ = writeln!(out, "{name}_bucket{} {count}", join(&labels, inf));
                let _ = writeln!(out, "{name}_sum{} {}", join(&labels, ""), point.sum());
                let _ = writeln!(out, "{name}_count{} {count}", join(&labels, ""));
            }
        }
        AggregatedMetrics::I64(MetricData::Gauge(g)) => {
            let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n");
            for point in g.data_points() {
                let labels = labels(point.attributes());
                let _ = writeln!(out, "{name}{} {}", join(&labels, ""), point.value());
            }
        }
        AggregatedMetrics::U64(MetricData::Sum(s)) if s.is_monotonic() => {
            let _ = write!(
                out,
                "# HELP {name}_total {help}\n# TYPE {name}_total counter\n"
            );
            for point in s.data_points() {
                let labels = labels(point.attributes());
                let _ = writeln!(out, "{name}_total{} {}", join(&labels, ""), point.value());
            }
        }
        // The service creates no other kind of instrument.
        _ => {}
    }
}

/// `name="value"` pairs, names in Prometheus form, values escaped.
fn labels<'a>(attributes: impl Iterator<Item = &'a KeyValue>) -> String {
    let mut out = String::new();
    for kv in attributes {
        if !out.is_empty() {
            out.push(',');
        }
        out.extend(
            kv.key
                .as_str()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }),
        );
        out.push_str("=\"");
        let value = match &kv.value {
            Value::String(s) => s.as_str().to_owned(),
            other => other.to_string(),
        };
        for c in value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out
}

fn join(labels: &str, extra: &str) -> String {
    match (labels.is_empty(), extra.is_empty()) {
        (true, true) => String::new(),
        (false, true) => format!("{{{labels}}}"),
        (true, false) => format!("{{{extra}}}"),
        (false, false) => format!("{{{labels},{extra}}}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_take_prometheus_names_and_escaped_values() {
        let attributes = [
            KeyValue::new("http.route", "/api/v1/users/{id}"),
            KeyValue::new("http.response.status_code", 200_i64),
            KeyValue::new("odd", "a\"b\\c\nd"),
        ];
        assert_eq!(
            labels(attributes.iter()),
            r#"http_route="/api/v1/users/{id}",http_response_status_code="200",odd="a\"b\\c\nd""#
        );
        assert_eq!(join("", ""), "");
        assert_eq!(join("", "le=\"1\""), "{le=\"1\"}");
        assert_eq!(join("a=\"1\"", "le=\"+Inf\""), "{a=\"1\",le=\"+Inf\"}");
    }
}
