//! Connection-level edge cases of the server and the outer layers: peers
//! that close before a byte, an HTTP/2 preface arriving in pieces, a drain
//! cut off by `SHUTDOWN_TIMEOUT_MS`, a body that breaks its own framing,
//! panics however they are raised, and the pool's connection settings.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, StatusCode};
use http_body_util::Empty;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tower::service_fn;

use crate::common::client::send_raw;
use crate::common::{spawn_app, spawn_app_with};

#[tokio::test]
async fn peers_that_close_before_a_byte_cost_nothing() {
    let app = spawn_app().await;
    for _ in 0..20 {
        drop(TcpStream::connect(app.addr).await.unwrap());
    }
    assert_eq!(app.get("/healthz").await.status, 200);
    let started = Instant::now();
    app.shutdown().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "closed peers hold no connection open"
    );
}

/// A stream whose first `head` bytes go out alone, `pause` before the rest:
/// the server sees a partial HTTP/2 preface first.
struct Trickle {
    inner: TcpStream,
    head: usize,
    pause: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl AsyncRead for Trickle {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Trickle {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.head > 0 {
            let n = buf.len().min(self.head);
            let written = std::task::ready!(Pin::new(&mut self.inner).poll_write(cx, &buf[..n]))?;
            self.head -= written;
            if self.head == 0 {
                self.pause = Some(Box::pin(tokio::time::sleep(Duration::from_millis(50))));
            }
            return Poll::Ready(Ok(written));
        }
        if let Some(pause) = self.pause.as_mut() {
            std::task::ready!(pause.as_mut().poll(cx));
            self.pause = None;
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[tokio::test]
async fn an_http2_preface_in_pieces_is_still_http2() {
    let app = spawn_app().await;
    let stream = TcpStream::connect(app.addr).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let trickle = Trickle {
        inner: stream,
        head: 10,
        pause: None,
    };
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(trickle))
            .await
            .unwrap();
    tokio::spawn(connection);
    let request = http::Request::get(app.url("/healthz"))
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.version(), http::Version::HTTP_2);
}

#[tokio::test]
async fn the_drain_is_cut_off_at_the_shutdown_timeout() {
    let gate = crate::common::Gate::default();
    let route_gate = gate.clone();
    let app = spawn_app_with(
        |s| s.shutdown_timeout = Duration::from_millis(300),
        move |table, _| {
            table.route(
                "/stuck",
                Method::GET,
                backend::router::Access::Open,
                service_fn(move |_req: backend::http::Request| {
                    let gate = route_gate.clone();
                    async move {
                        // Never released: only the shutdown timeout ends it.
                        gate.pass().await;
                        backend::http::response::json(StatusCode::OK, &"too late")
                    }
                }),
            )
        },
    )
    .await;
    let addr = app.addr;
    let stuck = tokio::spawn(async move {
        send_raw(
            addr,
            b"GET /stuck HTTP/1.1\r\nHost: x\r\n\r\n",
            Duration::from_secs(10),
        )
        .await
    });
    // The request is inside the route when the shutdown begins.
    gate.entered(1).await;
    let started = Instant::now();
    app.shutdown().await.unwrap();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(3),
        "the drain waited for the grace period, and no longer: {took:?}"
    );
    stuck.abort();
}

#[tokio::test]
async fn a_body_that_breaks_its_chunked_framing_is_a_400() {
    let app = spawn_app().await;
    let answer = send_raw(
        app.addr,
        b"POST /api/v1/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
          Transfer-Encoding: chunked\r\n\r\n5\r\n{\"ema\r\nzz\r\n",
        Duration::from_secs(5),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("application/problem+json"), "{answer}");
    assert!(
        answer.contains("the request body could not be read"),
        "{answer}"
    );
    assert_eq!(app.user_count().await, 0);
}

#[tokio::test]
async fn panics_become_500_problems_however_they_are_raised() {
    let app = spawn_app_with(
        |_| {},
        |table, _| {
            table
                .route(
                    "/panics-at-once",
                    Method::GET,
                    backend::router::Access::Open,
                    service_fn(
                        |_req: backend::http::Request| -> std::future::Ready<
                            Result<backend::http::Response, backend::error::AppError>,
                        > { panic!("in call itself") },
                    ),
                )
                .route(
                    "/panics-with-a-number",
                    Method::GET,
                    backend::router::Access::Open,
                    service_fn(|_req: backend::http::Request| async move {
                        if true {
                            std::panic::panic_any(42_u32);
                        }
                        backend::http::response::json(StatusCode::OK, &"unreachable")
                    }),
                )
        },
    )
    .await;
    for path in ["/panics-at-once", "/panics-with-a-number"] {
        let response = app
            .request_with("GET", path, &[("x-request-id", "panic-test")], None)
            .await;
        let body = response.assert_problem(500, "internal");
        assert_eq!(body["request_id"], "panic-test");
        assert_eq!(body["instance"], path);
        let text = String::from_utf8_lossy(&response.body);
        assert!(!text.contains("in call itself"), "{text}");
    }
    assert_eq!(
        app.get("/healthz").await.status,
        200,
        "the server carries on"
    );
}

#[tokio::test]
async fn the_pool_keeps_url_options_and_adds_its_own() {
    let app = spawn_app_with(
        |s| {
            let mut config = s.database.config.clone();
            config
                .options("-c search_path=elsewhere,public")
                .application_name("named-by-url");
            s.database = backend::config::DatabaseUrl::from_config(config);
            s.statement_timeout = Duration::from_millis(1234);
        },
        |table, state| {
            let pool = state.pool.clone();
            table.route(
                "/settings",
                Method::GET,
                backend::router::Access::Open,
                service_fn(move |_req: backend::http::Request| {
                    let pool = pool.clone();
                    async move {
                        let db = pool.get().await?;
                        let row = db
                            .query_one(
                                "SELECT current_setting('statement_timeout'), \
                                 current_setting('search_path'), \
                                 current_setting('application_name')",
                                &[],
                            )
                            .await?;
                        let values: (String, String, String) = (row.get(0), row.get(1), row.get(2));
                        backend::http::response::json(StatusCode::OK, &values)
                    }
                }),
            )
        },
    )
    .await;
    let response = app.get("/settings").await;
    assert_eq!(response.status, 200, "{:?}", response.body);
    assert_eq!(
        response.json(),
        serde_json::json!(["1234ms", "elsewhere,public", "named-by-url"])
    );
    let plain = spawn_app_with(
        |_| {},
        |table, state| {
            let pool = state.pool.clone();
            table.route(
                "/name",
                Method::GET,
                backend::router::Access::Open,
                service_fn(move |_req: backend::http::Request| {
                    let pool = pool.clone();
                    async move {
                        let db = pool.get().await?;
                        let row = db
                            .query_one("SELECT current_setting('application_name')", &[])
                            .await?;
                        backend::http::response::json(StatusCode::OK, &row.get::<_, String>(0))
                    }
                }),
            )
        },
    )
    .await;
    assert_eq!(plain.get("/name").await.json(), "backend");
}
