//! Traces over the wire: the real binary exports to an in-process OTLP/HTTP
//! receiver; the spans, their links to the caller's `traceparent`, the
//! refusals, the SQL and key-fetch spans, the log join, the metrics, and
//! the flush at shutdown.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

use crate::auth_provider::{AUDIENCE, Provider};
use crate::auth_signer::Signer;
use crate::common::binary::Process;
use crate::common::client::send;
use crate::common::fresh_database;
use crate::lifecycle::database_url;
use crate::telemetry_receiver::{Receiver, attributes, hex};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID: &str = "00f067aa0ba902b7";

fn attrs(span: &Span) -> HashMap<String, String> {
    attributes(&span.attributes)
}

fn named<'a>(spans: &'a [Span], name: &str) -> Vec<&'a Span> {
    spans.iter().filter(|s| s.name == name).collect()
}

#[tokio::test]
async fn requests_are_server_spans_continuing_the_caller_with_sql_children_flushed_at_exit() {
    let receiver = Receiver::start().await;
    let url = database_url(&fresh_database().await);
    let (mut process, addr) = Process::serve(&[
        ("DATABASE_URL", &url),
        ("AUTH_MODE", "none"),
        ("REQUEST_BODY_LIMIT_BYTES", "1024"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.endpoint),
        ("OTEL_SERVICE_NAME", "backend-under-test"),
        ("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=test"),
    ])
    .await;
    let traceparent = format!("00-{TRACE_ID}-{PARENT_ID}-01");
    let body = br#"{"email":"secret.person@example.com"}"#;
    let created = send(
        addr,
        "POST",
        "/api/v1/users",
        &[
            ("traceparent", traceparent.as_str()),
            ("tracestate", "vendor=1"),
            ("content-type", "application/json"),
            ("x-request-id", "otel-create"),
        ],
        Some(body),
    )
    .await;
    assert_eq!(created.status, 201);
    let id = created.json()["id"].as_str().unwrap().to_owned();
    let item = send(addr, "GET", &format!("/api/v1/users/{id}"), &[], None).await;
    assert_eq!(item.status, 200);
    let big = vec![b'x'; 4096];
    let too_large = send(
        addr,
        "POST",
        "/api/v1/users",
        &[("content-type", "application/json")],
        Some(&big),
    )
    .await;
    assert_eq!(too_large.status, 413);
    // The caller decided not to sample: nothing of this request is exported.
    let unsampled = format!("00-{}-{PARENT_ID}-00", "1".repeat(32));
    let not_found = send(
        addr,
        "GET",
        "/nowhere",
        &[("traceparent", &unsampled)],
        None,
    )
    .await;
    assert_eq!(not_found.status, 404);
    let access = process
        .wait_for_line(|l| l.contains("otel-create"), Duration::from_secs(5))
        .await
        .expect("the access line of the traced request");
    // Exit at once: the batch processor's delay (5 s) has not passed, so
    // only the flush at shutdown can deliver these spans.
    assert!(receiver.spans().is_empty(), "exported before the flush");
    process.terminate();
    let status = process.wait(Duration::from_secs(12)).await;
    assert!(status.success());

    let spans = receiver.spans();
    let create = named(&spans, "POST /api/v1/users");
    let create = create
        .iter()
        .find(|s| attrs(s)["http.response.status_code"] == "201")
        .unwrap_or_else(|| panic!("no create span in {:?}", names(&spans)));
    assert_eq!(create.kind, SpanKind::Server as i32);
    assert_eq!(
        hex(&create.trace_id),
        TRACE_ID,
        "the caller's trace continues"
    );
    assert_eq!(hex(&create.parent_span_id), PARENT_ID);
    assert_eq!(create.trace_state, "vendor=1");
    let a = attrs(create);
    assert_eq!(a["http.request.method"], "POST");
    assert_eq!(a["http.route"], "/api/v1/users");
    assert_eq!(a["url.scheme"], "http");
    assert_eq!(a["server.address"], "127.0.0.1");
    assert_eq!(a["request.id"], "otel-create");
    assert!(!a.contains_key("error.type"));

    // Children: the pool wait and each statement, never a parameter value.
    let children: Vec<&Span> = spans
        .iter()
        .filter(|s| s.parent_span_id == create.span_id)
        .collect();
    assert!(
        children.iter().any(|s| s.name == "pool wait"),
        "{:?}",
        names(&spans)
    );
    let insert = children
        .iter()
        .find(|s| s.name == "INSERT users")
        .unwrap_or_else(|| panic!("no INSERT span among {:?}", names(&spans)));
    assert_eq!(insert.kind, SpanKind::Client as i32);
    assert_eq!(hex(&insert.trace_id), TRACE_ID);
    let ia = attrs(insert);
    assert_eq!(ia["db.system.name"], "postgresql");
    assert_eq!(ia["db.operation.name"], "INSERT");
    assert_eq!(ia["db.query.summary"], "INSERT users");
    for span in &spans {
        for value in attrs(span).values() {
            assert!(!value.contains("secret.person"), "a value leaked: {value}");
        }
    }

    // The template names the span, never the raw path.
    let item = named(&spans, "GET /api/v1/users/{id}");
    assert_eq!(item.len(), 1, "{:?}", names(&spans));
    assert_eq!(attrs(item[0])["http.route"], "/api/v1/users/{id}");
    assert!(!spans.iter().any(|s| s.name.contains(&id)));
    assert!(
        item[0].parent_span_id.is_empty(),
        "a root span without traceparent"
    );

    // The 413 of the body limit, inside the app, is traced too.
    assert!(
        spans
            .iter()
            .any(|s| s.kind == SpanKind::Server as i32
                && attrs(s)["http.response.status_code"] == "413"),
        "{:?}",
        names(&spans)
    );
    // The unsampled caller's request exported nothing.
    assert!(!spans.iter().any(|s| hex(&s.trace_id) == "1".repeat(32)));

    let resource = &receiver.resources()[0];
    assert_eq!(resource["service.name"], "backend-under-test");
    assert_eq!(resource["deployment.environment"], "test");
    assert!(receiver.other_paths().is_empty());

    // The access line carries the trace and the server span.
    let access: serde_json::Value = serde_json::from_str(&access).unwrap();
    assert_eq!(access["trace_id"], TRACE_ID);
    assert_eq!(access["span_id"], hex(&create.span_id));
    let untraced = process
        .seen
        .iter()
        .find(|l| l.contains("\"listening\""))
        .unwrap();
    assert!(!untraced.contains("trace_id"), "{untraced}");

    // Metrics flushed at exit too: one count per route and status.
    let points = receiver.histogram("http.server.request.duration");
    let count = |route: Option<&str>, status: &str| -> u64 {
        points
            .iter()
            .filter(|p| {
                let a = attributes(&p.attributes);
                a.get("http.route").map(String::as_str) == route
                    && a["http.response.status_code"] == status
            })
            .map(|p| p.count)
            .sum()
    };
    assert_eq!(count(Some("/api/v1/users"), "201"), 1, "{points:?}");
    assert_eq!(count(Some("/api/v1/users/{id}"), "200"), 1);
    assert_eq!(count(None, "404"), 1);
    assert_eq!(points[0].explicit_bounds.first(), Some(&0.0005));
}

