//! The `backend` process end to end: `.env` handling, the exit codes and
//! messages of every way `serve`, `migrate` and `healthcheck` can fail, and
//! start-up against a database that is down (served anyway, migrations
//! retried until they apply or fail for a reason other than reachability).

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use backend::db::MIGRATION_RETRY_INTERVAL;
use backend::db::migrate::{self, MIGRATIONS};

use crate::common::binary::{Process, command, output_within};
use crate::common::client::send;
use crate::common::pg::PrivateServer;
use crate::common::{fresh_database, spawn_app};
use crate::lifecycle::database_url;

/// How long a command may take before the test fails instead of hanging.
const BOUND: Duration = Duration::from_secs(10);

/// A directory of the test's own, holding `.env` with `contents`.
fn dir_with_env_file(contents: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("backend-cli-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(".env"), contents).unwrap();
    dir
}

/// The URL of database `name` on a private server (a Unix socket).
fn private_url(server: &PrivateServer, name: &str) -> String {
    use tokio_postgres::config::Host;
    let Some(Host::Unix(socket)) = server.admin.get_hosts().first() else {
        panic!("the private server listens on a Unix socket");
    };
    let socket = socket
        .display()
        .to_string()
        .replace('%', "%25")
        .replace('/', "%2F");
    format!("postgres://postgres@{socket}:5432/{name}")
}

/// Marks the first migration as changed since it was applied.
async fn tamper(db: &tokio_postgres::Config) {
    let (mut client, connection) = db.connect(backend::db::tls::connector()).await.unwrap();
    tokio::spawn(connection);
    migrate::up(&mut client, MIGRATIONS).await.unwrap();
    client
        .execute(
            "UPDATE schema_migrations SET checksum = 'edited' WHERE version = $1",
            &[&MIGRATIONS[0].version],
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn dotenv_supplies_settings_and_the_environment_wins() {
    let app = spawn_app().await;
    let dir = dir_with_env_file(&format!("# the running app\nPORT={}\n", app.addr.port()));
    let from_file = output_within(command(&["healthcheck"], &[]).current_dir(&dir), BOUND).await;
    assert_eq!(from_file.status.code(), Some(0), "{from_file:?}");
    // Held (bound, never listening) until the test ends: nothing can answer.
    let reserved = crate::common::ports::ClosedPort::new();
    let closed = reserved.port().to_string();
    let overridden = output_within(
        command(&["healthcheck"], &[("PORT", &closed)]).current_dir(&dir),
        BOUND,
    )
    .await;
    assert_eq!(overridden.status.code(), Some(1), "{overridden:?}");
    let stderr = String::from_utf8_lossy(&overridden.stderr);
    assert!(stderr.contains(&format!("127.0.0.1:{closed}")), "{stderr}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn an_unreadable_env_file_stops_the_program_with_exit_2() {
    let dir = dir_with_env_file("DATABASE_URL=postgres://localhost/db\nthis is not a setting\n");
    let output = output_within(command(&["serve"], &[]).current_dir(&dir), BOUND).await;
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("backend: invalid settings: .env could not be read"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn healthcheck_needs_a_port_and_a_200() {
    let output = output_within(&mut command(&["healthcheck"], &[("PORT", "eighty")]), BOUND).await;
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("PORT must be a port number (0-65535)"),
        "{stderr}"
    );

    // Something answers on the port, but not with a 200.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = [0u8; 1024];
        let _ = stream.read(&mut request).unwrap();
        stream
            .write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n")
            .unwrap();
        String::from_utf8_lossy(&request).into_owned()
    });
    let output = output_within(&mut command(&["healthcheck"], &[("PORT", &port)]), BOUND).await;
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("unexpected answer \"HTTP/1.1 503 Service Unavailable\""),
        "{stderr}"
    );
    let request = server.join().unwrap();
    assert!(
        request.starts_with("GET /healthz HTTP/1.1\r\n"),
        "{request}"
    );
}

#[tokio::test]
async fn serve_exits_1_when_it_cannot_listen() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let output = output_within(
        &mut command(
            &["serve"],
            &[
                ("DATABASE_URL", "postgres://localhost/unused"),
                ("APP_ENV", "prod"),
                ("AUTH_MODE", "none"),
                ("HOST", "127.0.0.1"),
                ("PORT", &port),
            ],
        ),
        BOUND,
    )
    .await;
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("server failed"), "{stdout}");
    assert!(
        stdout.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{stdout}"
    );
}

#[tokio::test]
async fn serve_refuses_a_drifted_schema_with_exit_1() {
    let db = fresh_database().await;
    tamper(&db).await;
    let url = database_url(&db);
    let output = output_within(
        &mut command(
            &["serve"],
            &[
                ("DATABASE_URL", &url),
                ("MIGRATE_ON_START", "true"),
                ("LOG_FORMAT", "json"),
                ("PORT", "0"),
            ],
        ),
        BOUND,
    )
    .await;
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("migrations failed: migration"), "{stdout}");
    assert!(
        !stdout.contains("\"listening\""),
        "it never served: {stdout}"
    );
}

