//! The resource server against a real OpenID Provider process
//! (`tools/oidc-provider`): tokens minted by the provider's token endpoint
//! work end to end, scopes decide, keys rotate at the provider without an
//! app restart, and outages behave. Token edge cases a provider will not
//! mint are in `auth_tokens` (in-process signer).

use backend::config::{AuthMode, OidcSettings};

use crate::auth_provider::{bearer, wait_for_keys};
use crate::common::{TestApp, TestResponse, spawn_app_with};
use crate::oidc_node::{AUDIENCE, ES256_CLIENT, NodeProvider, RS256_CLIENT, available};

const USERS: &str = "/api/v1/users";

fn settings(provider: &NodeProvider) -> OidcSettings {
    OidcSettings {
        issuer: provider.issuer(),
        audience: AUDIENCE.into(),
        jwks_url: None,
        leeway_seconds: 30,
    }
}

async fn app(settings: OidcSettings) -> TestApp {
    spawn_app_with(|s| s.auth = AuthMode::Oidc(settings), |t, _| t).await
}

async fn call(app: &TestApp, method: &str, token: &str, body: Option<&[u8]>) -> TestResponse {
    let (name, value) = bearer(token);
    let mut headers = vec![(name, value.as_str())];
    if body.is_some() {
        headers.push(("content-type", "application/json"));
    }
    app.request_with(method, USERS, &headers, body).await
}

#[tokio::test]
async fn client_credentials_tokens_work_end_to_end_with_rs256_and_es256() {
    let Some(dir) = available() else { return };
    let provider = NodeProvider::start(&dir, "one").await;
    let app = app(settings(&provider)).await;
    wait_for_keys(&app).await;
    for client in [RS256_CLIENT, ES256_CLIENT] {
        let token = provider.token(client, "users:read users:write").await;
        let body = format!(r#"{{"email":"{client}@example.com"}}"#);
        let created = call(&app, "POST", &token, Some(body.as_bytes())).await;
        assert_eq!(created.status, 201, "{client}: {:?}", created.body);
        let listed = call(&app, "GET", &token, None).await;
        assert_eq!(listed.status, 200, "{client}: {:?}", listed.body);
    }
    assert_eq!(app.user_count().await, 2);
}

#[tokio::test]
async fn a_token_without_the_routes_scope_is_a_403_naming_it() {
    let Some(dir) = available() else { return };
    let provider = NodeProvider::start(&dir, "one").await;
    let app = app(settings(&provider)).await;
    wait_for_keys(&app).await;
    let token = provider.token(RS256_CLIENT, "webhooks:read").await;
    let response = call(&app, "GET", &token, None).await;
    response.assert_problem(403, "forbidden");
    assert_eq!(
        response.header("www-authenticate"),
        r#"Bearer error="insufficient_scope", scope="users:read""#
    );
    // Write without read: the write works, the read does not.
    let token = provider.token(RS256_CLIENT, "users:write").await;
    let created = call(&app, "POST", &token, Some(br#"{"email":"w@example.com"}"#)).await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let response = call(&app, "GET", &token, None).await;
    response.assert_problem(403, "forbidden");
    assert_eq!(
        response.header("www-authenticate"),
        r#"Bearer error="insufficient_scope", scope="users:read""#
    );
}

#[tokio::test]
async fn a_key_rotated_at_the_provider_is_accepted_without_restarting_the_app() {
    let Some(dir) = available() else { return };
    let provider = NodeProvider::start(&dir, "one").await;
    let port = provider.addr.port();
    let app = app(settings(&provider)).await;
    wait_for_keys(&app).await;
    let old = provider.token(RS256_CLIENT, "users:read").await;
    assert_eq!(call(&app, "GET", &old, None).await.status, 200);
    // The provider restarts on the same issuer with a new key set.
    provider.stop().await;
    let mut rotated = None;
    for _ in 0..50 {
        rotated = NodeProvider::start_on(&dir, port, "two").await;
        if rotated.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let provider = rotated.expect("the provider restarts on its port");
    let new = provider.token(RS256_CLIENT, "users:read").await;
    let response = call(&app, "GET", &new, None).await;
    assert_eq!(response.status, 200, "{:?}", response.body);
    let keys = app.state.auth.as_ref().unwrap().store().current().unwrap();
    assert_eq!(keys.len(), 2, "the new set replaced the old one");
}

#[tokio::test]
async fn with_the_provider_down_warm_keys_serve_and_a_cold_start_is_a_503() {
    let Some(dir) = available() else { return };
    let provider = NodeProvider::start(&dir, "one").await;
    let warm = app(settings(&provider)).await;
    wait_for_keys(&warm).await;
    let first = provider.token(RS256_CLIENT, "users:read").await;
    let second = provider.token(ES256_CLIENT, "users:read").await;
    assert_eq!(call(&warm, "GET", &first, None).await.status, 200);
    let settings = settings(&provider);
    provider.stop().await;
    // A token never seen (not in the verified-token cache), cached keys.
    let response = call(&warm, "GET", &second, None).await;
    assert_eq!(response.status, 200, "{:?}", response.body);
    // An app started while the provider is down holds no key.
    let cold = app(settings).await;
    let response = call(&cold, "GET", &second, None).await;
    response.assert_problem(503, "service_unavailable");
    assert!(response.headers.contains_key("retry-after"));
}
