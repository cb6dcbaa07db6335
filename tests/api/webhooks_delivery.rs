//! Deliveries: a committed user change reaches each matching subscription
//! as the contract's signed request; a rolled-back change sends nothing;
//! failures are retried on the backoff schedule and end `failed`; a hanging
//! receiver costs one timeout per attempt; deleting a subscription cancels
//! its pending deliveries; the deliveries log and its pages. Every test with
//! a worker runs once per broker (`JOBS_BROKER=postgres` and `redis`).

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::broker::{Broker, Mode, in_both_modes};
use crate::common::{TestApp, spawn_app_with};
use crate::webhooks_receiver::{
    Receiver, assert_signed, deliveries, settled, start_worker, subscribe,
};

in_both_modes!(
    user_changes_are_delivered_exactly_as_the_contract_says,
    a_failing_receiver_is_retried_on_the_backoff_schedule_then_failed,
    a_hanging_receiver_costs_one_timeout_per_attempt,
    deleting_a_subscription_cancels_its_pending_deliveries,
    the_outbox_and_the_worker_work_with_unnamed_statements,
    a_name_resolving_to_a_private_address_fails_the_attempt_in_prod,
);

/// An app on `mode`'s broker whose worker settings suit fast tests (and
/// the broker, which lives as long as the test holds it); `None` when the
/// broker cannot run here (the test skips, saying why).
async fn app_on(
    mode: Mode,
    configure: impl FnOnce(&mut backend::config::Settings),
) -> Option<(TestApp, Broker)> {
    let broker = Broker::start(mode).await?;
    let app = spawn_app_with(
        |s| {
            s.shutdown_timeout = Duration::from_secs(2);
            broker.configure(s);
            configure(s);
        },
        |t, _| t,
    )
    .await;
    Some((app, broker))
}

/// [`app_on`] with these delivery settings.
async fn app(
    mode: Mode,
    max_attempts: u32,
    retry_base_ms: u64,
    timeout_ms: u64,
) -> Option<(TestApp, Broker)> {
    app_on(mode, |s| {
        s.jobs.max_attempts = max_attempts;
        s.jobs.retry_base = Duration::from_millis(retry_base_ms);
        s.jobs.webhook_timeout = Duration::from_millis(timeout_ms);
    })
    .await
}

