//! A real webhook receiver for the delivery tests: a small hyper server on
//! 127.0.0.1 that records every request (headers, body, arrival and end
//! times), answers with a configurable status after a configurable delay,
//! and counts concurrent requests per `webhook-id`. Also the independent
//! signature check (HMAC-SHA256 computed here from the Standard Webhooks
//! specification, not with the service's signer), and helpers to run
//! workers in the test process.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::common::TestApp;

/// One request as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Received {
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body bytes.
    pub body: Bytes,
    /// When it arrived.
    pub at: Instant,
}

impl Received {
    /// A header's value as text ("" when absent).
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", |v| v.to_str().unwrap())
    }
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    in_flight: HashMap<String, usize>,
    max_in_flight_per_id: usize,
}

/// The receiver; answers `status` after `delay` (both changeable).
#[derive(Clone)]
pub struct Receiver {
    /// Where it listens.
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    behaviour: Arc<Mutex<(StatusCode, Duration)>>,
}

impl Receiver {
    /// Starts a receiver answering 200 at once.
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let receiver = Self {
            addr: listener.local_addr().unwrap(),
            state: Arc::default(),
            behaviour: Arc::new(Mutex::new((StatusCode::OK, Duration::ZERO))),
        };
        let this = receiver.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let this = this.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| this.clone().handle(req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        receiver
    }

    /// Answers `status` after `delay` from now on.
    pub fn respond(&self, status: u16, delay: Duration) {
        *self.behaviour.lock().unwrap() = (StatusCode::from_u16(status).unwrap(), delay);
    }

    /// The URL subscriptions should use.
    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    async fn handle(self, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
        let at = Instant::now();
        let (parts, body) = req.into_parts();
        let body = body.collect().await?.to_bytes();
        let id = parts
            .headers
            .get("webhook-id")
            .map(|v| v.to_str().unwrap_or("").to_owned())
            .unwrap_or_default();
        {
            let mut state = self.state.lock().unwrap();
            state.received.push(Received {
                headers: parts.headers,
                body,
                at,
            });
            let n = state.in_flight.entry(id.clone()).or_default();
            *n += 1;
            let n = *n;
            state.max_in_flight_per_id = state.max_in_flight_per_id.max(n);
        }
        let (status, delay) = *self.behaviour.lock().unwrap();
        tokio::time::sleep(delay).await;
        *self.state.lock().unwrap().in_flight.get_mut(&id).unwrap() -= 1;
        let mut response = Response::new(Full::new(Bytes::from_static(b"ok")));
        *response.status_mut() = status;
        Ok(response)
    }

    /// Every request so far.
    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// The most requests with one `webhook-id` that were in flight at once.
    pub fn max_in_flight_per_id(&self) -> usize {
        self.state.lock().unwrap().max_in_flight_per_id
    }

    /// Waits until at least `n` requests arrived (panics after `timeout`).
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let received = self.received();
            if received.len() >= n {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "expected {n} requests, got {}",
                received.len()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Checks `request`'s signature with `secret` from the specification:
/// base64 of HMAC-SHA256 over `id.timestamp.body`, keyed with the decoded
/// bytes after `whsec_`.
#[track_caller]
pub fn assert_signed(request: &Received, secret: &str) {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key);
    let mut signed = Vec::new();
    signed.extend_from_slice(request.header("webhook-id").as_bytes());
    signed.push(b'.');
    signed.extend_from_slice(request.header("webhook-timestamp").as_bytes());
    signed.push(b'.');
    signed.extend_from_slice(&request.body);
    let expected = format!("v1,{}", STANDARD.encode(ring::hmac::sign(&key, &signed)));
    assert_eq!(request.header("webhook-signature"), expected);
}

/// Subscribes `url` to `events`; returns the created subscription (with
/// its secret).
pub async fn subscribe(app: &TestApp, url: &str, events: &[&str]) -> Value {
    let response = app
        .send_json(
            "POST",
            "/api/v1/webhooks",
            &json!({"url": url, "events": events}),
        )
        .await;
    assert_eq!(response.status, 201, "{:?}", response.body);
    response.json()
}

/// A worker in this process on `app`'s database; stops (gracefully) when
/// the returned sender is dropped or sends `true`.
pub fn start_worker(app: &TestApp) -> (watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let (stop, stopped) = watch::channel(false);
    let worker = backend::app::worker(&app.state, stopped.clone()).expect("the worker starts");
    (stop, tokio::spawn(worker.run(stopped)))
}

/// The deliveries page of subscription `id` (with `query`).
pub async fn deliveries(app: &TestApp, id: &str, query: &str) -> Value {
    let response = app
        .get(&format!("/api/v1/webhooks/{id}/deliveries{query}"))
        .await;
    assert_eq!(response.status, 200, "{:?}", response.body);
    response.json()
}

/// Waits until every delivery of subscription `id` is no longer pending.
pub async fn settled(app: &TestApp, id: &str, timeout: Duration) -> Vec<Value> {
    let deadline = Instant::now() + timeout;
    loop {
        let page = deliveries(app, id, "?limit=100").await;
        let items = page["items"].as_array().unwrap().clone();
        if !items.is_empty() && items.iter().all(|d| d["status"] != "pending") {
            return items;
        }
        assert!(
            Instant::now() < deadline,
            "deliveries still pending: {items:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
