//! A rolling restart behind HAProxy, as operators run one: three replicas of
//! the real binary behind Debian's HAProxy (the repository's example
//! configuration, `deploy/haproxy/haproxy.cfg`, checking `/readyz` every
//! 200 ms), 16 keep-alive clients reading and creating users through it, and
//! each replica restarted in turn with SIGTERM. Not one request may fail,
//! and every user answered `201` must be in the database afterwards.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};
use tokio::sync::Mutex;

use crate::common::binary::Process;
use crate::common::{connect, fresh_database};
use crate::lifecycle::database_url;

/// The haproxy binary, or `None` (skipped) where it is not installed.
fn haproxy_binary() -> Option<PathBuf> {
    crate::common::tools::installed("haproxy")
}

/// HAProxy running the example configuration, its replicas' addresses
/// rewritten, with an admin socket to move a server to a new address.
struct Balancer {
    child: tokio::process::Child,
    addr: SocketAddr,
    socket: PathBuf,
    _dir: tempdir::Dir,
}

mod tempdir {
    /// A temporary directory removed on drop.
    pub struct Dir(pub std::path::PathBuf);

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

impl Balancer {
    /// Starts HAProxy in front of `replicas`; retries on another port if
    /// the one it was given got taken in between.
    async fn start(binary: &PathBuf, replicas: &[SocketAddr]) -> Self {
        let example = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/deploy/haproxy/haproxy.cfg"
        ))
        .unwrap();
        for _attempt in 0..5 {
            let dir = std::env::temp_dir()
                .join(format!("backend-haproxy-{}", uuid::Uuid::new_v4().simple()));
            std::fs::create_dir_all(&dir).unwrap();
            let dir = tempdir::Dir(dir);
            let socket = dir.0.join("admin.sock");
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let mut config = example
                .replace("bind 127.0.0.1:8100", &format!("bind 127.0.0.1:{port}"))
                .replacen(
                    "\nglobal\n",
                    &format!(
                        "\nglobal\n    stats socket {} level admin\n",
                        socket.display()
                    ),
                    1,
                );
            for (i, addr) in replicas.iter().enumerate() {
                config = config.replace(
                    &format!("server replica{n} 127.0.0.1:810{n}", n = i + 1),
                    &format!("server replica{} {addr}", i + 1),
                );
            }
            let path = dir.0.join("haproxy.cfg");
            std::fs::write(&path, config).unwrap();
            let mut child = tokio::process::Command::new(binary)
                .arg("-f")
                .arg(&path)
                .arg("-db")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .expect("start haproxy");
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if child.try_wait().unwrap().is_some() {
                    break; // the port was taken: try another
                }
                if TcpStream::connect(addr).await.is_ok() && socket.exists() {
                    return Self {
                        child,
                        addr,
                        socket,
                        _dir: dir,
                    };
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let _ = child.kill().await;
        }
        panic!("haproxy did not start");
    }

    /// Sends one command on the admin socket; returns its answer.
    async fn admin(&self, command: &str) -> String {
        let mut stream = UnixStream::connect(&self.socket).await.unwrap();
        stream
            .write_all(format!("{command}\n").as_bytes())
            .await
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        answer
    }

