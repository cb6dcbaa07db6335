//! API.md: every response of a resource route (`/api/v1/...` except the
//! OpenAPI document), errors included, carries `cache-control: no-store`,
//! also the answers that outer layers give (413, 503, 504, 500); the
//! operational endpoints and the document do not.

use std::time::Duration;

use http::Method;
use serde_json::json;
use tower::service_fn;

use crate::common::{Gate, TestResponse, spawn_app, spawn_app_with};

#[track_caller]
fn assert_no_store(response: &TestResponse, what: &str) {
    assert_eq!(
        response
            .headers
            .get("cache-control")
            .map(|v| v.to_str().unwrap()),
        Some("no-store"),
        "{what}: {} {:?}",
        response.status,
        response.headers
    );
}

#[tokio::test]
async fn every_kind_of_answer_on_a_resource_route_is_no_store() {
    let app = spawn_app_with(|s| s.body_limit = 1024, |t, _| t).await;
    let json_type = [("content-type", "application/json")];
    let created = app.create_user("ada@example.com").await;
    let item = format!("/api/v1/users/{}", created["id"].as_str().unwrap());
    let missing = "/api/v1/users/019ad3c4-1f5e-7c3a-9b1e-4c2d8f6a0b12";
    let big = vec![b' '; 2048];
    let answers = [
        (app.get("/api/v1/users").await, 200),
        (app.request("HEAD", "/api/v1/users").await, 200),
        (app.get(&item).await, 200),
        (
            app.send_json("POST", "/api/v1/users", &json!({"email": "b@example.com"}))
                .await,
            201,
        ),
        (app.send_json("PATCH", &item, &json!({})).await, 200),
        (
            app.request_with("POST", "/api/v1/users", &json_type, Some(b"{"))
                .await,
            400,
        ),
        (
            app.request_with(
                "POST",
                "/api/v1/users",
                &[("content-type", "text/plain")],
                Some(b"{}"),
            )
            .await,
            415,
        ),
        (
            app.request_with("POST", "/api/v1/users", &json_type, Some(&big))
                .await,
            413,
        ),
        (
            app.send_json(
                "POST",
                "/api/v1/users",
                &json!({"email": "ada@example.com"}),
            )
            .await,
            409,
        ),
        (
            app.send_json("POST", "/api/v1/users", &json!({})).await,
            422,
        ),
        (app.get("/api/v1/users?bogus=1").await, 422),
        (app.get("/api/v1/users/not-a-uuid").await, 422),
        (app.get(missing).await, 404),
        (app.get("/api/v1/nothing/here").await, 404),
        (app.get("/api/v1/users/").await, 404),
        (app.request("PUT", "/api/v1/users").await, 405),
        (app.request("DELETE", &item).await, 204),
    ];
    for (response, status) in &answers {
        assert_eq!(response.status, *status, "{:?}", response.body);
        assert_no_store(response, &format!("{status}"));
    }
}

#[tokio::test]
async fn answers_made_by_outer_layers_are_no_store_too() {
    let gate = Gate::default();
    let held = gate.clone();
    let slow = move |table: backend::router::RouteTable, _: &_| {
        table
            .route(
                "/api/v1/slow",
                Method::GET,
                backend::router::Access::Open,
                service_fn(move |_req: backend::http::Request| {
                    let held = held.clone();
                    async move {
                        held.pass().await;
                        Ok::<backend::http::Response, backend::error::AppError>(
                            backend::http::Response::default(),
                        )
                    }
                }),
            )
            .route(
                "/api/v1/boom",
                Method::GET,
                backend::router::Access::Open,
                service_fn(|_req: backend::http::Request| async move {
                    let fail = || -> Result<backend::http::Response, backend::error::AppError> {
                        panic!("boom")
                    };
                    fail()
                }),
            )
    };
    let app = spawn_app_with(
        |s| {
            s.max_concurrent_requests = 1;
            s.request_timeout = Duration::from_secs(2);
        },
        slow,
    )
    .await;
    // One request holds the only slot until the timeout answers it (504);
    // one sent once it is inside the route is shed (503). The timeout is
    // long enough for that second request to arrive on a loaded machine.
    let shed = async {
        gate.entered(1).await;
        app.get("/api/v1/users").await
    };
    let (timed_out, shed) = tokio::join!(app.get("/api/v1/slow"), shed);
    timed_out.assert_problem(504, "timeout");
    assert_no_store(&timed_out, "504");
    shed.assert_problem(503, "service_unavailable");
    assert_no_store(&shed, "503");
    let panicked = app.get("/api/v1/boom").await;
    panicked.assert_problem(500, "internal");
    assert_no_store(&panicked, "500");
}

#[tokio::test]
async fn operational_endpoints_and_the_document_may_be_cached() {
    let app = spawn_app().await;
    for path in [
        "/healthz",
        "/readyz",
        "/docs",
        "/api/v1/openapi.json",
        "/nowhere",
    ] {
        let response = app.get(path).await;
        assert!(
            !response.headers.contains_key("cache-control"),
            "{path}: {:?}",
            response.headers
        );
    }
}
