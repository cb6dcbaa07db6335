//! Scopes per route, the check order around the token, open routes, the
//! claims a handler reads, and the OpenAPI document's security.

use http::{Method, StatusCode};
use serde_json::json;
use tower::service_fn;

use crate::auth_provider::{Provider, claims};
use crate::auth_signer::Signer;
use crate::common::{TestApp, TestResponse, spawn_app, spawn_app_with};
use backend::auth::Claims;
use backend::config::AuthMode;
use backend::router::Access;

const USERS: &str = "/api/v1/users";
const ID: &str = "/api/v1/users/0190a4b2-7c3e-7d4f-8a9b-0c1d2e3f4a5b";

struct Setup {
    provider: Provider,
    signer: Signer,
    app: TestApp,
}

impl Setup {
    async fn new() -> Self {
        let signer = Signer::rsa("k", "RS256");
        let provider = Provider::start(&[&signer]).await;
        let app = provider.app().await;
        Self {
            provider,
            signer,
            app,
        }
    }

    fn token(&self, scope: &str) -> String {
        self.signer.sign(&claims(&self.provider.issuer(), scope))
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        scope: &str,
        body: Option<&str>,
    ) -> TestResponse {
        let authorization = format!("Bearer {}", self.token(scope));
        let mut headers = vec![("authorization", authorization.as_str())];
        if body.is_some() {
            headers.push(("content-type", "application/json"));
        }
        self.app
            .request_with(method, path, &headers, body.map(str::as_bytes))
            .await
    }
}

