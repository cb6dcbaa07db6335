//! The transactional outbox: [`publish`] writes an event's deliveries in the
//! caller's transaction, so they commit or roll back with the change.
//!
//! It lives here, not in `users`, because the subscriptions and the
//! delivery rows are this resource's tables: a resource that emits events
//! builds an [`Event`] and calls [`publish`] on its own transaction, and
//! never sees webhook SQL. The job itself is enqueued for the generic
//! runner ([`crate::jobs`]) in the same statement, which also notifies the
//! workers on [`crate::jobs::postgres::CHANNEL`].

use serde::Serialize;
use tokio_postgres::types::Type;

use super::model::EventType;
use crate::db::Db;
use crate::telemetry::otel::spans::current_traceparent;
use crate::timestamp::Timestamp;

/// The job kind of a webhook delivery.
pub const KIND: &str = "webhook.delivery";

/// One delivery job per active subscription listing `$1`, each with a
/// fresh UUIDv7 (the `webhook-id`), the body fixed now; `RETURNING`
/// notifies the workers (sent on commit, folded into one notification, and
/// only when a row was written).
const INSERT: &str = "WITH subscribers AS (\
        SELECT uuid_v7() AS id, w.id AS webhook_id FROM webhooks w \
        WHERE w.is_active AND $1 = ANY (w.events)), \
     queued AS (\
        INSERT INTO jobs (id, kind) SELECT id, $4 FROM subscribers) \
     INSERT INTO webhook_deliveries (id, webhook_id, event_type, body, request_id, traceparent) \
     SELECT id, webhook_id, $1, $2, $3, $5 FROM subscribers \
     RETURNING pg_notify('backend_jobs', '')";

/// An event, with its request body already serialised: the bytes every
/// attempt sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    kind: EventType,
    body: String,
    request_id: Option<String>,
}

#[derive(Serialize)]
struct Body<'a, T> {
    #[serde(rename = "type")]
    kind: &'static str,
    timestamp: Timestamp,
    data: &'a T,
}

impl Event {
    /// An event of `kind` about `data`, at `timestamp` (when the change was
    /// made), caused by the request `request_id`.
    pub fn new<T: Serialize>(
        kind: EventType,
        timestamp: Timestamp,
        data: &T,
        request_id: Option<&str>,
    ) -> Result<Self, serde_json::Error> {
        let body = serde_json::to_string(&Body {
            kind: kind.as_str(),
            timestamp,
            data,
        })?;
        Ok(Self {
            kind,
            body,
            request_id: request_id.map(str::to_owned),
        })
    }

    /// The request body.
    pub fn body(&self) -> &str {
        &self.body
    }
}

/// Writes `event`'s deliveries through `db` (inside the caller's
/// transaction) and wakes the workers when there are any; returns how many.
/// The current request's `traceparent` (when it is traced) is stored with
/// them, so each delivery's span links back to it.
///
/// One unnamed statement, sent whole on the first poll, so a caller may
/// pipeline its `COMMIT` behind it ([`crate::db::Transaction::commit_with`]).
pub async fn publish(db: &Db, event: &Event) -> Result<u64, tokio_postgres::Error> {
    let traceparent = current_traceparent();
    db.execute_unnamed(
        INSERT,
        &[
            (&event.kind.as_str(), Type::TEXT),
            (&event.body.as_str(), Type::TEXT),
            (&event.request_id.as_deref(), Type::TEXT),
            (&KIND, Type::TEXT),
            (&traceparent.as_deref(), Type::TEXT),
        ],
    )
    .await
}
