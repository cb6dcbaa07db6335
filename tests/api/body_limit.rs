//! API.md: a body over the limit is a 413 problem, whether its size is
//! declared (`content-length`) or only discovered (chunked), before routing.

use std::time::Duration;

use crate::common::{send_raw, spawn_app_with};

#[tokio::test]
async fn a_declared_oversized_body_is_refused_before_routing() {
    let app = spawn_app_with(|s| s.body_limit = 1024, |t, _| t).await;
    let body = vec![b'x'; 1025];
    for path in ["/healthz", "/nowhere"] {
        let response = app
            .request_with(
                "POST",
                path,
                &[("content-type", "application/json")],
                Some(&body),
            )
            .await;
        let problem = response.assert_problem(413, "payload_too_large");
        assert_eq!(problem["instance"], path);
        assert_eq!(response.header("x-content-type-options"), "nosniff");
    }
    let at_limit = vec![b' '; 1024];
    let response = app
        .request_with("POST", "/healthz", &[], Some(&at_limit))
        .await;
    assert_eq!(
        response.status, 405,
        "a body at the limit passes on to routing"
    );
}

#[tokio::test]
async fn a_chunked_oversized_body_is_refused() {
    let app = spawn_app_with(|s| s.body_limit = 1024, |t, _| t).await;
    let mut raw = b"POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n".to_vec();
    for _ in 0..3 {
        raw.extend_from_slice(b"200\r\n");
        raw.extend_from_slice(&[b'x'; 0x200]);
        raw.extend_from_slice(b"\r\n");
    }
    raw.extend_from_slice(b"0\r\n\r\n");
    let response = send_raw(app.addr, &raw, Duration::from_secs(3)).await;
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(response.contains("payload_too_large"), "{response}");
    assert!(
        response.to_ascii_lowercase().contains("x-request-id"),
        "{response}"
    );
}
