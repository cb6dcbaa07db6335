//! An OpenID Provider in the test process: a small hyper server on
//! 127.0.0.1 serving a discovery document and a JWKS, counting JWKS
//! requests, with keys that can be switched (rotation) and a switch that
//! takes it down (connections closed unanswered). Plus helpers to start the
//! app against it and to make claims.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};

use backend::config::{AuthMode, OidcSettings};

use crate::auth_signer::{Signer, now};
use crate::common::{TestApp, spawn_app_with};

/// The audience the test app expects.
pub const AUDIENCE: &str = "backend-tests";

struct State {
    issuer: Mutex<String>,
    jwks: Mutex<Value>,
    discovery_requests: AtomicUsize,
    jwks_requests: AtomicUsize,
    up: AtomicBool,
}

/// The running provider.
pub struct Provider {
    /// Where it listens.
    pub addr: SocketAddr,
    state: Arc<State>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Provider {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Provider {
    /// A provider serving `keys`, up.
    pub async fn start(keys: &[&Signer]) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State {
            issuer: Mutex::new(format!("http://{addr}")),
            jwks: Mutex::new(jwks(keys)),
            discovery_requests: AtomicUsize::new(0),
            jwks_requests: AtomicUsize::new(0),
            up: AtomicBool::new(true),
        });
        let serving = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                if !serving.up.load(Ordering::SeqCst) {
                    drop(stream);
                    continue;
                }
                let state = serving.clone();
                let service = hyper::service::service_fn(move |req| {
                    let state = state.clone();
                    async move { Ok::<_, std::convert::Infallible>(answer(&state, req.uri().path())) }
                });
                tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
            }
        });
        Self { addr, state, task }
    }

    /// The issuer URL (also what the discovery document names, unless changed).
    pub fn issuer(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Serves `keys` from now on.
    pub fn set_keys(&self, keys: &[&Signer]) {
        *self.state.jwks.lock().unwrap() = jwks(keys);
    }

    /// Makes the discovery document name `issuer`.
    pub fn set_discovery_issuer(&self, issuer: &str) {
        issuer.clone_into(&mut self.state.issuer.lock().unwrap());
    }

    /// Takes the provider down (`false`) or brings it back (`true`).
    pub fn set_up(&self, up: bool) {
        self.state.up.store(up, Ordering::SeqCst);
    }

    /// How many discovery requests it has answered.
    pub fn discovery_requests(&self) -> usize {
        self.state.discovery_requests.load(Ordering::SeqCst)
    }

    /// How many JWKS requests it has answered.
    pub fn jwks_requests(&self) -> usize {
        self.state.jwks_requests.load(Ordering::SeqCst)
    }

    /// The settings of an app trusting this provider.
    pub fn settings(&self) -> OidcSettings {
        OidcSettings {
            issuer: self.issuer(),
            audience: AUDIENCE.into(),
            jwks_url: None,
            leeway_seconds: 30,
        }
    }

    /// The app, trusting this provider with `settings`, once it holds keys.
    pub async fn app_with(&self, settings: OidcSettings) -> TestApp {
        let app = spawn_app_with(|s| s.auth = AuthMode::Oidc(settings), |t, _| t).await;
        wait_for_keys(&app).await;
        app
    }

    /// The app with this provider's default settings, once it holds keys.
    pub async fn app(&self) -> TestApp {
        self.app_with(self.settings()).await
    }
}

fn jwks(keys: &[&Signer]) -> Value {
    json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()})
}

fn answer(state: &State, path: &str) -> http::Response<Full<Bytes>> {
    let body = match path {
        "/.well-known/openid-configuration" => {
            state.discovery_requests.fetch_add(1, Ordering::SeqCst);
            let issuer = state.issuer.lock().unwrap().clone();
            let base = issuer.trim_end_matches('/');
            json!({"issuer": issuer, "jwks_uri": format!("{base}/jwks")})
        }
        "/jwks" => {
            state.jwks_requests.fetch_add(1, Ordering::SeqCst);
            state.jwks.lock().unwrap().clone()
        }
        _ => {
            let mut response = http::Response::new(Full::new(Bytes::new()));
            *response.status_mut() = http::StatusCode::NOT_FOUND;
            return response;
        }
    };
    http::Response::builder()
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(serde_json::to_vec(&body).unwrap())))
        .unwrap()
}

/// Waits until the app holds signing keys (at most 10 s).
pub async fn wait_for_keys(app: &TestApp) {
    let store = app
        .state
        .auth
        .as_ref()
        .expect("AUTH_MODE=oidc")
        .store()
        .clone();
    for _ in 0..200 {
        if store.current().is_some() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the app loaded no keys within 10 s");
}

/// Valid claims for `issuer` with `scope`, expiring in five minutes.
pub fn claims(issuer: &str, scope: &str) -> Value {
    json!({
        "iss": issuer,
        "aud": AUDIENCE,
        "sub": "user-42",
        "client_id": "test-client",
        "scope": scope,
        "iat": now(),
        "exp": now() + 300,
    })
}

/// `Authorization: Bearer <token>`.
pub fn bearer(token: &str) -> (&'static str, String) {
    ("authorization", format!("Bearer {token}"))
}
