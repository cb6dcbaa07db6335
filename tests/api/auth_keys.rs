//! The provider's keys: rotation without a restart, a flood of unknown
//! `kid`s costing at most one JWKS request, outages with and without keys,
//! `OIDC_JWKS_URL`, and a discovery document naming another issuer.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::auth_provider::{Provider, bearer, claims};
use crate::auth_signer::{Signer, b64};
use crate::common::{TestApp, TestResponse, spawn_app_with};
use backend::auth::store::FIRST_BACKOFF;
use backend::config::AuthMode;

const USERS: &str = "/api/v1/users";

async fn get(app: &TestApp, token: &str) -> TestResponse {
    let (name, value) = bearer(token);
    app.request_with("GET", USERS, &[(name, &value)], None)
        .await
}

#[tokio::test]
async fn a_rotated_key_is_accepted_after_a_refetch_without_restart() {
    let old = Signer::rsa("old", "RS256");
    let new = Signer::ec("new", "ES256");
    let provider = Provider::start(&[&old]).await;
    let app = provider.app().await;
    let issuer = provider.issuer();
    assert_eq!(
        get(&app, &old.sign(&claims(&issuer, "users:read")))
            .await
            .status,
        200
    );
    provider.set_keys(&[&new]);
    let before = provider.jwks_requests();
    let response = get(&app, &new.sign(&claims(&issuer, "users:read"))).await;
    assert_eq!(response.status, 200, "{:?}", response.body);
    assert_eq!(provider.jwks_requests(), before + 1);
    // The old key left the set: its tokens (not cached: fresh ones) go.
    let mut c = claims(&issuer, "users:read");
    c["jti"] = json!("fresh");
    let response = get(&app, &old.sign(&c)).await;
    assert_eq!(response.status, 401);
}

#[tokio::test]
async fn ten_thousand_random_kids_cost_at_most_one_jwks_request() {
    let signer = Signer::ec("real", "ES256");
    let provider = Provider::start(&[&signer]).await;
    let app = Arc::new(provider.app().await);
    let before = provider.jwks_requests();
    let body = b64(&serde_json::to_vec(&claims(&provider.issuer(), "users:read")).unwrap());
    let mut workers = Vec::new();
    for worker in 0..20 {
        let app = app.clone();
        let body = body.clone();
        workers.push(tokio::spawn(async move {
            for i in 0..500 {
                let kid = format!("random-{worker}-{i}-{}", uuid::Uuid::new_v4());
                let header = b64(format!(r#"{{"alg":"ES256","kid":"{kid}"}}"#).as_bytes());
                let response = get(&app, &format!("{header}.{body}.c2ln")).await;
                assert_eq!(response.status, 401);
            }
        }));
    }
    for worker in workers {
        worker.await.unwrap();
    }
    let after = provider.jwks_requests();
    assert!(
        after - before <= 1,
        "{} JWKS requests for 10,000 unknown kids",
        after - before
    );
    // The real key still works.
    let token = signer.sign(&claims(&provider.issuer(), "users:read"));
    assert_eq!(get(&app, &token).await.status, 200);
}

#[tokio::test]
async fn cached_keys_survive_the_provider_going_down() {
    let signer = Signer::rsa("k", "RS256");
    let provider = Provider::start(&[&signer]).await;
    let app = provider.app().await;
    provider.set_up(false);
    let token = signer.sign(&claims(&provider.issuer(), "users:read"));
    assert_eq!(get(&app, &token).await.status, 200);
    // An unknown kid tries the provider, fails, and is a 401 (not a 5xx).
    let other = Signer::ec("unknown", "ES256");
    let response = get(&app, &other.sign(&claims(&provider.issuer(), "users:read"))).await;
    response.assert_problem(401, "unauthorized");
    assert_eq!(get(&app, &token).await.status, 200);
}

#[tokio::test]
async fn before_any_key_a_well_formed_token_gets_503_and_others_their_401() {
    let signer = Signer::rsa("k", "RS256");
    let provider = Provider::start(&[&signer]).await;
    provider.set_up(false);
    let settings = provider.settings();
    let app = spawn_app_with(|s| s.auth = AuthMode::Oidc(settings), |t, _| t).await;
    let token = signer.sign(&claims(&provider.issuer(), "users:read"));
    let response = get(&app, &token).await;
    response.assert_problem(503, "service_unavailable");
    assert!(response.headers.contains_key("retry-after"));
    app.get(USERS).await.assert_problem(401, "unauthorized");
    get(&app, "not-a-token")
        .await
        .assert_problem(401, "unauthorized");
    // Readiness does not depend on the provider.
    assert_eq!(app.get("/readyz").await.status, 200);
    // The provider comes back: the loader's retries find it.
    provider.set_up(true);
    crate::auth_provider::wait_for_keys(&app).await;
    assert_eq!(get(&app, &token).await.status, 200);
}

#[tokio::test]
async fn the_jwks_url_setting_skips_discovery() {
    let signer = Signer::rsa("k", "RS256");
    let provider = Provider::start(&[&signer]).await;
    // Discovery would name another issuer: never read.
    provider.set_discovery_issuer("https://not-read.example.com");
    let mut settings = provider.settings();
    settings.jwks_url = Some(format!("{}/jwks", provider.issuer()));
    let app = provider.app_with(settings).await;
    let token = signer.sign(&claims(&provider.issuer(), "users:read"));
    assert_eq!(get(&app, &token).await.status, 200);
}

#[tokio::test]
async fn a_trailing_slash_on_the_issuer_is_ignored_for_discovery_only() {
    let signer = Signer::rsa("k", "RS256");
    let provider = Provider::start(&[&signer]).await;
    let issuer = format!("{}/", provider.issuer());
    provider.set_discovery_issuer(&issuer);
    let mut settings = provider.settings();
    settings.issuer.clone_from(&issuer);
    let app = provider.app_with(settings).await;
    assert_eq!(
        get(&app, &signer.sign(&claims(&issuer, "users:read")))
            .await
            .status,
        200
    );
    let without = signer.sign(&claims(&provider.issuer(), "users:read"));
    assert_eq!(
        get(&app, &without).await.status,
        401,
        "iss must equal exactly"
    );
}

#[tokio::test]
async fn a_discovery_document_for_another_issuer_loads_no_key() {
    let signer = Signer::rsa("k", "RS256");
    let provider = Provider::start(&[&signer]).await;
    provider.set_discovery_issuer("https://impostor.example.com");
    let settings = provider.settings();
    let app = spawn_app_with(|s| s.auth = AuthMode::Oidc(settings), |t, _| t).await;
    // A second discovery request means the first load attempt is over:
    // the loader tries again only after one has failed.
    let started = std::time::Instant::now();
    while provider.discovery_requests() < 2 {
        assert!(
            started.elapsed() < FIRST_BACKOFF + Duration::from_secs(10),
            "the loader did not retry discovery"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let token = signer.sign(&claims(&provider.issuer(), "users:read"));
    get(&app, &token)
        .await
        .assert_problem(503, "service_unavailable");
    assert_eq!(provider.jwks_requests(), 0);
}