fn names(spans: &[Span]) -> Vec<&str> {
    spans.iter().map(|s| s.name.as_str()).collect()
}

#[tokio::test]
async fn a_401_is_traced_and_the_key_fetch_is_a_client_span() {
    let receiver = Receiver::start().await;
    let signer = Signer::rsa("k", "RS256");
    let provider = Provider::start(&[&signer]).await;
    let url = database_url(&fresh_database().await);
    let issuer = provider.issuer();
    let (mut process, addr) = Process::serve(&[
        ("DATABASE_URL", &url),
        ("AUTH_MODE", "oidc"),
        ("OIDC_ISSUER", &issuer),
        ("OIDC_AUDIENCE", AUDIENCE),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.endpoint),
    ])
    .await;
    if !process
        .seen
        .iter()
        .any(|l| l.contains("signing keys loaded"))
    {
        process
            .wait_for_line(
                |l| l.contains("signing keys loaded"),
                Duration::from_secs(10),
            )
            .await
            .expect("keys loaded");
    }
    let refused = send(addr, "GET", "/api/v1/users", &[], None).await;
    assert_eq!(refused.status, 401);
    process.terminate();
    process.wait(Duration::from_secs(12)).await;

    let spans = receiver.spans();
    let list = named(&spans, "GET /api/v1/users");
    assert_eq!(list.len(), 1, "{:?}", names(&spans));
    assert_eq!(attrs(list[0])["http.response.status_code"], "401");
    let fetches: Vec<&Span> = spans
        .iter()
        .filter(|s| s.kind == SpanKind::Client as i32 && s.name == "GET")
        .collect();
    assert!(
        fetches.len() >= 2,
        "discovery and keys: {:?}",
        names(&spans)
    );
    for fetch in fetches {
        let a = attrs(fetch);
        assert_eq!(a["http.response.status_code"], "200");
        assert_eq!(a["server.address"], "127.0.0.1");
        assert!(a["url.full"].starts_with(&issuer), "{a:?}");
    }
}

