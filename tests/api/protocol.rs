//! Connection handling over real sockets: keep-alive and HTTP/2 prior
//! knowledge on one port; silent and trickling clients are dropped
//! (slowloris); oversized heads are refused.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{send_raw, spawn_app, spawn_app_with};

#[tokio::test]
async fn http1_keep_alive_serves_several_requests_on_one_connection() {
    let app = spawn_app().await;
    let two = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let response = send_raw(app.addr, two, Duration::from_secs(5)).await;
    assert_eq!(response.matches("HTTP/1.1 200").count(), 2, "{response}");
}

#[tokio::test]
async fn http2_prior_knowledge_is_served_on_the_same_port() {
    let app = spawn_app().await;
    let stream = TcpStream::connect(app.addr).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    for path in ["/healthz", "/nowhere"] {
        let request = http::Request::get(format!("http://{}{path}", app.addr))
            .body(Empty::<Bytes>::new())
            .unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.version(), http::Version::HTTP_2);
        assert!(response.headers().contains_key("x-request-id"));
        let status = response.status();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert!(!body.is_empty());
        assert_eq!(status, if path == "/healthz" { 200 } else { 404 });
    }
    let head = http::Request::head(format!("http://{}/healthz", app.addr))
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = sender.send_request(head).await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .is_empty()
    );
}

#[tokio::test]
async fn a_silent_client_is_dropped_after_the_header_timeout() {
    let app = spawn_app_with(
        |s| s.header_read_timeout = Duration::from_millis(300),
        |t, _| t,
    )
    .await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(3), stream.read(&mut buf))
        .await
        .expect("the server closes the connection")
        .unwrap_or(0);
    assert_eq!(n, 0);
    assert!(started.elapsed() >= Duration::from_millis(250));
}

#[tokio::test]
async fn a_client_trickling_headers_is_dropped() {
    let app = spawn_app_with(
        |s| s.header_read_timeout = Duration::from_millis(500),
        |t, _| t,
    )
    .await;
    let stream = TcpStream::connect(app.addr).await.unwrap();
    let started = Instant::now();
    let request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let (mut reader, mut writer) = stream.into_split();
    // One byte every 100 ms: the whole head would take about 8 s.
    let trickle = tokio::spawn(async move {
        for byte in request {
            if writer.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let mut answer = Vec::new();
    // The server hangs up (an EOF, or a reset if a byte arrived after it
    // closed): either way the read ends, long before the head is complete.
    let _ = tokio::time::timeout(Duration::from_secs(4), reader.read_to_end(&mut answer))
        .await
        .expect("the server hangs up on the trickling client (header deadline 500 ms)");
    let took = started.elapsed();
    assert!(!trickle.is_finished(), "the whole head was sent first");
    trickle.abort();
    let text = String::from_utf8_lossy(&answer);
    assert!(
        !text.contains("200 OK"),
        "a trickled request was served: {text}"
    );
    assert!(
        took >= Duration::from_millis(450),
        "hung up only once the 500 ms deadline passed: {took:?}"
    );
    // Other clients were served all along.
    assert_eq!(app.get("/healthz").await.status, 200);
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let app = spawn_app_with(
        |s| s.header_read_timeout = Duration::from_millis(300),
        |t, _| t,
    )
    .await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut all = Vec::new();
    let result = tokio::time::timeout(Duration::from_secs(3), stream.read_to_end(&mut all)).await;
    assert!(result.is_ok(), "the idle connection was closed");
    assert!(String::from_utf8_lossy(&all).starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn an_oversized_head_is_refused() {
    let app = spawn_app().await;
    let big = "a".repeat(20 * 1024);
    let raw = format!("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n");
    let response = send_raw(app.addr, raw.as_bytes(), Duration::from_secs(5)).await;
    assert!(
        response.starts_with("HTTP/1.1 431"),
        "{}",
        &response[..response.len().min(200)]
    );
    let path = format!("/{}", "p".repeat(8 * 1024));
    assert_eq!(
        app.get(&path).await.status,
        404,
        "an 8 KiB path is still served"
    );
}
