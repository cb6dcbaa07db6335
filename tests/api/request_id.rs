//! API.md: every response carries `x-request-id`; a valid incoming one is
//! echoed, anything else replaced by a fresh UUID.

use crate::common::spawn_app;

#[tokio::test]
async fn a_request_without_an_id_gets_a_fresh_uuid() {
    let app = spawn_app().await;
    let a = app.get("/healthz").await;
    let b = app.get("/healthz").await;
    let id = a.header("x-request-id");
    let parsed = uuid::Uuid::parse_str(id).expect("a UUID");
    assert_eq!(parsed.hyphenated().to_string(), id);
    assert_ne!(id, b.header("x-request-id"));
}

#[tokio::test]
async fn a_valid_incoming_id_is_echoed_unchanged() {
    let app = spawn_app().await;
    let long = "a".repeat(128);
    for id in ["abc", "Trace-01.02:03_x", long.as_str()] {
        let response = app
            .request_with("GET", "/healthz", &[("x-request-id", id)], None)
            .await;
        assert_eq!(response.header("x-request-id"), id);
        let response = app
            .request_with("GET", "/nowhere", &[("x-request-id", id)], None)
            .await;
        assert_eq!(response.header("x-request-id"), id);
        assert_eq!(response.json()["request_id"], id);
    }
}

#[tokio::test]
async fn an_invalid_incoming_id_is_replaced() {
    let app = spawn_app().await;
    let too_long = "a".repeat(129);
    for bad in [
        "has space",
        "semi;colon",
        "slash/",
        too_long.as_str(),
        "quote\"",
    ] {
        let response = app
            .request_with("GET", "/healthz", &[("x-request-id", bad)], None)
            .await;
        let id = response.header("x-request-id");
        assert_ne!(id, bad);
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    }
}

#[tokio::test]
async fn an_id_with_a_control_byte_is_never_echoed() {
    // DEL is not a valid header byte: the client library refuses to send it,
    // so it goes out as raw bytes.
    assert!(http::HeaderValue::from_str("x\u{7f}").is_err());
    let app = spawn_app().await;
    let raw =
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: x\x7f\r\nConnection: close\r\n\r\n";
    let response = crate::common::send_raw(app.addr, raw, std::time::Duration::from_secs(5)).await;
    let (head, _) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("a complete response: {response:?}"));
    assert!(!head.contains('\u{7f}'), "the byte came back: {head:?}");
    // httparse rejects DEL in a header value: the head is malformed, and
    // hyper answers 400 before any route or middleware runs, so there is no
    // id to echo at all.
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    assert!(
        !head.to_ascii_lowercase().contains("x-request-id"),
        "{head}"
    );
}
