//! The job runner under faults, with the real binary: a process killed
//! (SIGKILL) between the commit and the delivery loses no event; a worker
//! killed mid-delivery is replaced once its lease has passed; four workers
//! on one queue never run one delivery twice at once; a live worker keeps
//! its lease however long a delivery takes. Each test runs once per broker
//! (`JOBS_BROKER=postgres` and `redis`).

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::common::binary::{Process, command};
use crate::common::broker::{Broker, Mode, in_both_modes};
use crate::common::redis::RedisServer;
use crate::common::{TestApp, client, fresh_database, spawn_app_with};
use crate::lifecycle::database_url;
use crate::webhooks_receiver::{Receiver, settled, start_worker, subscribe};

in_both_modes!(
    an_event_committed_before_a_kill_is_delivered_after_restart,
    a_worker_killed_mid_delivery_is_replaced_after_its_lease,
    four_workers_never_run_one_delivery_at_the_same_time,
    a_delivery_that_outlasts_its_lease_keeps_it_by_heartbeats,
    sigterm_releases_a_running_delivery_within_the_shutdown_timeout,
    serve_alone_delivers_in_dev,
);

/// The settings every process here runs with (prod, so nothing is on by
/// default; no authentication; its own schema set up; `broker`'s
/// settings).
fn env<'a>(
    url: &'a str,
    broker: &'a [(&'static str, String)],
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut all = vec![
        ("DATABASE_URL", url),
        ("APP_ENV", "prod"),
        ("AUTH_MODE", "none"),
        ("MIGRATE_ON_START", "true"),
        ("SHUTDOWN_DELAY_MS", "0"),
        ("WEBHOOK_ALLOW_PRIVATE_NETWORKS", "true"),
    ];
    all.extend(broker.iter().map(|(k, v)| (*k, v.as_str())));
    all.extend_from_slice(extra);
    all
}

/// An in-process app on `broker` (for subscribing and in-process workers).
async fn app_on(
    broker: &Broker,
    configure: impl FnOnce(&mut backend::config::Settings),
) -> TestApp {
    spawn_app_with(
        |s| {
            broker.configure(s);
            configure(s);
        },
        |t, _| t,
    )
    .await
}

/// Starts `backend worker`; returns it and its probes' address.
async fn worker_process(env: &[(&str, &str)]) -> (Process, std::net::SocketAddr) {
    let mut all = vec![("PORT", "0"), ("LOG_FORMAT", "json")];
    all.extend_from_slice(env);
    let mut child = command(&["worker"], &all)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn backend worker");
    let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut process = Process {
        child,
        stdout,
        seen: Vec::new(),
    };
    let line = process
        .wait_for_line(|l| l.contains("\"listening\""), Duration::from_secs(20))
        .await
        .unwrap_or_else(|| panic!("no listening line; stdout: {:?}", process.seen));
    let json: serde_json::Value = serde_json::from_str(&line).unwrap();
    (process, json["address"].as_str().unwrap().parse().unwrap())
}

async fn post(
    addr: std::net::SocketAddr,
    path: &str,
    body: &serde_json::Value,
) -> serde_json::Value {
    let bytes = serde_json::to_vec(body).unwrap();
    let response = client::send(
        addr,
        "POST",
        path,
        &[("content-type", "application/json")],
        Some(&bytes),
    )
    .await;
    assert_eq!(response.status, 201, "{:?}", response.body);
    response.json()
}

async fn an_event_committed_before_a_kill_is_delivered_after_restart(mode: Mode) {
    let Some(broker) = Broker::start(mode).await else {
        return;
    };
    let broker_env = broker.env();
    let db = fresh_database().await;
    let url = database_url(&db);
    let receiver = Receiver::start().await;
    let (mut api, addr) =
        Process::serve(&env(&url, &broker_env, &[("WORKER_IN_PROCESS", "false")])).await;
    post(
        addr,
        "/api/v1/webhooks",
        &json!({"url": receiver.url(), "events": ["user.created"]}),
    )
    .await;
    let user = post(
        addr,
        "/api/v1/users",
        &json!({"email": "crash@example.com"}),
    )
    .await;
    api.child.start_kill().unwrap();
    api.child.wait().await.unwrap();
    assert!(receiver.received().is_empty());

    let (mut worker, probes) = worker_process(&env(&url, &broker_env, &[])).await;
    let requests = receiver.wait_for(1, Duration::from_secs(10)).await;
    let body: serde_json::Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(body["data"], user);
    // The worker serves its probes and nothing else.
    let ready = client::send(probes, "GET", "/readyz", &[], None).await;
    assert_eq!(ready.status, 200, "{:?}", ready.body);
    assert_eq!(
        ready.json(),
        json!({"status": "ready", "checks": {"database": "ok", "broker": "ok"}})
    );
    assert_eq!(
        client::send(probes, "GET", "/api/v1/users", &[], None)
            .await
            .status,
        404
    );
    worker.terminate();
    assert!(worker.wait(Duration::from_secs(10)).await.success());
}