#[track_caller]
fn assert_forbidden(response: &TestResponse, scope: &str) {
    response.assert_problem(403, "forbidden");
    assert_eq!(
        response.header("www-authenticate"),
        format!(r#"Bearer error="insufficient_scope", scope="{scope}""#)
    );
}

#[tokio::test]
async fn each_route_needs_its_scope_and_write_does_not_imply_read() {
    let s = Setup::new().await;
    assert_forbidden(
        &s.send("GET", USERS, "users:write", None).await,
        "users:read",
    );
    let head = s.send("HEAD", ID, "users:write", None).await;
    assert_eq!(head.status, 403);
    assert_eq!(
        head.header("www-authenticate"),
        r#"Bearer error="insufficient_scope", scope="users:read""#
    );
    assert_forbidden(&s.send("GET", ID, "", None).await, "users:read");
    assert_forbidden(
        &s.send(
            "POST",
            USERS,
            "users:read",
            Some(r#"{"email":"a@example.com"}"#),
        )
        .await,
        "users:write",
    );
    assert_forbidden(
        &s.send("PATCH", ID, "users:read", Some("{}")).await,
        "users:write",
    );
    assert_forbidden(
        &s.send("DELETE", ID, "users:read", None).await,
        "users:write",
    );
    assert_eq!(s.app.user_count().await, 0, "a refusal changes nothing");

    let created = s
        .send(
            "POST",
            USERS,
            "users:write",
            Some(r#"{"email":"a@example.com"}"#),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let item = format!("{USERS}/{}", created.json()["id"].as_str().unwrap());
    assert_eq!(s.send("GET", &item, "users:read", None).await.status, 200);
    assert_eq!(s.send("HEAD", USERS, "users:read", None).await.status, 200);
    // scp, as an array, counts as much as scope.
    let mut c = claims(&s.provider.issuer(), "");
    c["scp"] = json!(["users:read", "users:write"]);
    let token = format!("Bearer {}", s.signer.sign(&c));
    let deleted = s
        .app
        .request_with("DELETE", &item, &[("authorization", &token)], None)
        .await;
    assert_eq!(deleted.status, 204);
}

#[tokio::test]
async fn the_token_is_checked_after_routing_and_before_the_request() {
    let s = Setup::new().await;
    // Path and method first.
    s.app
        .get("/api/v1/nowhere")
        .await
        .assert_problem(404, "not_found");
    s.app
        .request("PUT", USERS)
        .await
        .assert_problem(405, "method_not_allowed");
    // Then the token, before path parameters, body and content type.
    s.app
        .get("/api/v1/users/not-a-uuid")
        .await
        .assert_problem(401, "unauthorized");
    let no_token = s
        .app
        .request_with("POST", USERS, &[("content-type", "text/plain")], Some(b"x"))
        .await;
    no_token.assert_problem(401, "unauthorized");
    assert_forbidden(
        &s.send("GET", "/api/v1/users/not-a-uuid", "users:write", None)
            .await,
        "users:read",
    );
    assert_forbidden(
        &s.send("POST", USERS, "users:read", None).await,
        "users:write",
    );
    // With the scope, the request's own checks answer.
    s.send("GET", "/api/v1/users/not-a-uuid", "users:read", None)
        .await
        .assert_problem(422, "validation_failed");
    s.send("POST", USERS, "users:write", None)
        .await
        .assert_problem(400, "malformed_body");
    // A token in the query string or the body is not read.
    let token = s.token("users:read users:write");
    let query = s.app.get(&format!("{USERS}?access_token={token}")).await;
    query.assert_problem(401, "unauthorized");
    assert_eq!(query.header("www-authenticate"), "Bearer");
    let form = format!("access_token={token}");
    let body = s
        .app
        .request_with(
            "POST",
            USERS,
            &[("content-type", "application/x-www-form-urlencoded")],
            Some(form.as_bytes()),
        )
        .await;
    body.assert_problem(401, "unauthorized");
    // Body size before everything.
    let big = "x".repeat(70_000);
    let response = s
        .app
        .request_with("POST", USERS, &[], Some(big.as_bytes()))
        .await;
    response.assert_problem(413, "payload_too_large");
}

#[tokio::test]
async fn open_routes_ignore_the_authorization_header() {
    let s = Setup::new().await;
    for path in ["/healthz", "/readyz", "/api/v1/openapi.json", "/docs"] {
        for value in ["Bearer garbage", "Basic x", "Bearer a.b.c", ""] {
            let response = s
                .app
                .request_with("GET", path, &[("authorization", value)], None)
                .await;
            assert_eq!(response.status, 200, "{path} with {value:?}");
            assert!(!response.headers.contains_key("www-authenticate"));
        }
    }
}

#[tokio::test]
async fn handlers_read_the_verified_claims() {
    let signer = Signer::ec("k", "ES256");
    let provider = Provider::start(&[&signer]).await;
    let settings = provider.settings();
    let app = spawn_app_with(
        |s| s.auth = AuthMode::Oidc(settings),
        |table, _| {
            table.route(
                "/api/v1/whoami",
                Method::GET,
                Access::Scope("users:read"),
                service_fn(|req: backend::http::Request| async move {
                    let claims = req.extensions().get::<std::sync::Arc<Claims>>().unwrap();
                    let body = json!({
                        "subject": claims.subject,
                        "client_id": claims.client_id,
                        "scopes": claims.scopes,
                    });
                    backend::http::response::json(StatusCode::OK, &body)
                }),
            )
        },
    )
    .await;
    crate::auth_provider::wait_for_keys(&app).await;
    let mut c = claims(&provider.issuer(), "users:read");
    c.as_object_mut().unwrap().remove("client_id");
    c["azp"] = json!("web-app");
    c["scp"] = json!("extra");
    let token = format!("Bearer {}", signer.sign(&c));
    let response = app
        .request_with("GET", "/api/v1/whoami", &[("authorization", &token)], None)
        .await;
    assert_eq!(response.status, 200, "{:?}", response.body);
    assert_eq!(
        response.json(),
        json!({"subject": "user-42", "client_id": "web-app", "scopes": ["extra", "users:read"]})
    );
}

#[tokio::test]
async fn the_document_declares_the_security_with_oidc_only() {
    let s = Setup::new().await;
    let doc = s.app.get("/api/v1/openapi.json").await.json();
    let scheme = &doc["components"]["securitySchemes"]["oidc"];
    assert_eq!(scheme["type"], "openIdConnect");
    assert_eq!(
        scheme["openIdConnectUrl"],
        format!("{}/.well-known/openid-configuration", s.provider.issuer())
    );
    let list = &doc["paths"][USERS]["get"];
    assert_eq!(list["security"], json!([{"oidc": ["users:read"]}]));
    assert!(list["responses"]["401"].is_object() && list["responses"]["403"].is_object());
    assert_eq!(
        doc["paths"]["/api/v1/users/{id}"]["delete"]["security"],
        json!([{"oidc": ["users:write"]}])
    );
    assert!(doc["paths"]["/healthz"]["get"].get("security").is_none());

    let open = spawn_app().await;
    let doc = open.get("/api/v1/openapi.json").await.json();
    assert!(doc["components"].get("securitySchemes").is_none());
    assert!(doc["paths"][USERS]["get"].get("security").is_none());
    assert_eq!(open.get(USERS).await.status, 200, "AUTH_MODE=none: open");
}
