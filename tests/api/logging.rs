//! Production logs: one JSON object per stdout line, the request id on every
//! line of a request, one access line per request, no password anywhere.

use std::time::Duration;

use crate::common::binary::Process;
use crate::common::{admin_url, fresh_database};

#[tokio::test]
async fn prod_logs_are_json_lines_with_the_request_id_and_no_password() {
    let db = fresh_database().await;
    // The test server trusts local connections, so a password is accepted
    // and ignored: exactly what is needed to check it never leaks.
    let url = with_password(&crate::lifecycle::database_url(&db), "hunter2-secret");
    let (mut process, addr) = Process::serve(&[
        ("DATABASE_URL", &url),
        ("APP_ENV", "prod"),
        ("AUTH_MODE", "none"),
    ])
    .await;

    let response = crate::common::client::send(
        addr,
        "GET",
        "/nowhere",
        &[("x-request-id", "log-test-1")],
        None,
    )
    .await;
    assert_eq!(response.status, 404);
    let ready = crate::common::client::send(
        addr,
        "GET",
        "/readyz",
        &[("x-request-id", "log-test-2")],
        None,
    )
    .await;
    assert_eq!(ready.status, 200);
    let access = process
        .wait_for_line(|l| l.contains("log-test-2"), Duration::from_secs(5))
        .await
        .expect("an access line for the request");
    process.terminate();
    process.wait(Duration::from_secs(10)).await;

    for line in &process.seen {
        let json: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        for member in ["timestamp", "level", "target", "message"] {
            assert!(json.get(member).is_some(), "{member} missing: {line}");
        }
        assert!(!line.contains("hunter2"), "password leaked: {line}");
    }
    let access: serde_json::Value = serde_json::from_str(&access).unwrap();
    assert_eq!(access["message"], "request");
    assert_eq!(access["request_id"], "log-test-2");
    assert_eq!(access["method"], "GET");
    assert_eq!(access["route"], "/readyz");
    assert_eq!(access["status"], 200);
    assert!(access["latency_us"].is_u64());
    let not_found: Vec<_> = process
        .seen
        .iter()
        .filter(|l| l.contains("log-test-1"))
        .collect();
    assert_eq!(
        not_found.len(),
        1,
        "one access line per request: {not_found:?}"
    );
    let listening = process
        .seen
        .iter()
        .find(|l| l.contains("listening"))
        .unwrap();
    assert!(
        listening.contains("***"),
        "the URL is logged redacted: {listening}"
    );
    let _ = admin_url();
}

fn with_password(url: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (user, host) = rest.split_once('@').unwrap();
    format!("{scheme}://{user}:{password}@{host}")
}
