//! The command line: bad settings are all reported at once with exit code 2,
//! the password never printed; `--help`, `--version` and `healthcheck` work.

use crate::common::binary::{Process, command};
use crate::common::fresh_database;

#[tokio::test]
async fn bad_settings_list_every_variable_and_exit_2() {
    let output = command(
        &["serve"],
        &[
            (
                "DATABASE_URL",
                "postgres://u:hunter2@host/db?sslmode=sometimes",
            ),
            ("PORT", "eighty"),
            ("APP_ENV", "staging"),
            ("REQUEST_TIMEOUT_MS", "-5"),
            ("CORS_ALLOW_ORIGINS", "*"),
        ],
    )
    .output()
    .await
    .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for variable in [
        "DATABASE_URL",
        "PORT",
        "APP_ENV",
        "REQUEST_TIMEOUT_MS",
        "CORS_ALLOW_ORIGINS",
    ] {
        assert!(stderr.contains(variable), "{variable} not named: {stderr}");
    }
    assert_eq!(stderr.lines().count(), 1, "one message: {stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
    assert!(output.stdout.is_empty());
}

#[tokio::test]
async fn a_missing_database_url_is_named() {
    let output = command(&[], &[]).output().await.unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("DATABASE_URL is required"));
}

#[tokio::test]
async fn help_and_version() {
    let help = command(&["--help"], &[]).output().await.unwrap();
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(
        text.contains("healthcheck") && text.contains("serve"),
        "{text}"
    );
    let version = command(&["--version"], &[]).output().await.unwrap();
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("backend {}", env!("CARGO_PKG_VERSION"))
    );
    let openapi = command(&["openapi"], &[]).output().await.unwrap();
    assert!(openapi.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&openapi.stdout).unwrap();
    assert_eq!(doc, backend::openapi::document(backend::app::RESOURCES));
    let unknown = command(&["frobnicate"], &[]).output().await.unwrap();
    assert_eq!(unknown.status.code(), Some(2));
}

#[tokio::test]
async fn healthcheck_reports_the_server_on_port() {
    let db = fresh_database().await;
    let url = crate::lifecycle::database_url(&db);
    let (mut process, addr) = Process::serve(&[("DATABASE_URL", &url)]).await;
    let port = addr.port().to_string();
    let ok = command(&["healthcheck"], &[("PORT", &port)])
        .output()
        .await
        .unwrap();
    assert_eq!(ok.status.code(), Some(0), "{ok:?}");
    process.terminate();
    process.wait(std::time::Duration::from_secs(10)).await;
    // Hold the port the server let go of, so nothing else can answer on it;
    // should another process have taken it meanwhile, check a held one.
    let reserved = crate::common::ports::ClosedPort::bind(addr)
        .unwrap_or_else(|_| crate::common::ports::ClosedPort::new());
    let port = reserved.port().to_string();
    let down = command(&["healthcheck"], &[("PORT", &port)])
        .output()
        .await
        .unwrap();
    assert_eq!(down.status.code(), Some(1));
}
