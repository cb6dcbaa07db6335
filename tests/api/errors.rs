//! API.md's error conventions: problem+json for 404, 405 (+ Allow), 500 from
//! a panic; `nosniff` on every response; the server survives a panic.

use http::Method;
use tower::service_fn;

use crate::common::{Gate, spawn_app, spawn_app_with};

#[tokio::test]
async fn an_unknown_path_is_a_404_problem() {
    let app = spawn_app().await;
    for path in ["/nowhere", "/healthz/", "/api/v1/nothing", "/%zz"] {
        let response = app.get(path).await;
        let body = response.assert_problem(404, "not_found");
        assert_eq!(body["instance"], path);
        assert_eq!(body["title"], "Not Found");
    }
}

#[tokio::test]
async fn the_instance_is_the_raw_path_without_the_query() {
    let app = spawn_app().await;
    let response = app.get("/caf%C3%A9/x?secret=1").await;
    let body = response.assert_problem(404, "not_found");
    assert_eq!(body["instance"], "/caf%C3%A9/x");
}

#[tokio::test]
async fn a_wrong_method_is_a_405_with_allow() {
    let app = spawn_app().await;
    for method in ["POST", "PUT", "DELETE", "PATCH"] {
        let response = app.request(method, "/healthz").await;
        response.assert_problem(405, "method_not_allowed");
        assert_eq!(response.header("allow"), "GET, HEAD");
    }
}

#[tokio::test]
async fn head_is_served_wherever_get_is_without_a_body() {
    let app = spawn_app().await;
    let get = app.get("/healthz").await;
    let head = app.request("HEAD", "/healthz").await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(head.header("content-length"), get.body.len().to_string());
    assert_eq!(head.header("content-type"), "application/json");
}

