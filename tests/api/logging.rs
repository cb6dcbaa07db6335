//! Production logs: one JSON object per stdout line, the request id on every
//! line of a request, one access line per request, no password anywhere.

use std::time::Duration;

use crate::common::binary::Process;
use crate::common::{as_role_with_password, fresh_database, url_of};

#[tokio::test]
async fn prod_logs_are_json_lines_with_the_request_id_and_no_password() {
    // A role of the test's own with a distinctive password: accepted by a
    // server that checks passwords (the CI workflow's) and by one that trusts
    // local connections alike, and easy to look for in the logs.
    let db = as_role_with_password(&fresh_database().await, "hunter2-secret").await;
    let url = url_of(&db);
    assert!(url.contains(":hunter2-secret@"), "{url}");
    let (mut process, addr) = Process::serve(&[("DATABASE_URL", &url), ("APP_ENV", "prod")]).await;

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
}
