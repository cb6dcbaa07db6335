//! Broker restarts mid-stream lose no event: PostgreSQL restarted while
//! events are being written and delivered (both brokers), and Redis killed
//! (it saves nothing, so the stream and its group are gone) and started
//! again, with events committed while it was down. Every event is
//! delivered, and each delivery ends `succeeded`. An entry a dead consumer
//! left pending is reclaimed (`XAUTOCLAIM`) by a live one.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use crate::common::TestApp;
use crate::common::broker::{Broker, Mode, in_both_modes};
use crate::common::pg::PrivateServer;
use crate::common::redis::RedisServer;
use crate::common::spawn_app_on;
use crate::webhooks_receiver::{Receiver, settled, start_worker, subscribe};

in_both_modes!(a_postgres_restart_mid_stream_loses_no_event);

/// Creates users `from..to`, retrying each until it is acknowledged (a
/// request in flight when the database went away may fail; the event of a
/// failed request was never committed, the retry's is).
async fn create_users(app: &TestApp, from: usize, to: usize) {
    for i in from..to {
        let body = serde_json::json!({"email": format!("r{i}@example.com")});
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            let response = app.send_json("POST", "/api/v1/users", &body).await;
            if response.status == 201 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "user {i} never created: {} {:?}",
                response.status,
                response.body
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Every one of `n` events reached `receiver` (at least once) and each
/// delivery of subscription `hook` ended `succeeded`.
async fn all_delivered(app: &TestApp, receiver: &Receiver, hook: &str, n: usize) {
    let log = settled(app, hook, Duration::from_secs(30)).await;
    assert_eq!(log.len(), n, "one delivery per event");
    assert!(log.iter().all(|d| d["status"] == "succeeded"), "{log:#?}");
    let ids: HashSet<String> = receiver
        .received()
        .iter()
        .map(|r| r.header("webhook-id").to_owned())
        .collect();
    assert_eq!(ids.len(), n, "every event reached the receiver");
}

async fn a_postgres_restart_mid_stream_loses_no_event(mode: Mode) {
    let Some(broker) = Broker::start(mode).await else {
        return;
    };
    let Some(server) = PrivateServer::start_or_skip("a_postgres_restart_mid_stream").await else {
        return;
    };
    let server = Arc::new(server);
    server
        .client()
        .await
        .batch_execute("CREATE DATABASE app")
        .await
        .unwrap();
    let app = spawn_app_on(
        server.database("app"),
        |s| {
            s.pool_timeout = Duration::from_millis(500);
            s.connect_timeout = Duration::from_secs(1);
            s.jobs.lease = Duration::from_millis(1500);
            s.jobs.retry_base = Duration::from_millis(100);
            broker.configure(s);
        },
        |t, _| t,
    )
    .await;
    let receiver = Receiver::start().await;
    receiver.respond(200, Duration::from_millis(20));
    let hook = subscribe(&app, &receiver.url(), &["user.created"]).await;
    let hook = hook["id"].as_str().unwrap().to_owned();
    let (_stop, _worker) = start_worker(&app);
    create_users(&app, 0, 10).await;
    receiver.wait_for(1, Duration::from_secs(10)).await;
    server.restart_async().await;
    create_users(&app, 10, 20).await;
    all_delivered(&app, &receiver, &hook, 20).await;
}

#[tokio::test]
async fn a_redis_restart_mid_stream_loses_no_event() {
    let Some(mut broker) = Broker::start(Mode::Redis).await else {
        return;
    };
    // One delivery at a time, slow ones: most events wait in the stream
    // when Redis dies. The lease (30 s) is longer than the test may take,
    // so nothing is recovered by waiting for leases to pass.
    let app = crate::common::spawn_app_with(
        |s| {
            s.jobs.concurrency = 1;
            s.jobs.lease = Duration::from_secs(30);
            broker.configure(s);
        },
        |t, _| t,
    )
    .await;
    let receiver = Receiver::start().await;
    receiver.respond(200, Duration::from_millis(150));
    let hook = subscribe(&app, &receiver.url(), &["user.created"]).await;
    let hook = hook["id"].as_str().unwrap().to_owned();
    let (_stop, _worker) = start_worker(&app);
    create_users(&app, 0, 10).await;
    receiver.wait_for(1, Duration::from_secs(10)).await;
    let redis = broker.redis.as_mut().unwrap();
    let relayed = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let length = redis.command("XLEN backend:jobs").unwrap();
        let length: usize = length.trim().trim_start_matches(':').parse().unwrap();
        if length >= 10 {
            break;
        }
        assert!(std::time::Instant::now() < relayed, "only {length} relayed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        receiver.received().len() < 10,
        "some events still wait in the stream"
    );
    // Down: the changes still commit (the outbox is in PostgreSQL) while
    // the relay cannot reach the stream.
    redis.kill();
    create_users(&app, 10, 15).await;
    // Back, empty: no stream, no group, the relayed entries gone.
    redis.restart().await;
    create_users(&app, 15, 20).await;
    let started = std::time::Instant::now();
    all_delivered(&app, &receiver, &hook, 20).await;
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "recovered without waiting for leases"
    );
}

#[tokio::test]
async fn an_entry_left_pending_by_a_dead_consumer_is_reclaimed() {
    let Some(broker) = Broker::start(Mode::Redis).await else {
        return;
    };
    let app = app_with_one_second_leases(&broker).await;
    let receiver = Receiver::start().await;
    let hook = subscribe(&app, &receiver.url(), &["user.created"]).await;
    app.create_user("orphan@example.com").await;
    // The job sits in the stream, read by a consumer that then died; the
    // relay must not send it again (relayed "in the future"), so only the
    // reclaim of the dead consumer's entry can bring it to a worker.
    let job = set_the_only_job(&app, "relayed_at = now() + interval '1 hour'").await;
    let redis = broker.redis.as_ref().unwrap();
    leave_pending_with_a_dead_consumer(redis, job);
    let (_stop, _worker) = start_worker(&app);
    let log = settled(&app, hook["id"].as_str().unwrap(), Duration::from_secs(15)).await;
    assert_eq!(log[0]["status"], "succeeded");
    assert_eq!(receiver.received().len(), 1);
    let pending = redis
        .command("XPENDING backend:jobs backend:workers")
        .unwrap();
    assert!(
        pending.starts_with(NOTHING_PENDING),
        "acknowledged: {pending:?}"
    );
}

#[tokio::test]
async fn an_entry_whose_job_is_done_is_acknowledged_not_delivered() {
    let Some(broker) = Broker::start(Mode::Redis).await else {
        return;
    };
    let app = app_with_one_second_leases(&broker).await;
    let receiver = Receiver::start().await;
    subscribe(&app, &receiver.url(), &["user.created"]).await;
    app.create_user("stale@example.com").await;
    // The job is done (another worker recorded it), but a dead consumer
    // left its entry pending: the reclaimed entry is stale, so it must be
    // acknowledged, or it would be reclaimed again forever.
    let job = set_the_only_job(
        &app,
        "state = 'succeeded', relayed_at = now() + interval '1 hour'",
    )
    .await;
    let redis = broker.redis.as_ref().unwrap();
    leave_pending_with_a_dead_consumer(redis, job);
    let (_stop, _worker) = start_worker(&app);
    // Reclaimed after one lease of idleness, then acknowledged.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let pending = redis
            .command("XPENDING backend:jobs backend:workers")
            .unwrap();
        if pending.starts_with(NOTHING_PENDING) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still pending: {pending:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        receiver.received().is_empty(),
        "a done job is not sent again"
    );
}

/// The start of `XPENDING`'s summary when no entry is pending.
const NOTHING_PENDING: &str = "*4\r\n:0\r\n";

/// An app on `broker` whose leases last a second, so a dead consumer's
/// entry is reclaimed soon.
async fn app_with_one_second_leases(broker: &Broker) -> TestApp {
    crate::common::spawn_app_with(
        |s| {
            s.jobs.lease = Duration::from_secs(1);
            broker.configure(s);
        },
        |t, _| t,
    )
    .await
}

/// Adds an entry for `job` to the stream and has a consumer named `dead`
/// read it and never acknowledge it: pending, owned by no live worker.
fn leave_pending_with_a_dead_consumer(redis: &RedisServer, job: uuid::Uuid) {
    for command in [
        "XGROUP CREATE backend:jobs backend:workers 0 MKSTREAM".to_owned(),
        format!("XADD backend:jobs * job {job}"),
        "XREADGROUP GROUP backend:workers dead COUNT 10 STREAMS backend:jobs >".to_owned(),
    ] {
        let reply = redis.command(&command).unwrap();
        assert!(!reply.starts_with('-'), "{command}: {reply}");
    }
}

/// Sets `assignments` on the app's one job; returns its id.
async fn set_the_only_job(app: &TestApp, assignments: &str) -> uuid::Uuid {
    let db = app.db_client().await;
    let row = db
        .query_one(&format!("UPDATE jobs SET {assignments} RETURNING id"), &[])
        .await
        .unwrap();
    row.get(0)
}