#[tokio::test]
async fn every_response_is_nosniff() {
    let app = spawn_app().await;
    for (method, path) in [
        ("GET", "/healthz"),
        ("GET", "/nope"),
        ("PUT", "/healthz"),
        ("GET", "/readyz"),
    ] {
        let response = app.request(method, path).await;
        assert_eq!(
            response.header("x-content-type-options"),
            "nosniff",
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn a_panicking_endpoint_is_a_500_problem_and_the_server_keeps_serving() {
    let app = spawn_app_with(
        |_| {},
        |table, _| {
            table.route(
                "/boom",
                Method::GET,
                backend::router::Access::Open,
                service_fn(|_req: backend::http::Request| async move {
                    let fail = || -> Result<backend::http::Response, backend::error::AppError> {
                        panic!("secret panic payload")
                    };
                    fail()
                }),
            )
        },
    )
    .await;
    let response = app
        .request_with("GET", "/boom", &[("x-request-id", "panic-1")], None)
        .await;
    let body = response.assert_problem(500, "internal");
    assert_eq!(body["request_id"], "panic-1");
    assert_eq!(response.header("x-content-type-options"), "nosniff");
    assert!(!String::from_utf8_lossy(&response.body).contains("secret panic payload"));
    assert_eq!(app.get("/healthz").await.status, 200);
}

#[tokio::test]
async fn a_slow_request_gets_the_timeout_problem() {
    let app = spawn_app_with(
        |s| s.request_timeout = std::time::Duration::from_millis(200),
        |table, _| {
            table.route(
                "/slow",
                Method::GET,
                backend::router::Access::Open,
                service_fn(|_req: backend::http::Request| async move {
                    // Never answers: only the timeout can.
                    std::future::pending::<()>().await;
                    Ok::<backend::http::Response, backend::error::AppError>(
                        backend::http::Response::default(),
                    )
                }),
            )
        },
    )
    .await;
    let started = std::time::Instant::now();
    let response = app.get("/slow").await;
    response.assert_problem(504, "timeout");
    let took = started.elapsed();
    // Not before the 200 ms deadline; well before ten times it.
    assert!(took >= std::time::Duration::from_millis(190), "{took:?}");
    assert!(took < std::time::Duration::from_secs(2), "{took:?}");
}

#[tokio::test]
async fn beyond_the_concurrency_limit_requests_are_shed_fast() {
    let gate = Gate::default();
    let route_gate = gate.clone();
    let app = spawn_app_with(
        |s| s.max_concurrent_requests = 2,
        move |table, _| {
            table.route(
                "/slow",
                Method::GET,
                backend::router::Access::Open,
                service_fn(move |_req: backend::http::Request| {
                    let gate = route_gate.clone();
                    async move {
                        gate.pass().await;
                        Ok::<backend::http::Response, backend::error::AppError>(
                            backend::http::Response::default(),
                        )
                    }
                }),
            )
        },
    )
    .await;
    let slow = [app.get("/slow"), app.get("/slow")];
    let shed = async {
        // Both slots taken: the two slow requests are inside the route.
        gate.entered(2).await;
        // Held until the third is answered: a third that queued for a
        // slot instead of being shed would never be answered.
        let response = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            app.get("/api/v1/openapi.json"),
        )
        .await
        .expect("the excess request is answered while the slots are held");
        // The probes are never shed: a busy service is not a dead one.
        let probe = app.get("/healthz").await;
        gate.release(2);
        (response, probe)
    };
    let (done, (response, probe)) = tokio::join!(futures_join(slow), shed);
    for r in done {
        assert_eq!(r.status, 200);
    }
    response.assert_problem(503, "service_unavailable");
    assert_eq!(response.header("retry-after"), "1");
    assert_eq!(probe.status, 200, "probes are exempt from load shedding");
    assert_eq!(app.get("/api/v1/openapi.json").await.status, 200);
}

async fn futures_join<F: std::future::Future>(futures: [F; 2]) -> Vec<F::Output> {
    let [a, b] = futures;
    let (a, b) = tokio::join!(a, b);
    vec![a, b]
}

#[tokio::test]
async fn cors_is_closed_by_default_and_exact_when_configured() {
    let evil = [("origin", "https://evil.example")];
    let evil_preflight = [
        ("origin", "https://evil.example"),
        ("access-control-request-method", "GET"),
    ];
    let app = spawn_app().await;
    let response = app.request_with("GET", "/healthz", &evil, None).await;
    assert!(!response.headers.contains_key("access-control-allow-origin"));
    // Closed CORS leaves OPTIONS to the router: 405 on a route, 404 elsewhere.
    let response = app
        .request_with("OPTIONS", "/api/v1/users", &evil_preflight, None)
        .await;
    response.assert_problem(405, "method_not_allowed");
    assert_eq!(response.header("allow"), "POST, GET, HEAD");
    app.request_with("OPTIONS", "/nowhere", &evil_preflight, None)
        .await
        .assert_problem(404, "not_found");

    let app = spawn_app_with(
        |s| s.cors_allow_origins = vec![http::HeaderValue::from_static("https://app.example")],
        |t, _| t,
    )
    .await;
    let allowed = app
        .request_with(
            "GET",
            "/healthz",
            &[("origin", "https://app.example")],
            None,
        )
        .await;
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        "https://app.example"
    );
    assert!(
        allowed
            .header("access-control-expose-headers")
            .contains("x-request-id")
    );
    assert_eq!(allowed.header("vary"), "origin");
    let preflight = app
        .request_with(
            "OPTIONS",
            "/api/v1/users",
            &[
                ("origin", "https://app.example"),
                ("access-control-request-method", "POST"),
            ],
            None,
        )
        .await;
    assert_eq!(preflight.status, 204);
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        "https://app.example"
    );
    assert!(
        preflight
            .header("access-control-allow-methods")
            .contains("PATCH")
    );
    assert!(
        preflight
            .header("access-control-allow-headers")
            .contains("content-type")
    );
    let foreign = app
        .request_with("OPTIONS", "/api/v1/users", &evil_preflight, None)
        .await;
    foreign.assert_problem(405, "method_not_allowed");
    let other = app
        .request_with(
            "GET",
            "/healthz",
            &[("origin", "https://app.example.evil")],
            None,
        )
        .await;
    assert!(!other.headers.contains_key("access-control-allow-origin"));
    assert_eq!(other.header("vary"), "origin");
}
