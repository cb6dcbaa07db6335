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
}

const CHILD: &str = "BACKEND_TEST_LOG_CAPTURE_CHILD";

#[tokio::test]
async fn every_line_written_while_serving_a_request_carries_its_id() {
    // tracing caches each call site's interest process-wide: a thread-local
    // subscriber races the other tests' threads (a span they registered
    // first stays disabled here, and the lines lose their id). So the test
    // runs again in a child process of its own, alone, with the capturing
    // subscriber as the global default; here it only checks the child.
    if std::env::var_os(CHILD).is_none() {
        let name = "logging::every_line_written_while_serving_a_request_carries_its_id";
        let output = tokio::process::Command::new(std::env::current_exe().unwrap())
            .args([name, "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD, "1")
            .env_remove("TEST_LOG")
            .output()
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains("1 passed"),
            "{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        return;
    }
    let sink = Sink::default();
    let subscriber = tracing_subscriber::layer::SubscriberExt::with(
        tracing_subscriber::registry(),
        backend::telemetry::JsonLayer::new(sink.clone()),
    );
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let app = crate::common::spawn_app_with(
        |_| {},
        |table, _| {
            table.route(
                "/noisy",
                http::Method::GET,
                backend::router::Access::Open,
                tower::service_fn(|_req: backend::http::Request| async move {
                    tracing::warn!(detail = "w", "a warning inside the request");
                    // And one after an await, from the same request's task.
                    tokio::task::yield_now().await;
                    tracing::error!("an error inside the request");
                    Err::<backend::http::Response, _>(backend::error::AppError::internal(
                        "the cause, logged by the access layer",
                    ))
                }),
            )
        },
    )
    .await;
    let before = sink.contents().lines().count();
    let response = app
        .request_with("GET", "/noisy", &[("x-request-id", "noisy-1")], None)
        .await;
    assert_eq!(response.status, 500);
    let contents = sink.contents();
    let during: Vec<serde_json::Value> = contents
        .lines()
        .skip(before)
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let messages: Vec<&str> = during
        .iter()
        .map(|l| l["message"].as_str().unwrap_or_default())
        .collect();
    for expected in [
        "a warning inside the request",
        "an error inside the request",
        "request failed",
        "request",
    ] {
        assert!(messages.contains(&expected), "{expected:?} in {messages:?}");
    }
    for line in &during {
        assert_eq!(
            line["request_id"], "noisy-1",
            "a line without the id: {line}"
        );
    }
    let warning = during
        .iter()
        .find(|l| l["message"] == "a warning inside the request")
        .unwrap();
    assert_eq!(warning["level"], "WARN");
    assert_eq!(warning["detail"], "w");
}

/// A log sink the test reads back: every line written, in order.
#[derive(Clone, Default)]
struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Sink {
    fn contents(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Sink {
    type Writer = Self;

    fn make_writer(&'a self) -> Self {
        self.clone()
    }
}
