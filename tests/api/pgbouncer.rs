//! Behind a transaction-mode PgBouncer 1.18 (default startup-parameter
//! handling) with `DATABASE_STATEMENT_CACHE=off`, two service instances
//! share server connections and lose nothing: the CRUD operations and a
//! 32-client mixed load through both give no 5xx, and users that clients
//! only read are all still there, unchanged.
//!
//! With the cache on, the instances' statement names (`s0`, `s1`, …)
//! collide on shared server connections: the ignored test below shows it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use backend::db::migrate::{self, MIGRATIONS};
use futures_util::future::join_all;
use serde_json::{Value, json};
use tokio_postgres::config::{Host, SslMode};

use crate::common::pg::PrivateServer;
use crate::common::{TestApp, connect, spawn_app_on};

/// The pgbouncer binary, or `None` (skipped) where it is not installed.
fn pgbouncer_binary() -> Option<PathBuf> {
    crate::common::tools::installed("pgbouncer")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// A PgBouncer in transaction mode in front of `server`'s Unix socket, on a
/// port of its own; stopped (by its pid) on drop.
struct PgBouncer {
    dir: PathBuf,
    pid: i32,
    port: u16,
}

impl PgBouncer {
    async fn start(bin: &Path, server: &PrivateServer) -> Self {
        let Some(Host::Unix(socket)) = server.admin.get_hosts().first() else {
            panic!("the private server listens on a Unix socket");
        };
        let pg_port = server.admin.get_ports()[0];
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .unwrap()
                .port();
            let dir = std::env::temp_dir().join(format!(
                "backend-pgbouncer-{}",
                uuid::Uuid::new_v4().simple()
            ));
            std::fs::create_dir_all(&dir).unwrap();
            let d = dir.display();
            // deploy/pgbouncer/pgbouncer.ini's pooling settings; trust
            // (the private server's own auth) and a small pool, so the two
            // instances share server connections.
            let ini = format!(
                "[databases]\n* = host={socket} port={pg_port}\n\
                 [pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
                 pool_mode = transaction\nmax_client_conn = 200\ndefault_pool_size = 4\n\
                 query_wait_timeout = 10\nserver_lifetime = 3600\nserver_idle_timeout = 600\n\
                 auth_type = trust\nauth_file = {d}/userlist.txt\n\
                 logfile = {d}/pgbouncer.log\npidfile = {d}/pgbouncer.pid\n",
                socket = socket.display()
            );
            std::fs::write(dir.join("pgbouncer.ini"), ini).unwrap();
            std::fs::write(dir.join("userlist.txt"), "\"postgres\" \"\"\n").unwrap();
            let ini = dir.join("pgbouncer.ini");
            // PgBouncer refuses to run as root, like PostgreSQL.
            let mut command = if is_root() {
                Command::new("chown")
                    .args(["-R", "postgres"])
                    .arg(&dir)
                    .status()
                    .unwrap();
                let mut c = Command::new("runuser");
                c.args(["-u", "postgres", "--"]).arg(bin);
                c
            } else {
                Command::new(bin)
            };
            let started = command.arg("-d").arg(&ini).status().unwrap();
            let deadline = Instant::now() + Duration::from_secs(5);
            while started.success() && Instant::now() < deadline {
                let pid = std::fs::read_to_string(dir.join("pgbouncer.pid"))
                    .ok()
                    .and_then(|p| p.trim().parse().ok());
                let listening = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
                if let (Some(pid), true) = (pid, listening) {
                    return Self { dir, pid, port };
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            // The port was taken meanwhile (or it did not start): again.
            let log = std::fs::read_to_string(dir.join("pgbouncer.log")).unwrap_or_default();
            eprintln!("pgbouncer did not start on {port}, retrying: {log}");
            Self { dir, pid: 0, port }.stop();
        }
        panic!("pgbouncer did not start in 5 attempts");
    }

    /// A config for database `name` through this PgBouncer.
    fn database(&self, name: &str) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        config
            .host("127.0.0.1")
            .port(self.port)
            .user("postgres")
            .dbname(name)
            .ssl_mode(SslMode::Disable);
        config
    }

    fn stop(&self) {
        if self.pid > 0 {
            let _ = Command::new("kill").arg(self.pid.to_string()).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What a load run saw.
#[derive(Debug, Default)]
struct Outcome {
    requests: usize,
    server_errors: usize,
    /// The first few unexpected answers, for the failure message.
    unexpected: Vec<String>,
    /// Seeded users missing or changed at the end.
    lost_or_changed: usize,
}

/// Two instances through one PgBouncer: CRUD, then a 32-client mixed load
/// (3 s or 3,000 requests), then every seeded user checked in the database.
async fn run(statement_cache: bool) -> Option<Outcome> {
    let bin = pgbouncer_binary()?;
    let server = PrivateServer::start();
    let admin = server.client().await;
    admin.batch_execute("CREATE DATABASE app").await.unwrap();
    // The bound DATABASE_STATEMENT_CACHE=off relies on (see db::session).
    admin
        .batch_execute("ALTER ROLE postgres SET statement_timeout = '5s'")
        .await
        .unwrap();
    // Migrations go straight to PostgreSQL: their session lock needs a session.
    let direct = connect(&server.database("app")).await;
    migrate::up(&mut connect(&server.database("app")).await, MIGRATIONS)
        .await
        .unwrap();
    let bouncer = PgBouncer::start(&bin, &server).await;
    let instance = || {
        spawn_app_on(
            bouncer.database("app"),
            |s| {
                s.statement_cache = statement_cache;
                s.migrate_on_start = false;
                s.pool_size = 8;
            },
            |table, _| table,
        )
    };
    let apps = [instance().await, instance().await];
    let mut outcome = Outcome::default();
    crud(&apps, &mut outcome).await;

    let mut seeded = Vec::new();
    for i in 0..40 {
        let response = apps[i % 2]
            .send_json(
                "POST",
                "/api/v1/users",
                &json!({"email": format!("seed{i}@example.com"), "full_name": format!("Seed {i}")}),
            )
            .await;
        assert_eq!(response.status, 201, "seeding: {:?}", response.body);
        seeded.push(response.json());
    }
    load(&apps, &seeded, &mut outcome).await;

    for user in &seeded {
        let id: uuid::Uuid = user["id"].as_str().unwrap().parse().unwrap();
        let row = direct
            .query_opt(
                "SELECT email, full_name, is_active, updated_at = created_at FROM users WHERE id = $1",
                &[&id],
            )
            .await
            .unwrap();
        let intact = row.is_some_and(|r| {
            r.get::<_, String>(0) == user["email"]
                && r.get::<_, Option<String>>(1).as_deref() == user["full_name"].as_str()
                && r.get::<_, bool>(2)
                && r.get::<_, bool>(3)
        });
        if !intact {
            outcome.lost_or_changed += 1;
        }
    }
    Some(outcome)
}

fn note(outcome: &mut Outcome, what: String) {
    if outcome.unexpected.len() < 5 {
        outcome.unexpected.push(what);
    }
}

async fn crud(apps: &[TestApp; 2], outcome: &mut Outcome) {
    let [a, b] = apps;
    let created = a.create_user("crud@example.com").await;
    let path = format!("/api/v1/users/{}", created["id"].as_str().unwrap());
    let steps = [
        (b.get(&path).await, 200),
        (
            b.send_json("PATCH", &path, &json!({"full_name": "Ada"}))
                .await,
            200,
        ),
        (a.get("/api/v1/users?limit=5").await, 200),
        (
            b.send_json(
                "POST",
                "/api/v1/users",
                &json!({"email": "CRUD@example.com"}),
            )
            .await,
            409,
        ),
        (a.request("DELETE", &path).await, 204),
        (b.get(&path).await, 404),
    ];
    for (i, (response, expected)) in steps.iter().enumerate() {
        outcome.requests += 1;
        if response.status.is_server_error() {
            outcome.server_errors += 1;
        }
        if response.status != *expected {
            note(
                outcome,
                format!("crud step {i}: {} {:?}", response.status, response.body),
            );
        }
    }
}

async fn load(apps: &[TestApp; 2], seeded: &[Value], outcome: &mut Outcome) {
    let deadline = Instant::now() + Duration::from_secs(3);
    let counter = AtomicUsize::new(0);
    let shared = Mutex::new(std::mem::take(outcome));
    join_all((0..32).map(|_| async {
        loop {
            let n = counter.fetch_add(1, Ordering::Relaxed);
            if n >= 3000 || Instant::now() >= deadline {
                break;
            }
            let app = &apps[n % 2];
            let seed = &seeded[(n / 2) % seeded.len()];
            let (status, ok) = match n % 10 {
                0..=5 => {
                    let r = app
                        .get(&format!("/api/v1/users/{}", seed["id"].as_str().unwrap()))
                        .await;
                    (r.status, r.status == 200 && r.json() == *seed)
                }
                6 => {
                    let r = app.get("/api/v1/users?limit=10").await;
                    (r.status, r.status == 200)
                }
                7 | 8 => {
                    let body = json!({"email": format!("load{n}@example.com")});
                    let r = app.send_json("POST", "/api/v1/users", &body).await;
                    if r.status == 201 {
                        let path = format!("/api/v1/users/{}", r.json()["id"].as_str().unwrap());
                        let r = if n % 10 == 7 {
                            app.request("DELETE", &path).await
                        } else {
                            app.send_json("PATCH", &path, &json!({"is_active": false}))
                                .await
                        };
                        (r.status, r.status.is_success())
                    } else {
                        (r.status, false)
                    }
                }
                _ => {
                    let r = app
                        .get(&format!("/api/v1/users/{}", uuid::Uuid::now_v7()))
                        .await;
                    (r.status, r.status == 404)
                }
            };
            let mut o = shared.lock().unwrap();
            o.requests += 1;
            if status.is_server_error() {
                o.server_errors += 1;
            }
            if !ok {
                note(&mut o, format!("request {n} (kind {}): {status}", n % 10));
            }
        }
    }))
    .await;
    *outcome = shared.into_inner().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_through_a_transaction_pooler_lose_nothing() {
    let Some(outcome) = run(false).await else {
        return;
    };
    eprintln!("statement cache off through PgBouncer 1.18: {outcome:?}");
    assert!(
        outcome.requests > 300,
        "too little load to mean anything: {outcome:?}"
    );
    assert_eq!(outcome.server_errors, 0, "{outcome:?}");
    assert!(outcome.unexpected.is_empty(), "{outcome:?}");
    assert_eq!(outcome.lost_or_changed, 0, "{outcome:?}");
}

/// The defect `DATABASE_STATEMENT_CACHE=off` exists for: with named
/// statements the two instances run each other's statements. Flaky by
/// nature (it depends on which server connection each transaction gets),
/// so not part of the suite: `cargo test -- --ignored pgbouncer`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "demonstrates the defect; its failures depend on scheduling"]
async fn named_statements_through_a_transaction_pooler_collide() {
    let Some(outcome) = run(true).await else {
        return;
    };
    eprintln!("statement cache on through PgBouncer 1.18: {outcome:#?}");
    assert!(
        outcome.server_errors + outcome.unexpected.len() + outcome.lost_or_changed > 0,
        "{outcome:?}"
    );
}
