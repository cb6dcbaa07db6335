//! The lame-duck shutdown of the real binary, over real sockets: readiness
//! fails at once on SIGTERM while the server keeps serving for
//! `SHUTDOWN_DELAY_MS`; then it stops accepting; no connection it accepted
//! is dropped unanswered.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::binary::Process;
use crate::common::fresh_database;
use crate::lifecycle::database_url;

/// `GET path` on a new connection with `connection: close`: the status, or
/// `None` when the connection could not be made.
async fn get_once(addr: SocketAddr, path: &str) -> Result<u16, Outcome> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|_| Outcome::Refused)?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).await.is_err() {
        return Err(Outcome::Dropped);
    }
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response);
    text.strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .ok_or(Outcome::Dropped)
}

/// Why a request got no status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// The connection was refused: allowed once the server stopped accepting.
    Refused,
    /// Accepted, then closed without an answer: never allowed.
    Dropped,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_fails_at_once_while_the_server_keeps_serving_through_the_delay() {
    let db = fresh_database().await;
    let url = database_url(&db);
    let (mut process, addr) = Process::serve(&[
        ("DATABASE_URL", &url),
        ("APP_ENV", "prod"),
        ("AUTH_MODE", "none"),
        ("MIGRATE_ON_START", "true"),
        ("SHUTDOWN_DELAY_MS", "1500"),
        ("SHUTDOWN_TIMEOUT_MS", "4000"),
    ])
    .await;
    assert_eq!(get_once(addr, "/readyz").await, Ok(200));
    process.terminate();
    let signalled = Instant::now();
    // Readiness turns 503 at once…
    loop {
        match get_once(addr, "/readyz").await {
            Ok(503) => break,
            Ok(200) => {}
            other => panic!("readiness during the delay: {other:?}"),
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(1),
            "not 503 in time"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // …while new connections are still accepted and served.
    assert_eq!(get_once(addr, "/healthz").await, Ok(200));
    assert!(signalled.elapsed() < Duration::from_millis(1500));
    process
        .wait_for_line(
            |l| l.contains("no longer accepting"),
            Duration::from_secs(5),
        )
        .await
        .expect("the server stops accepting after the delay");
    assert!(
        signalled.elapsed() >= Duration::from_millis(1400),
        "stopped accepting before the delay was over: {:?}",
        signalled.elapsed()
    );
    assert_eq!(get_once(addr, "/healthz").await, Err(Outcome::Refused));
    let status = process.wait(Duration::from_secs(5)).await;
    assert_eq!(status.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_racing_sigterm_are_answered_or_refused_never_dropped() {
    let db = fresh_database().await;
    let url = database_url(&db);
    let (mut process, addr) = Process::serve(&[
        ("DATABASE_URL", &url),
        ("APP_ENV", "prod"),
        ("AUTH_MODE", "none"),
        ("MIGRATE_ON_START", "true"),
        ("SHUTDOWN_DELAY_MS", "0"),
        ("SHUTDOWN_TIMEOUT_MS", "3000"),
    ])
    .await;
    let running = Arc::new(AtomicBool::new(true));
    let answered = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    let dropped = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..16)
        .map(|_| {
            let running = Arc::clone(&running);
            let counts = (
                Arc::clone(&answered),
                Arc::clone(&refused),
                Arc::clone(&dropped),
            );
            tokio::spawn(async move {
                // Bounded: at most 15 s or 2,000 connections per client.
                let started = Instant::now();
                for _ in 0..2000 {
                    if !running.load(Ordering::Relaxed)
                        || started.elapsed() > Duration::from_secs(15)
                    {
                        break;
                    }
                    match get_once(addr, "/healthz").await {
                        Ok(_) => counts.0.fetch_add(1, Ordering::Relaxed),
                        Err(Outcome::Refused) => counts.1.fetch_add(1, Ordering::Relaxed),
                        Err(Outcome::Dropped) => counts.2.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();
    // SIGTERM lands on a running load: wait for some answers first…
    until(Duration::from_secs(10), || {
        answered.load(Ordering::Relaxed) > 100
    })
    .await;
    process.terminate();
    let status = process.wait(Duration::from_secs(5)).await;
    // …and the clients go on until they have met the stopped server.
    until(Duration::from_secs(5), || {
        refused.load(Ordering::Relaxed) > 0
    })
    .await;
    running.store(false, Ordering::Relaxed);
    for client in clients {
        client.await.unwrap();
    }
    assert_eq!(status.code(), Some(0));
    let (answered, refused, dropped) = (
        answered.load(Ordering::Relaxed),
        refused.load(Ordering::Relaxed),
        dropped.load(Ordering::Relaxed),
    );
    assert!(answered > 100, "the load ran: {answered} answered");
    assert!(
        refused > 0,
        "some connections came after the server stopped"
    );
    assert_eq!(
        dropped, 0,
        "{answered} answered, {refused} refused, {dropped} dropped"
    );
}

/// Waits until `condition` holds, or `limit` has passed (the assertions
/// that follow then say what did not happen).
async fn until(limit: Duration, condition: impl Fn() -> bool) {
    let started = Instant::now();
    while !condition() && started.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
