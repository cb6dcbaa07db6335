//! Graceful shutdown: in-flight requests complete, readiness turns 503, new
//! connections are refused, the server stops within the grace period; and the
//! real binary does the same on SIGTERM, exiting 0.

use std::time::{Duration, Instant};

use http::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::{ServiceExt, service_fn};

use crate::common::binary::Process;
use crate::common::{Gate, fresh_database, spawn_app, spawn_app_with};

#[tokio::test]
async fn an_in_flight_request_completes_during_graceful_shutdown() {
    let gate = Gate::default();
    let route_gate = gate.clone();
    let app = spawn_app_with(
        |_| {},
        move |table, _| {
            table.route(
                "/slow",
                Method::GET,
                backend::router::Access::Open,
                service_fn(move |_req: backend::http::Request| {
                    let gate = route_gate.clone();
                    async move {
                        gate.pass().await;
                        backend::http::response::json(http::StatusCode::OK, &"done")
                    }
                }),
            )
        },
    )
    .await;
    let addr = app.addr;
    let slow =
        tokio::spawn(
            async move { crate::common::client::send(addr, "GET", "/slow", &[], None).await },
        );
    // The request is inside the route, not just sent.
    gate.entered(1).await;
    let started = Instant::now();
    let state = app.state.clone();
    let shutdown = tokio::spawn(app.shutdown());
    // The drain has begun while the request is still held...
    let deadline = Instant::now() + Duration::from_secs(5);
    while !state.is_shutting_down() {
        assert!(Instant::now() < deadline, "the shutdown never began");
        tokio::task::yield_now().await;
    }
    assert!(!shutdown.is_finished(), "the server waits for the request");
    // ...and it still completes once released.
    gate.release(1);
    let response = slow.await.unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.json(), "done");
    shutdown.await.unwrap().unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer accepting"
    );
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed_at_once_on_shutdown() {
    let app = spawn_app().await;
    // One connection accepted but silent: it has not sent a request yet.
    // It is made first: the listener's queue is first in, first out, so
    // once the connections made after it have been served, the server has
    // accepted it too (the drain counts it; it is not still in the kernel's
    // queue).
    let mut silent = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let mut idle = Vec::new();
    for _ in 0..3 {
        let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nhost: test\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 1024];
        let n = stream.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "served first");
        idle.push(stream);
    }
    let started = Instant::now();
    let shutdown = tokio::spawn(app.shutdown());
    for mut stream in idle {
        let mut buf = [0u8; 64];
        let n = tokio::time::timeout(Duration::from_secs(1), stream.read(&mut buf))
            .await
            .expect("closed by the drain, not left open")
            .unwrap_or(0);
        assert_eq!(n, 0, "closed without another response");
    }
    // The silent one had sent nothing yet: its first request may already be
    // on the wire, so it is answered (with `connection: close`), then closed.
    silent
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: test\r\n\r\n")
        .await
        .unwrap();
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), silent.read_to_end(&mut response))
        .await
        .expect("closed after its answer, not left open");
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("connection: close"), "{response}");
    tokio::time::timeout(Duration::from_secs(2), shutdown)
        .await
        .expect("the drain completes once every connection is closed")
        .unwrap()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn readiness_turns_503_once_shutdown_begins() {
    let app = spawn_app().await;
    let service = backend::app::app::<http_body_util::Empty<bytes::Bytes>>(
        &app.state,
        backend::app::routes(&app.state),
    );
    app.state.begin_shutdown();
    let request = http::Request::get("/readyz")
        .body(http_body_util::Empty::new())
        .unwrap();
    let response = service.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(app.get("/healthz").await.status, 200);
}

#[tokio::test]
async fn the_binary_finishes_an_in_flight_request_on_sigterm_and_exits_0() {
    let db = fresh_database().await;
    let url = database_url(&db);
    let (mut process, addr) = Process::serve(&[
        ("DATABASE_URL", &url),
        ("APP_ENV", "prod"),
        ("SHUTDOWN_DELAY_MS", "0"),
        ("AUTH_MODE", "none"),
    ])
    .await;

    // A request in flight: headers sent, half of the body still to come.
    // With `expect: 100-continue` the server says when the app starts
    // reading the body, so the request is known to be inside it, not just
    // sent.
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\
              Expect: 100-continue\r\n\r\n12345",
        )
        .await
        .unwrap();
    let mut interim = [0u8; CONTINUE.len()];
    tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut interim))
        .await
        .expect("the server reads the body")
        .unwrap();
    assert_eq!(&interim, CONTINUE, "{}", String::from_utf8_lossy(&interim));
    process.terminate();
    let draining = process
        .wait_for_line(
            |l| l.contains("no longer accepting"),
            Duration::from_secs(5),
        )
        .await
        .expect("the drain starts");
    let draining: serde_json::Value = serde_json::from_str(&draining).unwrap();
    assert_eq!(
        draining["connections"], 1,
        "the drain waits for the request's connection: {draining}"
    );
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer accepting"
    );
    stream.write_all(b"67890").await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut response))
        .await
        .unwrap()
        .unwrap();
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let status = process.wait(Duration::from_secs(10)).await;
    assert_eq!(status.code(), Some(0), "stdout: {:?}", process.seen);
}

/// The interim answer to `expect: 100-continue`, sent when the app first
/// reads the request body.
pub const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// The URL form of a test database config, for the binary's environment.
pub fn database_url(db: &tokio_postgres::Config) -> String {
    crate::common::url_of(db)
}
