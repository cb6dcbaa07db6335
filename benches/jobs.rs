//! Background jobs: webhook deliveries per second to a local receiver with
//! one and with four workers, on each broker (`postgres`, and `redis` on a
//! `redis-server` of the bench's own), and what fanning a user write out to
//! ten subscriptions adds to it (the same create with none).
//!
//! Needs PostgreSQL: `make bench` provides one; with `cargo bench` alone set
//! TEST_DATABASE_URL (an admin URL; a fresh database is created). Without
//! one, the bench says so and is skipped; without `redis-server`, so are
//! the Redis rows.
//!
//! `make bench` or `TEST_DATABASE_URL=... cargo bench --bench jobs`

use std::convert::Infallible;
use std::hint::black_box;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use backend::config::{JobsBroker, RedisUrl};
use backend::state::AppState;
use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use tokio_postgres::types::Type;
use tower::ServiceExt;

mod common;

/// Deliveries enqueued (in one transaction) per measured round.
const ROUND: u64 = 200;

/// One round's jobs and deliveries for subscription `$2`, with the
/// notification the outbox sends.
const ENQUEUE: &str = "WITH ids AS (SELECT uuid_v7() AS id FROM generate_series(1, $1)), \
     queued AS (INSERT INTO jobs (id, kind) SELECT id, 'webhook.delivery' FROM ids) \
     INSERT INTO webhook_deliveries (id, webhook_id, event_type, body) \
     SELECT id, $2, 'user.created', '{}' FROM ids RETURNING pg_notify('backend_jobs', '')";

const PENDING: &str = "SELECT count(*) FROM jobs WHERE state = 'pending'";

/// A receiver on loopback that answers every request `204` at once.
async fn receiver() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|_req| async {
                    let mut response = http::Response::new(Full::new(Bytes::new()));
                    *response.status_mut() = http::StatusCode::NO_CONTENT;
                    Ok::<_, Infallible>(response)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    format!("http://{addr}/hook")
}

/// A `redis-server` on a Unix socket of its own; killed on drop.
struct Redis {
    child: Child,
    dir: std::path::PathBuf,
}

impl Redis {
    async fn start() -> Option<Self> {
        let dir =
            std::env::temp_dir().join(format!("backend-bench-redis-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).ok()?;
        let mut child = Command::new("redis-server")
            .args(["--port", "0", "--unixsocket"])
            .arg(dir.join("redis.sock"))
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while !dir.join("redis.sock").exists() {
            if Instant::now() > deadline {
                let _ = child.kill();
                return None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Some(Self { child, dir })
    }

    fn url(&self) -> RedisUrl {
        RedisUrl::parse(&format!(
            "redis+unix://{}",
            self.dir.join("redis.sock").display()
        ))
        .unwrap()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `POST body` to `path` through the whole app of `state`, in-process.
async fn post(state: &AppState, path: &str, body: String) -> http::Response<Bytes> {
    let app = backend::app::app::<Full<Bytes>>(state, backend::app::routes(state));
    send(app, path, body).await
}

/// `POST body` to `path` through `app`.
async fn send<A>(app: A, path: &str, body: String) -> http::Response<Bytes>
where
    A: tower::Service<
            http::Request<Full<Bytes>>,
            Response = backend::http::Response,
            Error = Infallible,
        >,
{
    let request = http::Request::post(path)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = http_body_util::BodyExt::collect(body)
        .await
        .unwrap()
        .to_bytes();
    http::Response::from_parts(parts, body)
}

async fn subscribe(state: &AppState, url: &str) -> uuid::Uuid {
    let body = format!(r#"{{"url":"{url}","events":["user.created"]}}"#);
    let response = post(state, "/api/v1/webhooks", body).await;
    assert_eq!(response.status(), 201);
    let json: serde_json::Value = serde_json::from_slice(response.body()).unwrap();
    json["id"].as_str().unwrap().parse().unwrap()
}

fn jobs(c: &mut Criterion) {
    let Some((runtime, state)) = common::database_state("jobs") else {
        return;
    };
    let client = runtime.block_on(async {
        let db = state.pool.db().await.unwrap();
        db.execute("DELETE FROM users", &[]).await.unwrap();
        state.pool.clone()
    });
    let mut group = c.benchmark_group("jobs");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(4));

    // A user write, with and without ten subscriptions to fan out to.
    let counter = AtomicU64::new(0);
    let app = backend::app::app::<Full<Bytes>>(&state, backend::app::routes(&state));
    let create = |b: &mut criterion::Bencher<'_>| {
        b.to_async(&runtime).iter(|| async {
            let n = counter.fetch_add(1, Ordering::Relaxed);
            let body = format!(r#"{{"email":"bench{n}@example.com"}}"#);
            black_box(send(app.clone(), "/api/v1/users", body).await.status())
        });
    };
    group.bench_function("user_create_0_subscriptions", create);
    runtime.block_on(async {
        for i in 0..10 {
            subscribe(&state, &format!("http://127.0.0.1:9/unused{i}")).await;
        }
    });
    group.bench_function("user_create_10_subscriptions", create);

    let url = runtime.block_on(async {
        let db = client.db().await.unwrap();
        db.execute("DELETE FROM webhooks", &[]).await.unwrap();
        db.execute("DELETE FROM jobs", &[]).await.unwrap();
        receiver().await
    });
    let hook = runtime.block_on(subscribe(&state, &url));
    let redis = runtime.block_on(Redis::start());
    if redis.is_none() {
        eprintln!("jobs bench: redis-server not found; the Redis rows are skipped");
    }
    let brokers = [
        ("postgres", Some(JobsBroker::Postgres)),
        (
            "redis",
            redis.as_ref().map(|r| JobsBroker::Redis {
                url: r.url(),
                ca: None,
            }),
        ),
    ];
    group.throughput(Throughput::Elements(ROUND));
    for (name, broker) in brokers {
        let Some(broker) = broker else { continue };
        let mut settings = state.settings.clone();
        settings.jobs.broker = broker;
        let on_broker = AppState::new(settings).unwrap();
        for workers in [1, 4] {
            let (stop, stopped) = tokio::sync::watch::channel(false);
            let running: Vec<_> = runtime.block_on(async {
                (0..workers)
                    .map(|_| {
                        let worker = backend::app::worker(&on_broker, stopped.clone()).unwrap();
                        tokio::spawn(worker.run(stopped.clone()))
                    })
                    .collect()
            });
            group.bench_function(format!("deliveries_{name}_{workers}_workers"), |b| {
                b.to_async(&runtime).iter_custom(|rounds| {
                    let pool = client.clone();
                    async move {
                        let db = pool.db().await.unwrap();
                        let mut total = Duration::ZERO;
                        for _ in 0..rounds {
                            let n = i32::try_from(ROUND).unwrap();
                            let started = Instant::now();
                            db.execute(ENQUEUE, &[(&n, Type::INT4), (&hook, Type::UUID)])
                                .await
                                .unwrap();
                            loop {
                                let row = db.query_one(PENDING, &[]).await.unwrap();
                                if row.get::<_, i64>(0) == 0 {
                                    break;
                                }
                                tokio::time::sleep(Duration::from_millis(1)).await;
                            }
                            total += started.elapsed();
                        }
                        total
                    }
                });
            });
            let _ = stop.send(true);
            runtime.block_on(async {
                for worker in running {
                    worker.await.unwrap();
                }
            });
        }
    }
    group.finish();
}

criterion_group!(benches, jobs);
criterion_main!(benches);