async fn a_worker_killed_mid_delivery_is_replaced_after_its_lease(mode: Mode) {
    let Some(broker) = Broker::start(mode).await else {
        return;
    };
    let app = app_on(&broker, |_| {}).await;
    let broker_env = broker.env();
    let url = database_url(&app.db);
    let receiver = Receiver::start().await;
    receiver.respond(200, Duration::from_secs(60));
    let hook = subscribe(&app, &receiver.url(), &["user.created"]).await;
    let settings = [("WORKER_LEASE_MS", "1000"), ("WEBHOOK_TIMEOUT_MS", "30000")];
    let (mut first, _) = worker_process(&env(&url, &broker_env, &settings)).await;
    app.create_user("lease@example.com").await;
    let seen = receiver.wait_for(1, Duration::from_secs(10)).await;
    first.child.start_kill().unwrap();
    first.child.wait().await.unwrap();
    let killed_at = Instant::now();
    receiver.respond(200, Duration::ZERO);

    let (mut second, _) = worker_process(&env(&url, &broker_env, &settings)).await;
    let all = receiver.wait_for(2, Duration::from_secs(10)).await;
    assert_eq!(all[1].header("webhook-id"), seen[0].header("webhook-id"));
    assert!(
        all[1].at - seen[0].at >= Duration::from_millis(900),
        "not before the lease expired"
    );
    assert!(killed_at.elapsed() < Duration::from_secs(5));
    let log = settled(&app, hook["id"].as_str().unwrap(), Duration::from_secs(5)).await;
    assert_eq!(log[0]["status"], "succeeded");
    assert_eq!(log[0]["attempts"], 2);
    second.terminate();
    assert!(second.wait(Duration::from_secs(10)).await.success());
}

async fn four_workers_never_run_one_delivery_at_the_same_time(mode: Mode) {
    let Some(broker) = Broker::start(mode).await else {
        return;
    };
    let app = app_on(&broker, |s| s.jobs.concurrency = 4).await;
    let receiver = Receiver::start().await;
    receiver.respond(200, Duration::from_millis(50));
    let hook = subscribe(&app, &receiver.url(), &["user.created"]).await;
    let workers: Vec<_> = (0..4).map(|_| start_worker(&app)).collect();
    for i in 0..24 {
        app.create_user(&format!("w{i}@example.com")).await;
    }
    let log = settled(&app, hook["id"].as_str().unwrap(), Duration::from_secs(20)).await;
    assert_eq!(log.len(), 24);
    assert!(
        log.iter()
            .all(|d| d["status"] == "succeeded" && d["attempts"] == 1)
    );
    let requests = receiver.received();
    let mut ids: Vec<&str> = requests.iter().map(|r| r.header("webhook-id")).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(
        (requests.len(), ids.len()),
        (24, 24),
        "each delivery sent once"
    );
    assert_eq!(receiver.max_in_flight_per_id(), 1);
    drop(workers);
}

async fn a_delivery_that_outlasts_its_lease_keeps_it_by_heartbeats(mode: Mode) {
    let Some(broker) = Broker::start(mode).await else {
        return;
    };
    // The receiver takes three leases to answer; the worker renews its
    // lease every third of one, so the other worker never gets the job.
    let app = app_on(&broker, |s| {
        s.jobs.lease = Duration::from_secs(1);
        s.jobs.webhook_timeout = Duration::from_secs(30);
    })
    .await;
    let receiver = Receiver::start().await;
    receiver.respond(200, Duration::from_secs(3));
    let hook = subscribe(&app, &receiver.url(), &["user.created"]).await;
    let workers: Vec<_> = (0..2).map(|_| start_worker(&app)).collect();
    app.create_user("slow@example.com").await;
    let log = settled(&app, hook["id"].as_str().unwrap(), Duration::from_secs(20)).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["status"], "succeeded");
    assert_eq!(log[0]["attempts"], 1, "taken over while it ran: {log:?}");
    assert_eq!(receiver.received().len(), 1, "sent once");
    drop(workers);
}

