//! What must never leak: 5xx bodies carry no SQL, driver messages, panic
//! payloads or password; no log line carries the password — checked on the
//! real binary's stdout while it fails in the ways a database can make it.

use std::time::Duration;

use crate::common::binary::Process;
use crate::common::client::send;
use crate::common::{as_role_with_password, fresh_database, url_of};

const PASSWORD: &str = "s3cr3t-hunter2";

#[track_caller]
fn assert_clean(body: &str) {
    for secret in [
        PASSWORD,
        "SELECT",
        "INSERT",
        "FROM users",
        "db error",
        "ERROR:",
        "FATAL",
        "terminating",
        "canceling",
        "statement timeout",
        "tokio",
        "deadpool",
        "postgres://",
        "panicked",
        ".rs:",
    ] {
        assert!(
            !body.contains(secret),
            "{secret:?} leaked into a 5xx body: {body}"
        );
    }
}

#[tokio::test]
async fn failures_leak_nothing_to_clients_or_logs() {
    // The app connects as a role of its own whose password is the secret:
    // right on a server that checks passwords, ignored on one that trusts.
    let db = fresh_database().await;
    let url = url_of(&as_role_with_password(&db, PASSWORD).await);
    assert!(url.contains(PASSWORD), "{url}");
    let (mut process, addr) = Process::serve(&[
        ("DATABASE_URL", &url),
        ("APP_ENV", "prod"),
        ("AUTH_MODE", "none"),
        ("MIGRATE_ON_START", "true"),
        ("DATABASE_STATEMENT_TIMEOUT_MS", "1000"),
    ])
    .await;
    let (admin, connection) = db.connect(backend::db::tls::connector()).await.unwrap();
    tokio::spawn(connection);

    // A statement cancelled by the database: 504.
    admin
        .batch_execute("BEGIN; LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let timeout = send(addr, "GET", "/api/v1/users", &[], None).await;
    assert_eq!(timeout.status, 504);
    assert_clean(&String::from_utf8_lossy(&timeout.body));

    // A connection killed mid-statement: 503. The killer connects first:
    // it has one statement timeout to see the statement wait and kill it.
    let killer = {
        let (client, connection) = db.connect(backend::db::tls::connector()).await.unwrap();
        tokio::spawn(connection);
        tokio::spawn(async move {
            // Once the request's statement waits on the lock (not before:
            // a kill before it starts would prove nothing).
            crate::common::locks::wait_until_lock_waiters(&client, 1).await;
            client
                .batch_execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                     WHERE application_name = 'backend' AND datname = current_database() \
                     AND wait_event_type = 'Lock'",
                )
                .await
                .unwrap();
        })
    };
    let terminated = send(addr, "GET", "/api/v1/users", &[], None).await;
    killer.await.unwrap();
    assert_eq!(terminated.status, 503);
    assert_clean(&String::from_utf8_lossy(&terminated.body));
    admin.batch_execute("ROLLBACK").await.unwrap();

    // The schema gone (a botched deploy): 503, still nothing internal.
    admin
        .batch_execute("ALTER TABLE users RENAME TO users_moved")
        .await
        .unwrap();
    let missing = send(addr, "GET", "/api/v1/users", &[], None).await;
    assert_eq!(missing.status, 503);
    assert_clean(&String::from_utf8_lossy(&missing.body));
    admin
        .batch_execute("ALTER TABLE users_moved RENAME TO users")
        .await
        .unwrap();

    process.terminate();
    process.wait(Duration::from_secs(10)).await;
    let errors: Vec<&String> = process
        .seen
        .iter()
        .filter(|l| l.contains("\"ERROR\""))
        .collect();
    assert!(!errors.is_empty(), "the causes were logged for operators");
    for line in &process.seen {
        assert!(!line.contains(PASSWORD), "password in a log line: {line}");
        assert!(
            line.starts_with('{') && line.ends_with('}'),
            "not a JSON line: {line}"
        );
    }
}

#[test]
fn the_production_image_runs_one_binary_as_a_non_root_user() {
    let dockerfile =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/Dockerfile")).unwrap();
    // The production image is the last stage.
    let stage = dockerfile.rsplit("\nFROM ").next().unwrap();
    assert!(
        stage.starts_with("scratch"),
        "the final stage is FROM scratch: {stage}"
    );
    let user = stage
        .lines()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("the final stage sets USER");
    let uid: u32 = user
        .split(':')
        .next()
        .unwrap()
        .trim()
        .parse()
        .expect("a numeric uid");
    assert_ne!(uid, 0, "not root");
    assert!(stage.contains("HEALTHCHECK") && stage.contains("\"healthcheck\""));
    assert!(stage.contains("EXPOSE 8000"));
}
