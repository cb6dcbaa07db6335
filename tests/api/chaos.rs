//! Database faults: outages, restarts, an exhausted pool, cancelled
//! statements and connections dropped mid-write. Each request gets a correct
//! answer or a fast, honest 503/504; nothing acknowledged is lost; the
//! service recovers by itself.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::client::send;
use crate::common::locks::wait_for_lock_waiters;
use crate::common::pg::PrivateServer;
use crate::common::{TestApp, TestResponse, spawn_app_on, spawn_app_with};

const MS: fn(u64) -> Duration = Duration::from_millis;

/// One observed request: when it started, how long it took, what it got.
struct Observation {
    started: Instant,
    took: Duration,
    status: u16,
    code: Option<String>,
    retry_after: bool,
}

fn observe(started: Instant, response: &TestResponse) -> Observation {
    let code = serde_json::from_slice::<serde_json::Value>(&response.body)
        .ok()
        .and_then(|b| b["code"].as_str().map(str::to_owned));
    Observation {
        started,
        took: started.elapsed(),
        status: response.status.as_u16(),
        code,
        retry_after: response.headers.contains_key("retry-after"),
    }
}

/// The app's wait for a pooled connection in these tests.
const POOL_TIMEOUT: Duration = Duration::from_millis(500);

/// The app's allowance for a new connection in these tests.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// The longest a request may take while the database is away: a wait for
/// the pool, then a connect, twice over for a loaded two-core machine.
const WORST_REQUEST: Duration = POOL_TIMEOUT
    .saturating_add(CONNECT_TIMEOUT)
    .saturating_mul(2);

/// How soon after the server is back (pg_ctl start has waited for it to
/// accept connections) every request must succeed again: within the time
/// of the worst request.
const RECOVERY: Duration = WORST_REQUEST;

/// How many answers a phase of the outage test waits for, so a slow
/// machine cannot pass it with a handful of requests.
const ENOUGH: usize = 20;

/// How long a phase may take to get [`ENOUGH`] answers before the test
/// gives up: far more than it takes even on a loaded machine.
const PHASE_LIMIT: Duration = Duration::from_secs(30);

async fn app_on_private_server(server: &PrivateServer) -> TestApp {
    server
        .client()
        .await
        .batch_execute("CREATE DATABASE app")
        .await
        .unwrap();
    spawn_app_on(
        server.database("app"),
        |s| {
            s.pool_size = 4;
            s.pool_timeout = POOL_TIMEOUT;
            s.connect_timeout = CONNECT_TIMEOUT;
        },
        |t, _| t,
    )
    .await
}

/// Every answer the outage test's clients have had so far, shared so that a
/// phase waits for the answers it needs rather than for a set time.
type Log = Arc<Mutex<Vec<Observation>>>;