async fn sigterm_releases_a_running_delivery_within_the_shutdown_timeout(mode: Mode) {
    let Some(broker) = Broker::start(mode).await else {
        return;
    };
    let app = app_on(&broker, |_| {}).await;
    let broker_env = broker.env();
    let url = database_url(&app.db);
    let receiver = Receiver::start().await;
    receiver.respond(200, Duration::from_secs(60));
    let hook = subscribe(&app, &receiver.url(), &["user.created"]).await;
    let settings = [
        ("WORKER_LEASE_MS", "30000"),
        ("WEBHOOK_TIMEOUT_MS", "30000"),
        ("SHUTDOWN_TIMEOUT_MS", "1000"),
    ];
    let (mut first, _) = worker_process(&env(&url, &broker_env, &settings)).await;
    app.create_user("sigterm@example.com").await;
    receiver.wait_for(1, Duration::from_secs(10)).await;
    let stopping = Instant::now();
    first.terminate();
    assert!(first.wait(Duration::from_secs(10)).await.success());
    assert!(
        stopping.elapsed() < Duration::from_secs(4),
        "{:?}",
        stopping.elapsed()
    );
    let row = app
        .db_client()
        .await
        .query_one("SELECT state, locked_by FROM jobs", &[])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "pending");
    assert_eq!(
        row.get::<_, Option<String>>(1),
        None,
        "the lease was released"
    );

    // Released, not abandoned: the next worker runs it at once, long
    // before the 30 s lease would have expired.
    receiver.respond(200, Duration::ZERO);
    let (mut second, _) = worker_process(&env(&url, &broker_env, &settings)).await;
    receiver.wait_for(2, Duration::from_secs(5)).await;
    let log = settled(&app, hook["id"].as_str().unwrap(), Duration::from_secs(5)).await;
    assert_eq!(log[0]["status"], "succeeded");
    second.terminate();
    assert!(second.wait(Duration::from_secs(10)).await.success());
}

async fn serve_alone_delivers_in_dev(mode: Mode) {
    let Some(broker) = Broker::start(mode).await else {
        return;
    };
    let db = fresh_database().await;
    let url = database_url(&db);
    let receiver = Receiver::start().await;
    // Dev defaults: migrations on start, the worker in the process.
    let mut all = vec![("DATABASE_URL", url.as_str())];
    let broker_env = broker.env();
    all.extend(broker_env.iter().map(|(k, v)| (*k, v.as_str())));
    let (mut api, addr) = Process::serve(&all).await;
    post(
        addr,
        "/api/v1/webhooks",
        &json!({"url": receiver.url(), "events": ["user.created"]}),
    )
    .await;
    let user = post(addr, "/api/v1/users", &json!({"email": "dev@example.com"})).await;
    let requests = receiver.wait_for(1, Duration::from_secs(10)).await;
    let body: serde_json::Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(body["data"], user);
    api.terminate();
    assert!(api.wait(Duration::from_secs(15)).await.success());
}

#[tokio::test]
async fn a_workers_readiness_reports_its_redis() {
    let Some(mut broker) = Broker::start(Mode::Redis).await else {
        return;
    };
    let db = fresh_database().await;
    let url = database_url(&db);
    let broker_env = broker.env();
    let (mut worker, probes) = worker_process(&env(&url, &broker_env, &[])).await;
    let redis = broker.redis.as_mut().unwrap();
    redis.kill();
    let down = client::send(probes, "GET", "/readyz", &[], None).await;
    assert_eq!(down.status, 503, "{:?}", down.body);
    assert_eq!(down.json()["checks"]["database"], "ok");
    assert_eq!(down.json()["checks"]["broker"], "unreachable");
    redis.restart().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ready = client::send(probes, "GET", "/readyz", &[], None).await;
        if ready.status == 200 {
            assert_eq!(ready.json()["checks"]["broker"], "ok");
            break;
        }
        assert!(Instant::now() < deadline, "{:?}", ready.body);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    worker.terminate();
    assert!(worker.wait(Duration::from_secs(10)).await.success());
}

#[tokio::test]
async fn rediss_checks_the_servers_certificate_against_redis_ca_file() {
    let Some((_redis, port, ca)) = RedisServer::start_tls_or_skip().await else {
        return;
    };
    let app = spawn_app_with(|_| {}, |t, _| t).await;
    let url = database_url(&app.db);
    let receiver = Receiver::start().await;
    let hook = subscribe(&app, &receiver.url(), &["user.created"]).await;
    let redis_url = format!("rediss://127.0.0.1:{port}");
    let ca = ca.display().to_string();
    let trusted = [
        ("JOBS_BROKER", "redis"),
        ("REDIS_URL", redis_url.as_str()),
        ("REDIS_CA_FILE", ca.as_str()),
    ];
    let (mut worker, probes) = worker_process(&env(&url, &[], &trusted)).await;
    let ready = client::send(probes, "GET", "/readyz", &[], None).await;
    assert_eq!(ready.status, 200, "{:?}", ready.body);
    app.create_user("tls@example.com").await;
    let log = settled(&app, hook["id"].as_str().unwrap(), Duration::from_secs(10)).await;
    assert_eq!(log[0]["status"], "succeeded");
    worker.terminate();
    assert!(worker.wait(Duration::from_secs(10)).await.success());

    // Without the CA, Mozilla's roots do not vouch for the test CA.
    let untrusted = [("JOBS_BROKER", "redis"), ("REDIS_URL", redis_url.as_str())];
    let (mut worker, probes) = worker_process(&env(&url, &[], &untrusted)).await;
    let refused = client::send(probes, "GET", "/readyz", &[], None).await;
    assert_eq!(refused.status, 503, "{:?}", refused.body);
    assert_eq!(refused.json()["checks"]["broker"], "unreachable");
    worker.terminate();
    assert!(worker.wait(Duration::from_secs(10)).await.success());
}
