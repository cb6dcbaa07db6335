//! A database backend that stops answering (SIGSTOP: a black-holed host
//! looks the same to the service) costs requests their deadline, never
//! more: a connection whose query did not finish is discarded, not handed
//! to the next request, and after SIGCONT nothing waits on it. A statement
//! the server cancels (57014) discards its connection too.

use std::process::Command;
use std::time::{Duration, Instant};

use futures_util::future::join_all;

use crate::common::pg::PrivateServer;
use crate::common::{TestApp, spawn_app_on, spawn_app_with};

const REQUEST_TIMEOUT: Duration = Duration::from_millis(1500);

/// Sends SIGCONT to every stopped pid when dropped, even if the test fails.
struct Stopped(Vec<i32>);

impl Stopped {
    fn signal(pids: &[i32], signal: &str) {
        for pid in pids {
            let status = Command::new("kill")
                .args([signal, &pid.to_string()])
                .status()
                .unwrap();
            assert!(status.success(), "kill {signal} {pid}");
        }
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        Self::signal(&self.0, "-CONT");
    }
}

async fn get_all(app: &TestApp, path: &str, n: usize) -> Vec<(u16, Duration)> {
    join_all((0..n).map(|_| async {
        let started = Instant::now();
        let response = app.get(path).await;
        (response.status.as_u16(), started.elapsed())
    }))
    .await
}

#[tokio::test]
async fn a_stopped_backend_costs_a_deadline_and_its_connection_nothing_more() {
    let server = PrivateServer::start();
    server
        .client()
        .await
        .batch_execute("CREATE DATABASE stall")
        .await
        .unwrap();
    let name = format!("stall-{}", uuid::Uuid::new_v4().simple());
    let mut db = server.database("stall");
    db.application_name(&name);
    let app = spawn_app_on(
        db,
        |s| {
            s.pool_size = 2;
            s.request_timeout = REQUEST_TIMEOUT;
            s.statement_timeout = Duration::from_secs(1);
            s.pool_timeout = Duration::from_secs(1);
        },
        |table, _| table,
    )
    .await;
    let id = app.create_user("stall@example.com").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/v1/users/{id}");
    for _ in 0..20 {
        if app.state.pool.status().size == 2 {
            break;
        }
        get_all(&app, &path, 8).await;
    }
    assert_eq!(app.state.pool.status().size, 2, "both connections warmed");

    // Both backends idle in the pool, as the server sees them.
    let admin = server.client().await;
    let started = Instant::now();
    let pids = loop {
        let pids: Vec<i32> = admin
            .query(
                "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND state = 'idle'",
                &[&name],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        if pids.len() == 2 || started.elapsed() > Duration::from_secs(10) {
            break pids;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(pids.len(), 2, "the pool's two backends: {pids:?}");
    Stopped::signal(&pids, "-STOP");
    let stopped = Stopped(pids.clone());

    // Each request gets a stalled connection and ends by its deadline.
    let first = get_all(&app, &path, 2).await;
    for (status, took) in &first {
        assert!(matches!(status, 503 | 504), "{first:?}");
        assert!(
            *took < REQUEST_TIMEOUT + Duration::from_millis(700),
            "{first:?}"
        );
    }
    // Those connections were discarded: later requests get new ones and
    // are answered at once, while the old backends are still stopped.
    for (status, took) in get_all(&app, &path, 4).await {
        assert_eq!(status, 200);
        assert!(took < Duration::from_millis(800), "{took:?}");
    }

    // Resumed, the old backends find their clients gone and exit; the
    // requests that follow must not wait on them.
    drop(stopped);
    let started = Instant::now();
    loop {
        let left: i64 = admin
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1)",
                &[&pids],
            )
            .await
            .unwrap()
            .get(0);
        if left == 0 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the resumed backends {pids:?} did not exit"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for _ in 0..5 {
        for (status, took) in get_all(&app, &path, 4).await {
            assert_eq!(status, 200);
            assert!(took < Duration::from_millis(500), "{took:?}");
        }
    }
}

#[tokio::test]
async fn a_cancelled_statement_discards_its_connection() {
    let app = spawn_app_with(
        |s| s.statement_timeout = Duration::from_millis(100),
        |table, _| table,
    )
    .await;
    let db = app.state.pool.db().await.unwrap();
    assert_eq!(app.state.pool.status().size, 1);
    let error = db.query("SELECT pg_sleep(2)", &[]).await.unwrap_err();
    assert_eq!(
        error.code(),
        Some(&tokio_postgres::error::SqlState::QUERY_CANCELED),
        "{error}"
    );
    drop(db);
    assert_eq!(
        app.state.pool.status().size,
        0,
        "the connection was discarded"
    );

    // A statement that fails cleanly keeps its connection.
    let db = app.state.pool.db().await.unwrap();
    db.query("SELECT 1/0", &[]).await.unwrap_err();
    drop(db);
    assert_eq!(app.state.pool.status().size, 1, "the connection was kept");
}
