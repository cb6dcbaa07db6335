//! The user operations: create, get, list, update, delete, on validated
//! commands ([`super::input`] reads them from requests).

use uuid::Uuid;

use super::input::ListQuery;
use super::model::{NewUser, User, UserPatch};
use super::repository;
use crate::db::Pool;
use crate::error::AppError;

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

/// Creates a user with a fresh UUIDv7.
pub async fn create(pool: &Pool, new: NewUser) -> Result<User, AppError> {
    let db = pool.db().await?;
    repository::insert(&db, Uuid::now_v7(), &new)
        .await
        .map_err(|e| email_taken(e.into()))
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

/// Applies `patch` to the user with `id`; `{}` returns the user unchanged.
pub async fn update(pool: &Pool, id: Uuid, patch: UserPatch) -> Result<User, AppError> {
    let db = pool.db().await?;
    if patch.is_empty() {
        return repository::find(&db, id).await?.ok_or(AppError::NotFound);
    }
    repository::update(&db, id, &patch)
        .await
        .map_err(|e| email_taken(e.into()))?
        .ok_or(AppError::NotFound)
}

/// Deletes the user with `id`, or 404.
pub async fn delete(pool: &Pool, id: Uuid) -> Result<(), AppError> {
    let db = pool.db().await?;
    if repository::delete(&db, id).await? {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}
