//! Hostile input, swept: every malformed, oversized, mistyped or lying
//! request gets a 4xx problem, writes nothing, and the service keeps serving.

use std::time::Duration;

use serde_json::json;

use crate::common::{TestApp, send_raw, spawn_app_with};

/// The status code of a raw HTTP/1.1 response.
fn status_of(raw: &str) -> u16 {
    raw.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

async fn raw(app: &TestApp, request: &[u8]) -> String {
    send_raw(app.addr, request, Duration::from_secs(5)).await
}

fn with_body(method: &str, path: &str, content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    request
}

#[track_caller]
fn assert_4xx_problem(response: &str, what: &str) {
    let status = status_of(response);
    assert!(
        (400..500).contains(&status),
        "{what}: got {}",
        &response[..response.len().min(300)]
    );
    assert!(
        response
            .to_ascii_lowercase()
            .contains("content-type: application/problem+json"),
        "{what}: not a problem: {}",
        &response[..response.len().min(300)]
    );
}

#[tokio::test]
async fn bodies_that_are_not_what_they_claim() {
    let app = spawn_app_with(|s| s.request_timeout = Duration::from_millis(800), |t, _| t).await;
    let user = app.create_user("target@example.com").await;
    let item = format!("/api/v1/users/{}", user["id"].as_str().unwrap());
    let deep = format!("{{\"email\":{}{}}}", "[".repeat(20_000), "]".repeat(20_000));
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("invalid UTF-8", b"{\"email\":\"\xc3\x28@x.io\"}".to_vec()),
        (
            "lone surrogate escape",
            br#"{"email":"\ud800@x.io"}"#.to_vec(),
        ),
        ("deep nesting", deep.into_bytes()),
        (
            "duplicate keys",
            br#"{"email":"a@x.io","email":"b@x.io"}"#.to_vec(),
        ),
        ("number for a string", br#"{"email":12345}"#.to_vec()),
        (
            "float for a string",
            br#"{"email":"a@x.io","full_name":1.5}"#.to_vec(),
        ),
        (
            "string for a boolean",
            br#"{"email":"a@x.io","is_active":"true"}"#.to_vec(),
        ),
        (
            "huge number",
            format!(
                "{{\"email\":\"a@x.io\",\"is_active\":1{}}}",
                "0".repeat(5000)
            )
            .into_bytes(),
        ),
        ("array body", b"[{\"email\":\"a@x.io\"}]".to_vec()),
        ("trailing garbage", br#"{"email":"a@x.io"} x"#.to_vec()),
        ("NaN", br#"{"email":"a@x.io","is_active":NaN}"#.to_vec()),
        ("comment", br#"{"email":"a@x.io" /* hi */}"#.to_vec()),
        (
            "60 KB email",
            format!("{{\"email\":\"{}@x.io\"}}", "a".repeat(60_000)).into_bytes(),
        ),
        (
            "60 KB name",
            format!(
                "{{\"email\":\"a@x.io\",\"full_name\":\"{}\"}}",
                "n".repeat(60_000)
            )
            .into_bytes(),
        ),
        (
            "100 KB string",
            format!("{{\"email\":\"{}@x.io\"}}", "a".repeat(100_000)).into_bytes(),
        ),
    ];
    for (what, body) in &bodies {
        for (method, path) in [("POST", "/api/v1/users"), ("PATCH", item.as_str())] {
            let request = with_body(method, path, "application/json", body);
            assert_4xx_problem(&raw(&app, &request).await, &format!("{method} {what}"));
        }
    }
    for field in ["email", "full_name"] {
        for c in ['\u{0}', '\u{1}', '\u{1b}', '\u{7f}', '\u{85}', '\u{9f}'] {
            let body = json!({"email": "ok@x.io", field: format!("a{c}b@x.io")});
            let response = app.send_json("POST", "/api/v1/users", &body).await;
            response.assert_problem(422, "validation_failed");
            let response = app
                .send_json("PATCH", &item, &json!({ field: format!("a{c}b@x.io") }))
                .await;
            response.assert_problem(422, "validation_failed");
        }
    }
    assert_eq!(app.user_count().await, 1, "nothing was written");
    assert_eq!(app.get(&item).await.json(), user, "nothing was changed");
    assert_eq!(app.get("/healthz").await.status, 200);
}

#[tokio::test]
async fn content_lengths_that_lie() {
    let app = spawn_app_with(|s| s.request_timeout = Duration::from_millis(800), |t, _| t).await;
    // Declares more than it sends, then waits: 408 when the deadline passes.
    let body = br#"{"email":"liar@x.io"}"#;
    let short = format!(
        "POST /api/v1/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len() + 50
    );
    let mut request = short.into_bytes();
    request.extend_from_slice(body);
    let response = raw(&app, &request).await;
    assert_eq!(status_of(&response), 408, "{response}");
    assert!(response.contains("\"code\":\"timeout\""), "{response}");
    // Declares less than it sends: the body is cut short (400) and the rest
    // is not taken for another request.
    let long = format!(
        "POST /api/v1/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len() - 5
    );
    let mut request = long.into_bytes();
    request.extend_from_slice(body);
    let response = raw(&app, &request).await;
    assert_4xx_problem(&response, "content-length shorter than the body");
    assert!(!response.contains("201 Created"), "{response}");
    // A bad chunk size.
    let bad_chunk = b"POST /api/v1/users HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n";
    let response = raw(&app, bad_chunk).await;
    assert_eq!(status_of(&response), 400, "a bad chunk size: {response}");
    assert_eq!(app.user_count().await, 0);
    assert_eq!(app.get("/healthz").await.status, 200);
}

#[tokio::test]
async fn paths_and_queries_that_are_malformed_or_huge() {
    let app = spawn_app_with(|_| {}, |t, _| t).await;
    let long = "a".repeat(8 * 1024);
    let cases: Vec<(String, u16)> = vec![
        ("/api/v1/users/%zz".into(), 422),
        ("/api/v1/users/%".into(), 422),
        ("/api/v1/users/%C0%AF".into(), 422),
        ("/api/v1/%zz".into(), 404),
        (format!("/api/v1/users/{long}"), 422),
        (format!("/{long}"), 404),
        ("/api/v1/users?limit=%G1".into(), 422),
        (
            "/api/v1/users?limit=123456789012345678901234567890".into(),
            422,
        ),
        ("/api/v1/users?limit=1e2".into(), 422),
        ("/api/v1/users?limit=0x10".into(), 422),
        ("/api/v1/users?limit=%00".into(), 422),
        (format!("/api/v1/users?cursor={long}"), 422),
        (format!("/api/v1/users?{long}=1"), 422),
        ("/api/v1/users?is_active=true&is_active=false".into(), 422),
    ];
    for (path, status) in cases {
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let response = raw(&app, request.as_bytes()).await;
        assert_eq!(
            status_of(&response),
            status,
            "{}",
            &path[..path.len().min(80)]
        );
        assert_4xx_problem(&response, &path[..path.len().min(80)]);
    }
    assert_eq!(app.get("/healthz").await.status, 200);
}

#[tokio::test]
async fn request_ids_that_try_to_inject() {
    let app = spawn_app_with(|_| {}, |t, _| t).await;
    let attempts: [&[u8]; 4] = [
        b"<script>alert(1)</script>",
        b"a\xffb",
        b"id with spaces",
        b"%0d%0aSet-Cookie:%20x=1",
    ];
    for attempt in attempts {
        let mut request =
            b"GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Request-Id: ".to_vec();
        request.extend_from_slice(attempt);
        request.extend_from_slice(b"\r\n\r\n");
        let response = raw(&app, &request).await;
        assert_eq!(status_of(&response), 404);
        let lower = response.to_ascii_lowercase();
        assert!(!lower.contains("set-cookie"), "{response}");
        assert!(!response.contains("<script>"), "{response}");
        let echoed = response
            .lines()
            .find_map(|l| l.strip_prefix("x-request-id: "))
            .unwrap();
        assert!(
            uuid::Uuid::parse_str(echoed.trim()).is_ok(),
            "replaced by a UUID: {echoed}"
        );
    }
}