    /// Waits until every replica is up (its health checks pass).
    async fn wait_all_up(&self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let stat = self.admin("show stat").await;
            let up = stat
                .lines()
                .filter(|l| l.starts_with("replicas,replica"))
                .filter(|l| l.split(',').nth(17) == Some("UP"))
                .count();
            if up == 3 {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "not every replica came up: {stat}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// Each replica's lame-duck delay: the production default. HAProxy takes a
/// replica out of rotation within about two 200 ms checks (224-379 ms
/// measured on a quiet machine); the margin is for a loaded one, where a
/// 1 s delay was once exceeded by 6 ms.
const LAME_DUCK: Duration = Duration::from_secs(3);

/// Starts a replica on a free port.
async fn replica(url: &str) -> (Process, SocketAddr) {
    let lame_duck = LAME_DUCK.as_millis().to_string();
    Process::serve(&[
        ("DATABASE_URL", url),
        ("APP_ENV", "prod"),
        ("AUTH_MODE", "none"),
        ("MIGRATE_ON_START", "true"),
        ("SHUTDOWN_DELAY_MS", lame_duck.as_str()),
        ("SHUTDOWN_TIMEOUT_MS", "5000"),
        ("RUST_LOG", "info,backend::middleware::access_log=warn"),
    ])
    .await
}

/// What the clients saw.
#[derive(Default)]
struct Tally {
    ok: AtomicUsize,
    failed: AtomicUsize,
    failures: Mutex<Vec<String>>,
    created: Mutex<Vec<uuid::Uuid>>,
}

impl Tally {
    /// Waits until `n` answers were counted (at most 10 s).
    async fn wait_for_answers(&self, n: usize) {
        let started = Instant::now();
        while self.ok.load(Ordering::Relaxed) < n {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{} of {n} answers within 10 s; failures: {:?}",
                self.ok.load(Ordering::Relaxed),
                self.failures.lock().await
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_restart_behind_haproxy_fails_no_request_and_loses_no_row() {
    let Some(haproxy) = haproxy_binary() else {
        return;
    };
    let db = fresh_database().await;
    let url = database_url(&db);
    let mut replicas = Vec::new();
    for _ in 0..3 {
        replicas.push(replica(&url).await);
    }
    let addrs: Vec<SocketAddr> = replicas.iter().map(|(_, addr)| *addr).collect();
    let balancer = Balancer::start(&haproxy, &addrs).await;
    balancer.wait_all_up(Duration::from_secs(10)).await;

    let running = Arc::new(AtomicBool::new(true));
    let tally = Arc::new(Tally::default());
    let front = balancer.addr;
    let clients: Vec<_> = (0..16)
        .map(|client| {
            let (running, tally) = (Arc::clone(&running), Arc::clone(&tally));
            tokio::spawn(async move {
                let stream = TcpStream::connect(front).await.unwrap();
                let (mut sender, connection) =
                    hyper::client::conn::http1::handshake(TokioIo::new(stream))
                        .await
                        .unwrap();
                tokio::spawn(connection);
                let mut n = 0u32;
                // Bounded: stops when told, or after 60 s at the latest.
                let started = Instant::now();
                while running.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(60)
                {
                    n += 1;
                    let request = if n.is_multiple_of(2) {
                        let body = format!(r#"{{"email":"c{client}-{n}@example.com"}}"#);
                        http::Request::post("/api/v1/users")
                            .header("host", "test")
                            .header("content-type", "application/json")
                            .body(Full::new(Bytes::from(body)))
                            .unwrap()
                    } else {
                        http::Request::get("/healthz")
                            .header("host", "test")
                            .body(Full::new(Bytes::new()))
                            .unwrap()
                    };
                    let method = request.method().clone();
                    let response = match sender.send_request(request).await {
                        Ok(response) => response,
                        Err(e) => {
                            tally.failed.fetch_add(1, Ordering::Relaxed);
                            tally.failures.lock().await.push(format!("{method}: {e}"));
                            break;
                        }
                    };
                    let status = response.status();
                    let body = response
                        .into_body()
                        .collect()
                        .await
                        .map(http_body_util::Collected::to_bytes);
                    match (status.as_u16(), body) {
                        (200, Ok(_)) => {
                            tally.ok.fetch_add(1, Ordering::Relaxed);
                        }
                        (201, Ok(body)) => {
                            tally.ok.fetch_add(1, Ordering::Relaxed);
                            let user: serde_json::Value = serde_json::from_slice(&body).unwrap();
                            let id = user["id"].as_str().unwrap().parse().unwrap();
                            tally.created.lock().await.push(id);
                        }
                        (status, body) => {
                            tally.failed.fetch_add(1, Ordering::Relaxed);
                            tally
                                .failures
                                .lock()
                                .await
                                .push(format!("{method}: {status} {body:?}"));
                        }
                    }
                }
            })
        })
        .collect();

    // The restarts begin under load, already answered through the balancer.
    tally.wait_for_answers(100).await;
    for (index, slot) in replicas.iter_mut().enumerate() {
        let (process, _) = slot;
        process.terminate();
        let signalled = Instant::now();
        // How long the balancer takes to stop routing to it: the figure
        // SHUTDOWN_DELAY_MS must exceed.
        let out_of_rotation = loop {
            let stat = balancer.admin("show stat").await;
            let down = stat
                .lines()
                .filter(|l| l.starts_with(&format!("replicas,replica{},", index + 1)))
                .any(|l| l.split(',').nth(17).is_some_and(|s| s.starts_with("DOWN")));
            if down {
                break signalled.elapsed();
            }
            assert!(
                signalled.elapsed() < Duration::from_secs(5),
                "never taken out of rotation"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        assert!(
            out_of_rotation < LAME_DUCK,
            "out of rotation only after {out_of_rotation:?}, past the lame-duck delay"
        );
        eprintln!(
            "replica {}: out of rotation {out_of_rotation:?} after SIGTERM",
            index + 1
        );
        let status = process.wait(Duration::from_secs(10)).await;
        assert_eq!(
            status.code(),
            Some(0),
            "replica {} exits cleanly",
            index + 1
        );
        let (fresh, addr) = replica(&url).await;
        *slot = (fresh, addr);
        let answer = balancer
            .admin(&format!(
                "set server replicas/replica{} addr {} port {}",
                index + 1,
                addr.ip(),
                addr.port()
            ))
            .await;
        assert!(!answer.contains("No such"), "{answer}");
        balancer.wait_all_up(Duration::from_secs(10)).await;
    }
    // And the load goes on through the renewed set before it stops.
    let before = tally.ok.load(Ordering::Relaxed);
    tally.wait_for_answers(before + 100).await;
    running.store(false, Ordering::Relaxed);
    for client in clients {
        client.await.unwrap();
    }

    let failures = tally.failures.lock().await.clone();
    let ok = tally.ok.load(Ordering::Relaxed);
    assert!(ok > 500, "the load ran: {ok} answers");
    assert!(
        failures.is_empty(),
        "{} failed of {}: {failures:?}",
        failures.len(),
        ok + failures.len()
    );
    let created = tally.created.lock().await.clone();
    eprintln!(
        "rolling restart: {ok} answers, {} users created, 0 failed",
        created.len()
    );
    let client = connect(&db).await;
    let stored: i64 = client
        .query_one("SELECT count(*) FROM users WHERE id = ANY($1)", &[&created])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        stored,
        i64::try_from(created.len()).unwrap(),
        "every 201 is stored"
    );
    for (mut process, _) in replicas {
        process.terminate();
        process.wait(Duration::from_secs(10)).await;
    }
}
