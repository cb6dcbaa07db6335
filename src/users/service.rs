//! The user operations: create, get, list, update, delete, on validated
//! commands ([`super::input`] reads them from requests).

use uuid::Uuid;

use super::input::ListQuery;
use super::model::{NewUser, User, UserPatch};
use super::repository;
use crate::db::{Db, Pool, Transaction};
use crate::error::AppError;
use crate::timestamp::Timestamp;
use crate::webhooks::model::EventType;
use crate::webhooks::outbox::{self, Event};

/// The detail of a 409 on a taken email.
const EMAIL_TAKEN: &str = "a user with this email already exists";

/// One page of users, and the id to continue after if more exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The users, in id order.
    pub items: Vec<User>,
    /// The last id of this page, when more matching users exist after it.
    pub next_after: Option<Uuid>,
}

fn email_taken(error: AppError) -> AppError {
    match error {
        AppError::Conflict(_) => AppError::Conflict(EMAIL_TAKEN.into()),
        other => other,
    }
}

/// Creates a user with a fresh UUIDv7, and its `user.created` events, in
/// one transaction (two round trips: `BEGIN` + insert, events + `COMMIT`).
pub async fn create(pool: &Pool, new: NewUser, request_id: Option<&str>) -> Result<User, AppError> {
    let db = pool.db().await?;
    let insert = async {
        repository::insert(&db, Uuid::now_v7(), &new)
            .await
            .map_err(|e| email_taken(e.into()))
    };
    let (tx, user) = db.begin_with(insert).await?;
    let event = Event::new(EventType::UserCreated, user.updated_at, &user, request_id);
    publish(&db, tx, event).await?;
    Ok(user)
}

/// Publishes `event` (built from the change's result) through `db` and
/// commits `tx`, pipelined; rolls back if the event could not be built.
async fn publish(
    db: &Db,
    tx: Transaction<'_>,
    event: Result<Event, serde_json::Error>,
) -> Result<(), AppError> {
    match event {
        Ok(event) => {
            tx.commit_with(async {
                Ok::<_, AppError>(outbox::publish(db, &event).await.map(drop)?)
            })
            .await
        }
        Err(e) => {
            let _ = tx.rollback().await;
            Err(AppError::internal(e))
        }
    }
}

/// The user with `id`, or 404.
pub async fn get(pool: &Pool, id: Uuid) -> Result<User, AppError> {
    let db = pool.db().await?;
    repository::find(&db, id).await?.ok_or(AppError::NotFound)
}

/// One page of users; reads one row more than asked to know if more exist.
pub async fn list(pool: &Pool, query: ListQuery) -> Result<Page, AppError> {
    let db = pool.db().await?;
    let limit = usize::from(query.limit);
    let mut items = repository::page(
        &db,
        query.after.unwrap_or(Uuid::nil()),
        query.is_active,
        i64::from(query.limit) + 1,
    )
    .await?;
    let next_after = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|u| u.id)
    } else {
        None
    };
    Ok(Page { items, next_after })
}

/// Applies `patch` to the user with `id`, with its `user.updated` events,
/// in one transaction; `{}` returns the user unchanged (no update, no
/// event).
pub async fn update(
    pool: &Pool,
    id: Uuid,
    patch: UserPatch,
    request_id: Option<&str>,
) -> Result<User, AppError> {
    let db = pool.db().await?;
    if patch.is_empty() {
        return repository::find(&db, id).await?.ok_or(AppError::NotFound);
    }
    let update = async {
        repository::update(&db, id, &patch)
            .await
            .map_err(|e| email_taken(e.into()))?
            .ok_or(AppError::NotFound)
    };
    let (tx, user) = db.begin_with(update).await?;
    let event = Event::new(EventType::UserUpdated, user.updated_at, &user, request_id);
    publish(&db, tx, event).await?;
    Ok(user)
}

/// The data of a `user.deleted` event: the id alone.
#[derive(serde::Serialize)]
struct Deleted {
    id: Uuid,
}

/// Deletes the user with `id`, with its `user.deleted` events, in one
/// transaction; or 404.
pub async fn delete(pool: &Pool, id: Uuid, request_id: Option<&str>) -> Result<(), AppError> {
    let db = pool.db().await?;
    let delete = async {
        if repository::delete(&db, id).await? {
            Ok(())
        } else {
            Err(AppError::NotFound)
        }
    };
    let ((tx, ()), at) = (db.begin_with(delete).await?, Timestamp::now());
    let event = Event::new(EventType::UserDeleted, at, &Deleted { id }, request_id);
    publish(&db, tx, event).await
}