/// Waits until `enough` holds of the answers logged so far, checking every
/// 10 ms; fails the test saying `what` if it does not within `limit`.
async fn wait_for(log: &Log, limit: Duration, what: &str, enough: impl Fn(&[Observation]) -> bool) {
    let deadline = Instant::now() + limit;
    loop {
        let (done, count) = {
            let all = log.lock().unwrap();
            (enough(&all), all.len())
        };
        if done {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: not within {limit:?} ({count} answers in all)"
        );
        tokio::time::sleep(MS(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_under_load_gets_fast_503s_and_recovers_by_itself() {
    let Some(server) = PrivateServer::start_or_skip("an_outage_under_load").await else {
        return;
    };
    let server = Arc::new(server);
    let app = app_on_private_server(&server).await;
    let user = app.create_user("steady@example.com").await;
    let path = format!("/api/v1/users/{}", user["id"].as_str().unwrap());

    let running = Arc::new(AtomicBool::new(true));
    let log = Log::default();
    let mut workers = Vec::new();
    for _ in 0..4 {
        let (running, log, path, addr) = (
            Arc::clone(&running),
            Arc::clone(&log),
            path.clone(),
            app.addr,
        );
        workers.push(tokio::spawn(async move {
            while running.load(Ordering::Relaxed) {
                let started = Instant::now();
                let response = send(addr, "GET", &path, &[], None).await;
                log.lock().unwrap().push(observe(started, &response));
                tokio::time::sleep(MS(10)).await;
            }
        }));
    }
    wait_for(&log, PHASE_LIMIT, "traffic before the outage", |all| {
        all.iter().filter(|o| o.status == 200).count() >= ENOUGH
    })
    .await;
    server.stop_async().await;
    let stopped = Instant::now();
    // Readiness checks the database on each call: it turns 503 once the
    // app has found the database gone.
    let ready = loop {
        let ready = app.get("/readyz").await;
        if ready.status == 503 {
            break ready;
        }
        assert!(
            stopped.elapsed() < WORST_REQUEST,
            "readiness still {} {:?} {:?} after the stop",
            ready.status,
            ready.body,
            stopped.elapsed()
        );
        tokio::time::sleep(MS(10)).await;
    };
    assert_eq!(ready.json()["checks"]["database"], "unreachable");
    assert_eq!(app.get("/healthz").await.status, 200, "liveness does not");
    // The outage outlasts the worst request, so every request caught by it
    // (in flight at the stop, or waiting for the pool) is answered during
    // it, not rescued by the restart; and it lasts until enough requests
    // were refused.
    tokio::time::sleep_until((stopped + WORST_REQUEST).into()).await;
    wait_for(
        &log,
        PHASE_LIMIT,
        "requests refused during the outage",
        |all| all.iter().filter(|o| o.status != 200).count() >= ENOUGH,
    )
    .await;
    server.restart_async().await;
    let restarted = Instant::now();
    wait_for(
        &log,
        RECOVERY + PHASE_LIMIT,
        "answers to requests sent after the recovery time",
        |all| {
            all.iter()
                .filter(|o| o.started > restarted + RECOVERY)
                .count()
                >= ENOUGH
        },
    )
    .await;
    running.store(false, Ordering::Relaxed);
    for worker in workers {
        worker.await.unwrap();
    }
    let all = std::mem::take(&mut *log.lock().unwrap());

    for o in &all {
        if o.status != 200 {
            assert_eq!(o.status, 503, "never a 500: {:?}", o.code);
            assert_eq!(o.code.as_deref(), Some("service_unavailable"));
            assert!(o.retry_after, "503s say when to retry");
        }
        assert!(o.took < WORST_REQUEST, "no request hangs: {:?}", o.took);
    }
    let recovered: Vec<_> = all
        .iter()
        .filter(|o| o.started > restarted + RECOVERY)
        .collect();
    assert!(
        recovered.iter().all(|o| o.status == 200),
        "recovered within {RECOVERY:?} of the restart"
    );
    assert_eq!(app.get("/readyz").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_requests_after_a_restart_succeed() {
    let Some(server) = PrivateServer::start_or_skip("the_first_requests_after_a_restart").await
    else {
        return;
    };
    let server = Arc::new(server);
    let app = app_on_private_server(&server).await;
    let user = app.create_user("restart@example.com").await;
    let path = format!("/api/v1/users/{}", user["id"].as_str().unwrap());
    // Fill the pool with idle connections: concurrent requests each need one.
    let warm: Vec<_> = (0..4)
        .map(|_| {
            let (addr, path) = (app.addr, path.clone());
            tokio::spawn(async move { send(addr, "GET", &path, &[], None).await })
        })
        .collect();
    for response in warm {
        assert_eq!(response.await.unwrap().status, 200);
    }
    assert!(app.state.pool.status().size >= 2);
    server.stop_async().await;
    server.restart_async().await;
    for i in 0..8 {
        let response = app.get(&path).await;
        assert_eq!(
            response.status, 200,
            "request {i} after the restart: {:?}",
            response.body
        );
    }
    let created = app
        .send_json(
            "POST",
            "/api/v1/users",
            &json!({"email": "after@example.com"}),
        )
        .await;
    assert_eq!(created.status, 201);
}

/// Holds `LOCK TABLE users` in an open transaction until dropped (rolled back).
async fn lock_users(app: &TestApp, mode: &str) -> tokio_postgres::Client {
    let client = app.db_client().await;
    client
        .batch_execute(&format!("BEGIN; LOCK TABLE users IN {mode} MODE"))
        .await
        .unwrap();
    client
}

#[tokio::test]
async fn an_exhausted_pool_answers_503_after_the_wait_timeout() {
    let app = spawn_app_with(
        |s| {
            s.pool_size = 2;
            s.pool_timeout = MS(300);
        },
        |t, _| t,
    )
    .await;
    let lock = lock_users(&app, "ACCESS EXCLUSIVE").await;
    let blocked: Vec<_> = (0..2)
        .map(|_| {
            let addr = app.addr;
            tokio::spawn(async move { send(addr, "GET", "/api/v1/users", &[], None).await })
        })
        .collect();
    wait_for_lock_waiters(&app.db, 2).await;
    let started = Instant::now();
    let shed = app.get("/api/v1/users").await;
    let took = started.elapsed();
    shed.assert_problem(503, "service_unavailable");
    assert_eq!(shed.header("retry-after"), "1");
    assert!(
        took >= MS(250) && took < MS(1000),
        "answered after the wait timeout: {took:?}"
    );
    let started = Instant::now();
    assert_eq!(app.get("/healthz").await.status, 200);
    assert!(started.elapsed() < MS(200), "liveness stays responsive");
    lock.batch_execute("ROLLBACK").await.unwrap();
    for request in blocked {
        assert_eq!(
            request.await.unwrap().status,
            200,
            "the waiters complete once the lock is gone"
        );
    }
}

#[tokio::test]
async fn a_statement_past_the_statement_timeout_is_cancelled_and_answered_504() {
    let app = spawn_app_with(|s| s.statement_timeout = MS(300), |t, _| t).await;
    let lock = lock_users(&app, "ACCESS EXCLUSIVE").await;
    let started = Instant::now();
    let response = app.get("/api/v1/users").await;
    let took = started.elapsed();
    response.assert_problem(504, "timeout");
    assert!(took >= MS(250) && took < MS(2000), "{took:?}");
    let active: i64 = lock
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'backend' \
             AND datname = current_database() AND state = 'active'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(active, 0, "the database cancelled the statement itself");
    lock.batch_execute("ROLLBACK").await.unwrap();
    assert_eq!(
        app.get("/api/v1/users").await.status,
        200,
        "the connection is usable again"
    );
}

#[tokio::test]
async fn a_connection_dropped_mid_write_writes_nothing_and_says_so() {
    let app = spawn_app_with(|_| {}, |t, _| t).await;
    let lock = lock_users(&app, "SHARE ROW EXCLUSIVE").await;
    let addr = app.addr;
    let body = serde_json::to_vec(&json!({"email": "dropped@example.com"})).unwrap();
    let write = tokio::spawn(async move {
        send(
            addr,
            "POST",
            "/api/v1/users",
            &[("content-type", "application/json")],
            Some(&body),
        )
        .await
    });
    wait_for_lock_waiters(&app.db, 1).await;
    let killed: i64 = lock
        .query_one(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name = 'backend' AND datname = current_database() \
             AND wait_event_type = 'Lock') t",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(killed, 1);
    lock.batch_execute("ROLLBACK").await.unwrap();
    let response = write.await.unwrap();
    response.assert_problem(503, "service_unavailable");
    assert_eq!(app.user_count().await, 0, "a 503 wrote nothing");
    let retried = app
        .send_json(
            "POST",
            "/api/v1/users",
            &json!({"email": "dropped@example.com"}),
        )
        .await;
    assert_eq!(
        retried.status, 201,
        "the retry succeeds on a fresh connection"
    );
}

/// The most rounds of writes the connection-kill test makes while waiting
/// for both outcomes.
const KILL_ROUNDS: usize = 10;

#[tokio::test]
async fn under_repeated_connection_kills_every_201_is_a_stored_row() {
    let app = spawn_app_with(|_| {}, |t, _| t).await;
    let admin = app.db_client().await;
    let running = Arc::new(AtomicBool::new(true));
    let kills = Arc::new(AtomicUsize::new(0));
    let killer = {
        let (running, kills) = (Arc::clone(&running), Arc::clone(&kills));
        tokio::spawn(async move {
            while running.load(Ordering::Relaxed) {
                let killed = admin
                    .query_one(
                        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) AS killed \
                         FROM pg_stat_activity WHERE application_name = 'backend' \
                         AND datname = current_database() AND pid <> pg_backend_pid()) t \
                         WHERE killed",
                        &[],
                    )
                    .await
                    .map_or(0, |row| row.get::<_, i64>(0));
                kills.fetch_add(usize::try_from(killed).unwrap(), Ordering::Relaxed);
                // Often enough that writes die mid-way, seldom enough that
                // a new connection (SCRAM on a password-checking server, the
                // statement timeout, then the write and its outbox row) can
                // also finish some.
                tokio::time::sleep(MS(40)).await;
            }
        })
    };
    // Rounds of 60 writes, each round spread over 300 ms (several kills),
    // until some were acknowledged and some refused: both halves of the rule
    // below are then checked, however fast or slow the machine.
    let mut outcomes = Vec::new();
    for round in 0..KILL_ROUNDS {
        let writes: Vec<_> = (0..60)
            .map(|i| {
                let addr = app.addr;
                tokio::spawn(async move {
                    tokio::time::sleep(MS(i * 5)).await;
                    let email = format!("kill{round}-{i}@example.com");
                    let body = serde_json::to_vec(&json!({ "email": email })).unwrap();
                    let response = send(
                        addr,
                        "POST",
                        "/api/v1/users",
                        &[("content-type", "application/json")],
                        Some(&body),
                    )
                    .await;
                    (email, response.status.as_u16())
                })
            })
            .collect();
        for w in writes {
            outcomes.push(w.await.unwrap());
        }
        let seen = |status| outcomes.iter().any(|(_, s)| *s == status);
        if seen(201) && seen(503) {
            break;
        }
    }
    running.store(false, Ordering::Relaxed);
    killer.await.unwrap();
    let db = app.db_client().await;
    for (email, status) in &outcomes {
        assert!(matches!(status, 201 | 503), "{email}: {status}");
        let stored: i64 = db
            .query_one("SELECT count(*) FROM users WHERE email = $1", &[email])
            .await
            .unwrap()
            .get(0);
        if *status == 201 {
            assert_eq!(stored, 1, "{email} was acknowledged, so it is stored");
        } else {
            assert_eq!(stored, 0, "{email} was refused, so it is not stored");
        }
    }
    let count = |status| outcomes.iter().filter(|(_, s)| *s == status).count();
    let (acknowledged, refused) = (count(201), count(503));
    let kills = kills.load(Ordering::Relaxed);
    assert!(
        acknowledged > 0 && refused > 0 && kills > 0,
        "both outcomes in {} writes: {acknowledged} acknowledged, {refused} refused, \
         {kills} connections killed",
        outcomes.len()
    );
}
