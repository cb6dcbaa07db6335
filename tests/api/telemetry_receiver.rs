//! An OTLP/HTTP receiver on 127.0.0.1 for the telemetry tests: decodes what
//! the exporter sends (protobuf, `/v1/traces` and `/v1/metrics`) with the
//! generated OpenTelemetry messages and keeps it for assertions.

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{HistogramDataPoint, metric};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use tokio::net::TcpListener;

/// What the receiver was sent.
#[derive(Default)]
struct Received {
    spans: Vec<Span>,
    metrics: Vec<ExportMetricsServiceRequest>,
    resources: Vec<HashMap<String, String>>,
    other_paths: Vec<(String, Option<String>)>,
}

/// A running receiver; its endpoint is the `OTEL_EXPORTER_OTLP_ENDPOINT`.
#[derive(Clone)]
pub struct Receiver {
    /// `http://127.0.0.1:port`.
    pub endpoint: String,
    received: Arc<Mutex<Received>>,
}

impl Receiver {
    /// Listens on an ephemeral port until the test ends.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Received::default()));
        let store = Arc::clone(&received);
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let store = Arc::clone(&store);
                let service =
                    hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                        let store = Arc::clone(&store);
                        async move {
                            let path = req.uri().path().to_owned();
                            let traceparent = req
                                .headers()
                                .get("traceparent")
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_owned);
                            let body: Bytes = req.into_body().collect().await.unwrap().to_bytes();
                            let mut r = store.lock().unwrap();
                            match path.as_str() {
                                "/v1/traces" => {
                                    let export = ExportTraceServiceRequest::decode(body).unwrap();
                                    for rs in export.resource_spans {
                                        r.resources.push(attributes(
                                            &rs.resource.map(|r| r.attributes).unwrap_or_default(),
                                        ));
                                        for ss in rs.scope_spans {
                                            r.spans.extend(ss.spans);
                                        }
                                    }
                                }
                                "/v1/metrics" => {
                                    r.metrics
                                        .push(ExportMetricsServiceRequest::decode(body).unwrap());
                                }
                                _ => r.other_paths.push((path, traceparent)),
                            }
                            let mut response = http::Response::new(Full::new(Bytes::new()));
                            response.headers_mut().insert(
                                "content-type",
                                http::HeaderValue::from_static("application/x-protobuf"),
                            );
                            Ok::<_, Infallible>(response)
                        }
                    });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service),
                );
            }
        });
        Self { endpoint, received }
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<Span> {
        self.received.lock().unwrap().spans.clone()
    }

    /// The resources' attributes of every span export.
    pub fn resources(&self) -> Vec<HashMap<String, String>> {
        self.received.lock().unwrap().resources.clone()
    }

    /// Requests for other paths than the two signals', with the
    /// `traceparent` they carried (the receiver doubles as a plain server).
    pub fn other_paths(&self) -> Vec<(String, Option<String>)> {
        self.received.lock().unwrap().other_paths.clone()
    }

    /// The data points of the last export of histogram `name`.
    pub fn histogram(&self, name: &str) -> Vec<HistogramDataPoint> {
        let received = self.received.lock().unwrap();
        let mut points = Vec::new();
        for export in &received.metrics {
            for rm in &export.resource_metrics {
                for sm in &rm.scope_metrics {
                    for m in sm.metrics.iter().filter(|m| m.name == name) {
                        if let Some(metric::Data::Histogram(h)) = &m.data {
                            // Cumulative: the last export holds every count.
                            points.clone_from(&h.data_points);
                        }
                    }
                }
            }
        }
        points
    }
}

/// Attributes as text (ints written in decimal).
pub fn attributes(kvs: &[KeyValue]) -> HashMap<String, String> {
    kvs.iter()
        .map(|kv| (kv.key.clone(), text(kv.value.as_ref())))
        .collect()
}

fn text(value: Option<&AnyValue>) -> String {
    match value.and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        other => format!("{other:?}"),
    }
}

/// Lowercase hex of an id.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}