async fn user_changes_are_delivered_exactly_as_the_contract_says(mode: Mode) {
    let Some((app, _broker)) = app(mode, 3, 100, 2000).await else {
        return;
    };
    let receiver = Receiver::start().await;
    let all = subscribe(
        &app,
        &receiver.url(),
        &["user.created", "user.updated", "user.deleted"],
    )
    .await;
    let secret = all["secret"].as_str().unwrap();
    // Inactive, or not listing the type: nothing for them.
    let other = Receiver::start().await;
    let deleted_only = subscribe(&app, &other.url(), &["user.deleted"]).await;
    let inactive = subscribe(&app, &other.url(), &["user.created"]).await;
    let inactive_item = format!("/api/v1/webhooks/{}", inactive["id"].as_str().unwrap());
    app.send_json("PATCH", &inactive_item, &json!({"is_active": false}))
        .await;
    let (_stop, _worker) = start_worker(&app);

    let created = app
        .request_with(
            "POST",
            "/api/v1/users",
            &[
                ("content-type", "application/json"),
                ("x-request-id", "req-create-1"),
            ],
            Some(br#"{"email":"ada@example.com","full_name":"Ada"}"#),
        )
        .await;
    assert_eq!(created.status, 201);
    let user = created.json();
    let item = format!("/api/v1/users/{}", user["id"].as_str().unwrap());
    let updated = app
        .send_json("PATCH", &item, &json!({"is_active": false}))
        .await
        .json();
    assert_eq!(
        app.send_json("PATCH", &item, &json!({})).await.status,
        200,
        "{{}} is no update"
    );
    assert_eq!(app.request("DELETE", &item).await.status, 204);

    let requests = receiver.wait_for(3, Duration::from_secs(10)).await;
    // Once all three are recorded succeeded, none is sent again.
    let log = settled(&app, all["id"].as_str().unwrap(), Duration::from_secs(10)).await;
    assert!(log.iter().all(|d| d["status"] == "succeeded"), "{log:?}");
    assert_eq!(receiver.received().len(), 3, "one request per event");
    let mut bodies = Vec::new();
    for request in &requests {
        assert_eq!(request.header("content-type"), "application/json");
        assert_signed(request, secret);
        let timestamp: i64 = request.header("webhook-timestamp").parse().unwrap();
        let now = backend::timestamp::Timestamp::now().unix_micros() / 1_000_000;
        assert!((now - timestamp).abs() < 10, "{timestamp} vs {now}");
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        bodies.push((
            body["type"].as_str().unwrap().to_owned(),
            body,
            request.clone(),
        ));
    }
    bodies.sort_by_key(|(kind, ..)| {
        ["user.created", "user.updated", "user.deleted"]
            .iter()
            .position(|k| k == kind)
    });
    let (_, create_body, create_request) = &bodies[0];
    assert_eq!(create_body["data"], user);
    assert_eq!(create_body["timestamp"], user["updated_at"]);
    assert_eq!(create_request.header("x-request-id"), "req-create-1");
    assert_eq!(bodies[1].1["data"], updated);
    assert_eq!(bodies[2].1["data"], json!({"id": user["id"]}));
    assert!(bodies[2].1["timestamp"].as_str().unwrap().ends_with('Z'));
    assert!(other.received().len() <= 1);

    let log = settled(&app, all["id"].as_str().unwrap(), Duration::from_secs(5)).await;
    assert_eq!(log.len(), 3);
    for delivery in &log {
        assert_eq!(delivery["status"], "succeeded", "{delivery}");
        assert_eq!(delivery["attempts"], 1);
        assert_eq!(delivery["last_response_status"], 200);
        assert_eq!(delivery["last_error"], Value::Null);
        assert_eq!(delivery["next_attempt_at"], Value::Null);
        assert!(delivery["last_attempt_at"].is_string());
        let sent = requests
            .iter()
            .any(|r| r.header("webhook-id") == delivery["id"].as_str().unwrap());
        assert!(sent, "the delivery id is the webhook-id sent");
    }
    let other_log = settled(
        &app,
        deleted_only["id"].as_str().unwrap(),
        Duration::from_secs(5),
    )
    .await;
    assert_eq!(other_log.len(), 1);
    assert_eq!(other_log[0]["event_type"], "user.deleted");
    assert_eq!(
        deliveries(&app, inactive["id"].as_str().unwrap(), "").await["items"],
        json!([])
    );
}

#[tokio::test]
async fn a_rolled_back_change_delivers_nothing() {
    let app = app(Mode::Postgres, 3, 100, 2000).await.unwrap().0;
    let receiver = Receiver::start().await;
    let hook = subscribe(&app, &receiver.url(), &["user.created", "user.updated"]).await;
    app.create_user("taken@example.com").await;
    let other = app.create_user("other@example.com").await;
    // Both refused by the unique email, after the change ran: rolled back.
    let conflict = app
        .send_json(
            "POST",
            "/api/v1/users",
            &json!({"email": "TAKEN@example.com"}),
        )
        .await;
    conflict.assert_problem(409, "conflict");
    let item = format!("/api/v1/users/{}", other["id"].as_str().unwrap());
    app.send_json("PATCH", &item, &json!({"email": "taken@example.com"}))
        .await
        .assert_problem(409, "conflict");
    let log = deliveries(&app, hook["id"].as_str().unwrap(), "").await;
    assert_eq!(
        log["items"].as_array().unwrap().len(),
        2,
        "only the two committed creates"
    );
    let jobs: i64 = app
        .db_client()
        .await
        .query_one("SELECT count(*) FROM jobs", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(jobs, 2);
}

async fn a_failing_receiver_is_retried_on_the_backoff_schedule_then_failed(mode: Mode) {
    let Some((app, _broker)) = app(mode, 4, 200, 2000).await else {
        return;
    };
    let receiver = Receiver::start().await;
    receiver.respond(500, Duration::ZERO);
    let hook = subscribe(&app, &receiver.url(), &["user.created"]).await;
    let (_stop, _worker) = start_worker(&app);
    app.create_user("poison@example.com").await;
    let log = settled(&app, hook["id"].as_str().unwrap(), Duration::from_secs(10)).await;
    let delivery = &log[0];
    assert_eq!(delivery["status"], "failed", "{delivery}");
    assert_eq!(delivery["attempts"], 4);
    assert_eq!(delivery["last_response_status"], 500);
    assert!(delivery["last_error"].as_str().unwrap().contains("500"));
    assert_eq!(delivery["next_attempt_at"], Value::Null);
    let times: Vec<_> = receiver.received().iter().map(|r| r.at).collect();
    assert_eq!(times.len(), 4, "WEBHOOK_MAX_ATTEMPTS attempts in all");
    for (n, pair) in times.windows(2).enumerate() {
        let gap = pair[1] - pair[0];
        let nominal = 200.0 * 2f64.powi(i32::try_from(n).unwrap());
        let ms = gap.as_secs_f64() * 1000.0;
        // ±25 % jitter, plus the poll interval and scheduling slack.
        assert!(
            ms >= nominal * 0.75 - 5.0 && ms <= nominal * 1.25 + 700.0,
            "retry {}: {ms} ms, nominal {nominal}",
            n + 1
        );
    }
}

async fn a_hanging_receiver_costs_one_timeout_per_attempt(mode: Mode) {
    let Some((app, _broker)) = app(mode, 2, 50, 300).await else {
        return;
    };
    let receiver = Receiver::start().await;
    receiver.respond(200, Duration::from_secs(30));
    let hook = subscribe(&app, &receiver.url(), &["user.created"]).await;
    let (_stop, _worker) = start_worker(&app);
    let started = std::time::Instant::now();
    app.create_user("slow@example.com").await;
    let log = settled(&app, hook["id"].as_str().unwrap(), Duration::from_secs(10)).await;
    let elapsed = started.elapsed();
    assert_eq!(log[0]["status"], "failed");
    assert_eq!(log[0]["attempts"], 2);
    assert_eq!(log[0]["last_response_status"], Value::Null, "no response");
    assert!(
        log[0]["last_error"].as_str().unwrap().contains("300 ms"),
        "{}",
        log[0]
    );
    assert!(
        elapsed >= Duration::from_millis(600) && elapsed < Duration::from_secs(4),
        "{elapsed:?}"
    );
}

async fn deleting_a_subscription_cancels_its_pending_deliveries(mode: Mode) {
    let Some((app, _broker)) = app(mode, 5, 60_000, 2000).await else {
        return;
    };
    let receiver = Receiver::start().await;
    receiver.respond(503, Duration::ZERO);
    let hook = subscribe(&app, &receiver.url(), &["user.created"]).await;
    let id = hook["id"].as_str().unwrap().to_owned();
    let (_stop, _worker) = start_worker(&app);
    app.create_user("cancel@example.com").await;
    receiver.wait_for(1, Duration::from_secs(5)).await;
    // The worker records the failed attempt after the response.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let pending = loop {
        let page = deliveries(&app, &id, "").await;
        if page["items"][0]["last_response_status"] == 503 {
            break page;
        }
        assert!(std::time::Instant::now() < deadline, "{page}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    assert_eq!(pending["items"][0]["status"], "pending", "{pending}");
    assert_eq!(pending["items"][0]["last_response_status"], 503);
    assert!(pending["items"][0]["next_attempt_at"].is_string());
    assert_eq!(
        app.request("DELETE", &format!("/api/v1/webhooks/{id}"))
            .await
            .status,
        204
    );
    let db = app.db_client().await;
    let left: i64 = db
        .query_one("SELECT count(*) FROM jobs", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "the pending delivery is cancelled");
}

#[tokio::test]
async fn the_deliveries_log_is_paged_newest_first() {
    let app = app(Mode::Postgres, 3, 100, 2000).await.unwrap().0;
    let hook = subscribe(&app, "https://hooks.example.com/x", &["user.created"]).await;
    let id = hook["id"].as_str().unwrap();
    for i in 0..3 {
        app.create_user(&format!("u{i}@example.com")).await;
    }
    // No worker runs: all pending, never attempted.
    let first = deliveries(&app, id, "?limit=2").await;
    let items = first["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert!(
        items[0]["id"].as_str() > items[1]["id"].as_str(),
        "newest first"
    );
    let keys: Vec<&String> = items[0].as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 9, "{keys:?}");
    for item in items {
        assert_eq!(item["event_type"], "user.created");
        assert_eq!(item["status"], "pending");
        assert_eq!(item["attempts"], 0);
        assert_eq!(item["last_attempt_at"], Value::Null);
        assert!(item["next_attempt_at"].is_string());
        assert_eq!(item["last_response_status"], Value::Null);
        assert_eq!(item["last_error"], Value::Null);
    }
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = deliveries(&app, id, &format!("?limit=2&cursor={cursor}")).await;
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert!(second["items"][0]["id"].as_str() < items[1]["id"].as_str());
    assert_eq!(second["next_cursor"], Value::Null);
    for bad in ["?limit=101", "?status=pending", "?cursor=nope"] {
        app.get(&format!("/api/v1/webhooks/{id}/deliveries{bad}"))
            .await
            .assert_problem(422, "validation_failed");
    }
}

async fn the_outbox_and_the_worker_work_with_unnamed_statements(mode: Mode) {
    let Some((app, _broker)) = app_on(mode, |s| {
        s.statement_cache = false;
        s.jobs.retry_base = Duration::from_millis(100);
    })
    .await
    else {
        return;
    };
    let receiver = Receiver::start().await;
    let hook = subscribe(&app, &receiver.url(), &["user.created", "user.deleted"]).await;
    let (_stop, _worker) = start_worker(&app);
    let user = app.create_user("unnamed@example.com").await;
    let item = format!("/api/v1/users/{}", user["id"].as_str().unwrap());
    assert_eq!(app.request("DELETE", &item).await.status, 204);
    receiver.wait_for(2, Duration::from_secs(10)).await;
    let log = settled(&app, hook["id"].as_str().unwrap(), Duration::from_secs(5)).await;
    assert_eq!(log.len(), 2);
    assert!(log.iter().all(|d| d["status"] == "succeeded"));
}

async fn a_name_resolving_to_a_private_address_fails_the_attempt_in_prod(mode: Mode) {
    let Some((app, _broker)) = app_on(mode, |s| {
        s.jobs.allow_private_networks = false;
        s.jobs.max_attempts = 1;
    })
    .await
    else {
        return;
    };
    let receiver = Receiver::start().await;
    // A name passes the literal check; it is resolved at delivery.
    let url = format!("http://localhost:{}/hook", receiver.addr.port());
    let hook = subscribe(&app, &url, &["user.created"]).await;
    let (_stop, _worker) = start_worker(&app);
    app.create_user("ssrf@example.com").await;
    let log = settled(&app, hook["id"].as_str().unwrap(), Duration::from_secs(10)).await;
    assert_eq!(log[0]["status"], "failed");
    assert_eq!(log[0]["last_response_status"], Value::Null);
    let error = log[0]["last_error"].as_str().unwrap();
    assert!(error.contains("special-purpose"), "{error}");
    assert!(receiver.received().is_empty(), "nothing was sent");
}