#[tokio::test]
async fn an_unreachable_collector_never_slows_or_fails_a_request() {
    // A port nothing listens on.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let url = database_url(&fresh_database().await);
    let endpoint = format!("http://{closed}");
    let (mut process, addr) = Process::serve(&[
        ("DATABASE_URL", &url),
        ("AUTH_MODE", "none"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
        ("OTEL_BSP_SCHEDULE_DELAY", "50"),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "4"),
    ])
    .await;
    let started = Instant::now();
    for _ in 0..100 {
        let r = send(addr, "GET", "/api/v1/users", &[], None).await;
        assert_eq!(r.status, 200);
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_secs(5),
        "100 requests took {elapsed:?}"
    );
    let stopping = Instant::now();
    process.terminate();
    assert!(process.wait(Duration::from_secs(12)).await.success());
    assert!(
        stopping.elapsed() < Duration::from_secs(5),
        "the exit waited {:?} for the collector",
        stopping.elapsed()
    );
}

#[tokio::test]
async fn a_5xx_span_carries_its_error_type_and_the_failed_pool_wait() {
    let receiver = Receiver::start().await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let url = format!("postgres://postgres@{closed}/nowhere");
    let (mut process, addr) = Process::serve(&[
        ("DATABASE_URL", &url),
        ("AUTH_MODE", "none"),
        ("DATABASE_CONNECT_TIMEOUT_MS", "500"),
        ("DATABASE_POOL_TIMEOUT_MS", "500"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.endpoint),
    ])
    .await;
    let r = send(addr, "GET", "/api/v1/users", &[], None).await;
    assert_eq!(r.status, 503);
    process.terminate();
    process.wait(Duration::from_secs(12)).await;

    let spans = receiver.spans();
    let list = named(&spans, "GET /api/v1/users");
    assert_eq!(list.len(), 1, "{:?}", names(&spans));
    let a = attrs(list[0]);
    assert_eq!(a["http.response.status_code"], "503");
    assert_eq!(a["error.type"], "503");
    let status = list[0].status.as_ref().expect("a status");
    assert_eq!(status.code, 2, "STATUS_CODE_ERROR");
    let wait = spans
        .iter()
        .find(|s| s.name == "pool wait" && s.parent_span_id == list[0].span_id)
        .unwrap_or_else(|| panic!("no pool wait among {:?}", names(&spans)));
    assert!(attrs(wait).contains_key("error.type"), "{:?}", attrs(wait));
}

#[tokio::test]
async fn a_key_fetch_sends_the_traceparent_of_its_client_span() {
    // The receiver doubles as the key-set URL: it records the headers.
    let receiver = Receiver::start().await;
    let provider = Provider::start(&[]).await;
    let url = database_url(&fresh_database().await);
    let issuer = provider.issuer();
    let jwks = format!("{}/jwks", receiver.endpoint);
    let (mut process, _addr) = Process::serve(&[
        ("DATABASE_URL", &url),
        ("AUTH_MODE", "oidc"),
        ("OIDC_ISSUER", &issuer),
        ("OIDC_AUDIENCE", AUDIENCE),
        ("OIDC_JWKS_URL", &jwks),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.endpoint),
        // Exported as soon as it ends, not only by the flush at exit: the
        // fetch may still be running when a slow machine gets here.
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ])
    .await;
    let is_fetch =
        |s: &&Span| s.kind == SpanKind::Client as i32 && attrs(s).get("url.full") == Some(&jwks);
    let deadline = Instant::now() + Duration::from_secs(20);
    let fetch = loop {
        let spans = receiver.spans();
        if let Some(fetch) = spans.iter().find(is_fetch) {
            break fetch.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no key fetch span among {:?}",
            names(&spans)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    process.terminate();
    process.wait(Duration::from_secs(12)).await;

    let (path, traceparent) = receiver.other_paths().remove(0);
    assert_eq!(path, "/jwks");
    let traceparent = traceparent.expect("the fetch carried a traceparent");
    assert_eq!(
        traceparent,
        format!("00-{}-{}-01", hex(&fetch.trace_id), hex(&fetch.span_id))
    );
}
