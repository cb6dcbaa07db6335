//! Webhook deliveries over the wire with traces and metrics on: the
//! delivery's client span is linked to the traced request that caused the
//! event, its own `traceparent` reaches the receiver, a refused connection
//! is an `error.type`, and `/metrics` counts the attempts by outcome; on
//! each broker (the trace context travels with the outbox row).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

use crate::common::binary::Process;
use crate::common::broker::{Broker, Mode, in_both_modes};
use crate::common::client::send;
use crate::common::fresh_database;
use crate::lifecycle::database_url;
use crate::telemetry_receiver::{Receiver, attributes, hex};

const TRACE_ID: &str = "0af7651916cd43dd8448eb211c80319c";
const PARENT_ID: &str = "b7ad6b7169203331";

async fn subscribe(addr: SocketAddr, url: &str) {
    let body = serde_json::json!({"url": url, "events": ["user.created"]}).to_string();
    let created = send(
        addr,
        "POST",
        "/api/v1/webhooks",
        &[("content-type", "application/json")],
        Some(body.as_bytes()),
    )
    .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
}

/// Scrapes `/metrics` until it has `line`, for up to 10 s; the text.
async fn scrape_until(metrics: SocketAddr, line: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let scrape = send(metrics, "GET", "/metrics", &[], None).await;
        let text = String::from_utf8(scrape.body.to_vec()).unwrap();
        if text.lines().any(|l| l == line) || Instant::now() > deadline {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn delivery_spans(spans: &[Span]) -> Vec<&Span> {
    spans
        .iter()
        .filter(|s| attributes(&s.attributes).contains_key("webhook.delivery.id"))
        .collect()
}

in_both_modes!(a_delivery_span_links_to_the_request_and_its_traceparent_reaches_the_receiver);

async fn a_delivery_span_links_to_the_request_and_its_traceparent_reaches_the_receiver(mode: Mode) {
    let Some(broker) = Broker::start(mode).await else {
        return;
    };
    let receiver = Receiver::start().await;
    let url = database_url(&fresh_database().await);
    let broker_env = broker.env();
    let mut env = vec![
        ("DATABASE_URL", url.as_str()),
        ("AUTH_MODE", "none"),
        ("SHUTDOWN_DELAY_MS", "0"),
        ("WEBHOOK_ALLOW_PRIVATE_NETWORKS", "true"),
        ("METRICS_ADDR", "127.0.0.1:0"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.as_str()),
    ];
    env.extend(broker_env.iter().map(|(k, v)| (*k, v.as_str())));
    let (mut process, addr) = Process::serve(&env).await;
    let line = process
        .seen
        .iter()
        .find(|l| l.contains("serving /metrics"))
        .expect("the metrics listener's line");
    let json: serde_json::Value = serde_json::from_str(line).unwrap();
    let metrics: SocketAddr = json["address"].as_str().unwrap().parse().unwrap();

    // One receiver answering 200 (the OTLP receiver doubles as one), and
    // one that refuses connections.
    subscribe(
        addr,
        &format!("{}/hook?token=secret-token", receiver.endpoint),
    )
    .await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_url = format!("http://{}/gone", closed.local_addr().unwrap());
    drop(closed);
    subscribe(addr, &closed_url).await;
    let traceparent = format!("00-{TRACE_ID}-{PARENT_ID}-01");
    let created = send(
        addr,
        "POST",
        "/api/v1/users",
        &[
            ("traceparent", traceparent.as_str()),
            ("content-type", "application/json"),
        ],
        Some(br#"{"email":"traced.delivery@example.com"}"#),
    )
    .await;
    assert_eq!(created.status, 201);

    let text = scrape_until(metrics, r#"webhook_deliveries_total{status="succeeded"} 1"#).await;
    assert!(
        text.lines()
            .any(|l| l == r#"webhook_deliveries_total{status="succeeded"} 1"#),
        "{text}"
    );
    let text = scrape_until(metrics, r#"webhook_deliveries_total{status="retried"} 1"#).await;
    assert!(
        text.lines()
            .any(|l| l == r#"webhook_deliveries_total{status="retried"} 1"#),
        "{text}"
    );
    assert!(
        text.contains("# TYPE webhook_deliveries_total counter"),
        "{text}"
    );
    assert!(text.contains("# TYPE jobs_queue_depth gauge"), "{text}");
    let depth = text
        .lines()
        .find_map(|l| l.strip_prefix("jobs_queue_depth "))
        .expect("a queue depth sample");
    assert!(depth.parse::<f64>().unwrap() >= 0.0, "{depth}");

    process.terminate();
    assert!(process.wait(Duration::from_secs(12)).await.success());

    let hooks: Vec<_> = receiver
        .other_paths()
        .into_iter()
        .filter(|(path, _)| path == "/hook")
        .collect();
    assert_eq!(hooks.len(), 1, "{hooks:?}");
    let sent = hooks[0]
        .1
        .clone()
        .expect("a traceparent header on the delivery");

    let spans = receiver.spans();
    let create = spans
        .iter()
        .find(|s| s.name == "POST /api/v1/users")
        .expect("the request's span");
    assert_eq!(hex(&create.trace_id), TRACE_ID);
    let deliveries = delivery_spans(&spans);
    assert_eq!(deliveries.len(), 2, "one span per attempt");
    for span in &deliveries {
        assert_eq!(span.name, "POST");
        assert_eq!(span.kind, SpanKind::Client as i32);
        assert!(span.parent_span_id.is_empty(), "a trace of its own");
        assert_ne!(hex(&span.trace_id), TRACE_ID);
        assert_eq!(span.links.len(), 1, "linked to the request");
        assert_eq!(hex(&span.links[0].trace_id), TRACE_ID);
        assert_eq!(span.links[0].span_id, create.span_id);
        let a = attributes(&span.attributes);
        assert_eq!(a["http.request.method"], "POST");
        assert_eq!(a["server.address"], "127.0.0.1");
        assert!(!a["url.full"].contains("token"), "{}", a["url.full"]);
    }
    let ok = deliveries
        .iter()
        .find(|s| attributes(&s.attributes)["url.full"].ends_with("/hook"))
        .expect("the delivered attempt's span");
    let a = attributes(&ok.attributes);
    assert_eq!(a["http.response.status_code"], "200");
    assert!(!a.contains_key("error.type"));
    assert_eq!(
        sent,
        format!("00-{}-{}-01", hex(&ok.trace_id), hex(&ok.span_id)),
        "the receiver got the delivery span's own context"
    );
    let refused = deliveries
        .iter()
        .find(|s| attributes(&s.attributes)["url.full"].ends_with("/gone"))
        .expect("the refused attempt's span");
    let a = attributes(&refused.attributes);
    assert_eq!(a["error.type"], "connect");
    assert!(!a.contains_key("http.response.status_code"));
}
