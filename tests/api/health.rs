//! API.md's probes: `/healthz` never touches the database; `/readyz` reports
//! the database within about a second, whatever state it is in.

use std::str::FromStr;
use std::time::{Duration, Instant};

use crate::common::{spawn_app, spawn_app_on};

#[tokio::test]
async fn healthz_is_ok() {
    let app = spawn_app().await;
    let response = app.get("/healthz").await;
    assert_eq!(response.status, 200);
    assert!(
        response
            .header("content-type")
            .starts_with("application/json")
    );
    assert_eq!(response.json(), serde_json::json!({"status": "ok"}));
}

#[tokio::test]
async fn readyz_is_ready_with_the_database_up() {
    let app = spawn_app().await;
    let response = app.get("/readyz").await;
    assert_eq!(response.status, 200);
    assert_eq!(
        response.json(),
        serde_json::json!({"status": "ready", "checks": {"database": "ok"}})
    );
}

#[tokio::test]
async fn readyz_is_503_fast_when_the_database_is_unreachable() {
    // Nothing listens on port 1: connections are refused at once.
    let db = tokio_postgres::Config::from_str("postgres://app:pw@127.0.0.1:1/none").unwrap();
    let app = spawn_app_on(db, |s| s.migrate_on_start = false, |t, _| t).await;
    let started = Instant::now();
    let response = app.get("/readyz").await;
    assert_eq!(response.status, 503);
    assert!(
        response
            .header("content-type")
            .starts_with("application/json")
    );
    let body = response.json();
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["checks"]["database"], "unreachable");
    // Refused at once: well inside the 1 s deadline a hang would take.
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        app.get("/healthz").await.status,
        200,
        "liveness ignores the database"
    );
}

#[tokio::test]
async fn readyz_answers_within_1_5_s_when_the_database_hangs() {
    // A "database" that accepts connections and never says a word.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let db = tokio_postgres::Config::from_str(&format!("postgres://app:pw@127.0.0.1:{port}/none"))
        .unwrap();
    let app = spawn_app_on(db, |s| s.migrate_on_start = false, |t, _| t).await;
    let started = Instant::now();
    let response = app.get("/readyz").await;
    let elapsed = started.elapsed();
    assert_eq!(response.status, 503);
    assert_eq!(response.json()["checks"]["database"], "timeout");
    // The readiness check's database deadline is 1 s: not answered before
    // it (give or take the timer's slack), and not long after it (a
    // generous bound on a shared two-core machine).
    assert!(elapsed >= Duration::from_millis(950), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
}
