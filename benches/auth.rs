//! What a bearer token costs a GET, in-process (no socket, no database):
//! the whole production stack answering `GET /api/v1/users/not-a-uuid`
//! (routing, the token check, the endpoint's path check, a problem body)
//! with `AUTH_MODE=none`, and with `AUTH_MODE=oidc` and a valid token —
//! verified once and then found in the verified-token cache (the usual
//! case: a client reuses its token until it expires), or verified every
//! time (the cache cleared before each request) with RS256 and ES256.
//! The ratios come from one run. Keys come from a JWKS served on
//! 127.0.0.1 by a thread of this process.
//!
//! `cargo bench --bench auth`

use std::hint::black_box;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use backend::auth::Verifier;
use backend::config::{AuthMode, DatabaseUrl, LogFormat, OidcSettings, Settings};
use backend::state::AppState;
use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::Full;
use serde_json::json;
use tower::ServiceExt;

#[path = "../tests/api/auth_signer.rs"]
mod signer;

const PATH: &str = "/api/v1/users/not-a-uuid";
const ISSUER: &str = "https://id.example.com";
const AUDIENCE: &str = "backend";

/// Serves `body` as JSON to every connection, forever, on 127.0.0.1.
fn serve_jwks(body: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buf = [0; 4096];
            let _ = stream.read(&mut buf);
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body.as_bytes());
        }
    });
    format!("http://{addr}/jwks")
}

fn state(auth: AuthMode) -> AppState {
    let url = DatabaseUrl::parse("postgres://bench@127.0.0.1:1/none").unwrap();
    let mut settings = Settings::for_database(url);
    settings.auth = auth;
    AppState::new(settings).unwrap()
}

fn request(token: Option<&str>) -> http::Request<Full<Bytes>> {
    let mut request = http::Request::get(PATH);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    request.body(Full::new(Bytes::new())).unwrap()
}

fn auth(c: &mut Criterion) {
    let _log = backend::telemetry::init_with_writer(LogFormat::Json, "info", std::io::sink());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let rsa = signer::Signer::rsa("rsa", "RS256");
    let ec = signer::Signer::ec("ec", "ES256");
    let jwks_url = serve_jwks(json!({"keys": [rsa.jwk(), ec.jwk()]}).to_string());
    let claims = json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": "bench", "client_id": "bench",
        "scope": "users:read", "exp": signer::now() + 3600,
    });
    let tokens = [("rs256", rsa.sign(&claims)), ("es256", ec.sign(&claims))];

    let open = state(AuthMode::None);
    let oidc = runtime.block_on(async {
        let state = state(AuthMode::Oidc(OidcSettings {
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
            jwks_url: Some(jwks_url),
            leeway_seconds: 30,
        }));
        let verifier: &Arc<Verifier> = state.auth.as_ref().unwrap();
        while verifier.store().current().is_none() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        state
    });
    let keys = oidc.auth.as_ref().unwrap().store().current().unwrap();
    let open_app = backend::app::app::<Full<Bytes>>(&open, backend::app::routes(&open));
    let oidc_app = backend::app::app::<Full<Bytes>>(&oidc, backend::app::routes(&oidc));
    for (_, token) in &tokens {
        let status = runtime.block_on(oidc_app.clone().oneshot(request(Some(token))));
        assert_eq!(status.unwrap().status(), 422, "the token must be accepted");
    }

    let mut group = c.benchmark_group("auth");
    group.bench_function("none/get", |b| {
        b.to_async(&runtime).iter(|| {
            let app = open_app.clone();
            async move { black_box(app.oneshot(request(None)).await.unwrap().status()) }
        });
    });
    for (alg, token) in &tokens {
        group.bench_function(format!("oidc_cached/{alg}/get"), |b| {
            b.to_async(&runtime).iter(|| {
                let app = oidc_app.clone();
                async move { black_box(app.oneshot(request(Some(token))).await.unwrap().status()) }
            });
        });
        group.bench_function(format!("oidc_verified/{alg}/get"), |b| {
            b.to_async(&runtime).iter(|| {
                keys.cache.clear();
                let app = oidc_app.clone();
                async move { black_box(app.oneshot(request(Some(token))).await.unwrap().status()) }
            });
        });
    }
    group.finish();
}

criterion_group!(benches, auth);
criterion_main!(benches);