#[tokio::test]
async fn migrate_reports_nothing_to_revert_and_its_failures() {
    let db = fresh_database().await;
    let url = database_url(&db);
    let env = [("DATABASE_URL", url.as_str()), ("LOG_LEVEL", "warn")];
    let down = output_within(&mut command(&["migrate", "down"], &env), BOUND).await;
    assert!(down.status.success(), "{down:?}");
    assert_eq!(
        String::from_utf8_lossy(&down.stdout),
        "nothing to revert: no migration is applied\n"
    );

    tamper(&db).await;
    let up = output_within(&mut command(&["migrate", "up"], &env), BOUND).await;
    assert_eq!(up.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&up.stderr);
    assert!(
        stderr.starts_with("backend: migrate up failed: migration "),
        "{stderr}"
    );
    assert!(stderr.contains("checksum mismatch"), "{stderr}");
    let status = output_within(&mut command(&["migrate", "status"], &env), BOUND).await;
    assert!(status.status.success(), "status still reports: {status:?}");
    assert!(String::from_utf8_lossy(&status.stdout).contains("DRIFTED"));

    let unset = output_within(&mut command(&["migrate", "status"], &[]), BOUND).await;
    assert_eq!(unset.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unset.stderr).contains("DATABASE_URL is required"));
}

/// A private server with database `app` (tampered with when `tampered`),
/// stopped, and the binary started against it with `MIGRATE_ON_START`.
/// `None` (skipped, said once) without PostgreSQL's server binaries.
async fn serve_with_the_database_down(
    test: &str,
    tampered: bool,
) -> Option<(Arc<PrivateServer>, Process, SocketAddr)> {
    let server = Arc::new(PrivateServer::start_or_skip(test).await?);
    server
        .client()
        .await
        .batch_execute("CREATE DATABASE app")
        .await
        .unwrap();
    if tampered {
        tamper(&server.database("app")).await;
    }
    server.stop_async().await;
    let url = private_url(&server, "app");
    let (process, addr) = Process::serve(&[
        ("DATABASE_URL", &url),
        ("MIGRATE_ON_START", "true"),
        ("DATABASE_CONNECT_TIMEOUT_MS", "500"),
    ])
    .await;
    Some((server, process, addr))
}

#[tokio::test]
async fn a_database_down_at_start_is_served_anyway_and_migrated_when_it_returns() {
    let Some((server, mut process, addr)) =
        serve_with_the_database_down("a_database_down_at_start", false).await
    else {
        return;
    };
    assert!(
        process
            .seen
            .iter()
            .any(|l| l.contains("migrations will be retried")),
        "{:?}",
        process.seen
    );
    assert_eq!(send(addr, "GET", "/healthz", &[], None).await.status, 200);
    assert_eq!(send(addr, "GET", "/readyz", &[], None).await.status, 503);

    server.restart_async().await;
    process
        .wait_for_line(|l| l.contains("migration applied"), Duration::from_secs(15))
        .await
        .unwrap_or_else(|| panic!("migrations were not retried: {:?}", process.seen));
    let created = send(
        addr,
        "POST",
        "/api/v1/users",
        &[("content-type", "application/json")],
        Some(br#"{"email":"late@example.com"}"#),
    )
    .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    process.terminate();
    assert_eq!(process.wait(Duration::from_secs(10)).await.code(), Some(0));
}

#[tokio::test]
async fn a_retry_that_finds_a_schema_problem_stops_retrying_and_says_so() {
    let Some((server, mut process, addr)) =
        serve_with_the_database_down("a_retry_that_finds_a_schema_problem", true).await
    else {
        return;
    };
    server.restart_async().await;
    let line = process
        .wait_for_line(|l| l.contains("migrations failed"), Duration::from_secs(15))
        .await
        .unwrap_or_else(|| panic!("no failure logged: {:?}", process.seen));
    assert!(line.contains("\"level\":\"ERROR\""), "{line}");
    assert!(line.contains("checksum mismatch"), "{line}");
    // It keeps serving (readiness is the operator's signal), and stops trying.
    assert_eq!(send(addr, "GET", "/healthz", &[], None).await.status, 200);
    // Nothing to wait for: the test is that no second failure is logged in
    // a window where two more attempts would have been made.
    tokio::time::sleep(2 * MIGRATION_RETRY_INTERVAL + Duration::from_secs(1)).await;
    process.terminate();
    assert_eq!(process.wait(Duration::from_secs(10)).await.code(), Some(0));
    let failures = process
        .seen
        .iter()
        .filter(|l| l.contains("migrations failed"))
        .count();
    assert_eq!(failures, 1, "no retry after a schema problem");
}
