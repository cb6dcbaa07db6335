//! Hand-written SQL for subscriptions and their deliveries: bound, typed
//! parameters only; columns always named, never `*`.

use tokio_postgres::Row;
use tokio_postgres::types::Type;
use uuid::Uuid;

use super::model::{Delivery, Description, NewWebhook, Webhook, WebhookPatch, WebhookUrl};
use crate::db::Db;

macro_rules! webhook_columns {
    () => {
        "id, url, events, description, is_active, created_at, updated_at"
    };
}

const SELECT_ONE: &str = concat!(
    "SELECT ",
    webhook_columns!(),
    " FROM webhooks WHERE id = $1"
);

const SELECT_PAGE: &str = concat!(
    "SELECT ",
    webhook_columns!(),
    " FROM webhooks WHERE id > $1 ORDER BY id LIMIT $2"
);

const INSERT: &str = concat!(
    "INSERT INTO webhooks (id, url, events, description, is_active, secret) \
     VALUES ($1, $2, $3, $4, $5, $6) RETURNING ",
    webhook_columns!()
);

/// `$5` says whether to set `description` (to `$6`, possibly null).
const UPDATE: &str = concat!(
    "UPDATE webhooks SET url = COALESCE($2, url), events = COALESCE($3, events), \
     is_active = COALESCE($4, is_active), \
     description = CASE WHEN $5 THEN $6 ELSE description END, \
     updated_at = GREATEST(clock_timestamp(), updated_at + interval '1 microsecond') \
     WHERE id = $1 RETURNING ",
    webhook_columns!()
);

/// Deletes the subscription and cancels its deliveries in one statement:
/// their jobs go (an attempt in flight may finish, against a missing row,
/// changing nothing), the delivery rows follow by cascade.
const DELETE: &str = "WITH cancelled AS (\
        DELETE FROM jobs WHERE id IN (SELECT id FROM webhook_deliveries WHERE webhook_id = $1)) \
     DELETE FROM webhooks WHERE id = $1";

/// Newest first; `next_attempt_at` only while pending; `last_error` only
/// while not succeeded.
const SELECT_DELIVERIES: &str = "SELECT d.id, d.event_type, j.state, j.attempts, j.created_at, \
     j.last_attempt_at, CASE WHEN j.state = 'pending' THEN j.run_at END, \
     d.last_response_status, CASE WHEN j.state <> 'succeeded' THEN j.last_error END \
     FROM webhook_deliveries d JOIN jobs j ON j.id = d.id \
     WHERE d.webhook_id = $1 AND d.id < $2 ORDER BY d.id DESC LIMIT $3";

fn webhook(row: &Row) -> Result<Webhook, tokio_postgres::Error> {
    Ok(Webhook {
        id: row.try_get(0)?,
        url: row.try_get(1)?,
        events: row.try_get(2)?,
        description: row.try_get(3)?,
        is_active: row.try_get(4)?,
        created_at: row.try_get(5)?,
        updated_at: row.try_get(6)?,
    })
}

fn delivery(row: &Row) -> Result<Delivery, tokio_postgres::Error> {
    Ok(Delivery {
        id: row.try_get(0)?,
        event_type: row.try_get(1)?,
        status: row.try_get(2)?,
        attempts: row.try_get(3)?,
        created_at: row.try_get(4)?,
        last_attempt_at: row.try_get(5)?,
        next_attempt_at: row.try_get(6)?,
        last_response_status: row.try_get(7)?,
        last_error: row.try_get(8)?,
    })
}

/// The subscription with `id`, if any.
pub async fn find(db: &Db, id: Uuid) -> Result<Option<Webhook>, tokio_postgres::Error> {
    db.query_opt(SELECT_ONE, &[(&id, Type::UUID)])
        .await?
        .as_ref()
        .map(webhook)
        .transpose()
}

/// Up to `limit` subscriptions with ids after `after`, in id order.
pub async fn page(db: &Db, after: Uuid, limit: i64) -> Result<Vec<Webhook>, tokio_postgres::Error> {
    let rows = db
        .query(SELECT_PAGE, &[(&after, Type::UUID), (&limit, Type::INT8)])
        .await?;
    rows.iter().map(webhook).collect()
}

/// Inserts `new` as the subscription `id`, signed with `secret`.
pub async fn insert(
    db: &Db,
    id: Uuid,
    new: &NewWebhook,
    secret: &str,
) -> Result<Webhook, tokio_postgres::Error> {
    let row = db
        .query_one(
            INSERT,
            &[
                (&id, Type::UUID),
                (&new.url.as_str(), Type::TEXT),
                (&new.events.names(), Type::TEXT_ARRAY),
                (
                    &new.description.as_ref().map(Description::as_str),
                    Type::TEXT,
                ),
                (&new.is_active, Type::BOOL),
                (&secret, Type::TEXT),
            ],
        )
        .await?;
    webhook(&row)
}

/// Applies `patch` to the subscription `id`; `None` if there is none.
pub async fn update(
    db: &Db,
    id: Uuid,
    patch: &WebhookPatch,
) -> Result<Option<Webhook>, tokio_postgres::Error> {
    let url = patch.url.as_ref().map(WebhookUrl::as_str);
    let events = patch.events.as_ref().map(super::model::Events::names);
    let set_description = patch.description.is_some();
    let description = patch
        .description
        .as_ref()
        .and_then(Option::as_ref)
        .map(Description::as_str);
    let row = db
        .query_opt(
            UPDATE,
            &[
                (&id, Type::UUID),
                (&url, Type::TEXT),
                (&events, Type::TEXT_ARRAY),
                (&patch.is_active, Type::BOOL),
                (&set_description, Type::BOOL),
                (&description, Type::TEXT),
            ],
        )
        .await?;
    row.as_ref().map(webhook).transpose()
}

/// Deletes the subscription `id` and its pending deliveries; `false` if
/// there was none.
pub async fn delete(db: &Db, id: Uuid) -> Result<bool, tokio_postgres::Error> {
    Ok(db.execute(DELETE, &[(&id, Type::UUID)]).await? == 1)
}

/// Up to `limit` deliveries of `webhook` with ids before `before`, newest first.
pub async fn deliveries(
    db: &Db,
    webhook: Uuid,
    before: Uuid,
    limit: i64,
) -> Result<Vec<Delivery>, tokio_postgres::Error> {
    let rows = db
        .query(
            SELECT_DELIVERIES,
            &[
                (&webhook, Type::UUID),
                (&before, Type::UUID),
                (&limit, Type::INT8),
            ],
        )
        .await?;
    rows.iter().map(delivery).collect()
}
