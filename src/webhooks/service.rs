//! The subscription operations, on validated commands ([`super::input`]
//! reads them from requests).

use uuid::Uuid;

use super::input::ListQuery;
use super::model::{Created, Delivery, NewWebhook, Webhook, WebhookPatch};
use super::{repository, signature};
use crate::db::Pool;
use crate::error::AppError;

/// One page of items, and the id to continue from if more exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items, in page order.
    pub items: Vec<T>,
    /// The last id of this page, when more items exist after it.
    pub next_after: Option<Uuid>,
}

impl<T> Page<T> {
    /// Cuts `items` (read one over `limit`) to a page.
    fn cut(mut items: Vec<T>, limit: u8, id: impl Fn(&T) -> Uuid) -> Self {
        let limit = usize::from(limit);
        let next_after = if items.len() > limit {
            items.truncate(limit);
            items.last().map(id)
        } else {
            None
        };
        Self { items, next_after }
    }
}

/// Creates a subscription with a fresh UUIDv7 and secret.
pub async fn create(pool: &Pool, new: NewWebhook) -> Result<Created, AppError> {
    let secret = signature::generate().map_err(|_| AppError::internal("no random bytes"))?;
    let db = pool.db().await?;
    let webhook = repository::insert(&db, Uuid::now_v7(), &new, &secret).await?;
    Ok(Created { webhook, secret })
}

/// The subscription `id`, or 404.
pub async fn get(pool: &Pool, id: Uuid) -> Result<Webhook, AppError> {
    let db = pool.db().await?;
    repository::find(&db, id).await?.ok_or(AppError::NotFound)
}

/// One page of subscriptions, oldest first.
pub async fn list(pool: &Pool, query: ListQuery) -> Result<Page<Webhook>, AppError> {
    let db = pool.db().await?;
    let after = query.after.unwrap_or(Uuid::nil());
    let items = repository::page(&db, after, i64::from(query.limit) + 1).await?;
    Ok(Page::cut(items, query.limit, |w| w.id))
}

/// Applies `patch`; `{}` returns the subscription unchanged.
pub async fn update(pool: &Pool, id: Uuid, patch: WebhookPatch) -> Result<Webhook, AppError> {
    let db = pool.db().await?;
    if patch.is_empty() {
        return repository::find(&db, id).await?.ok_or(AppError::NotFound);
    }
    repository::update(&db, id, &patch)
        .await?
        .ok_or(AppError::NotFound)
}

/// Deletes the subscription `id` and cancels its pending deliveries, or 404.
pub async fn delete(pool: &Pool, id: Uuid) -> Result<(), AppError> {
    let db = pool.db().await?;
    if repository::delete(&db, id).await? {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

/// One page of the deliveries of subscription `id`, newest first; 404 when
/// there is no such subscription.
pub async fn deliveries(
    pool: &Pool,
    id: Uuid,
    query: ListQuery,
) -> Result<Page<Delivery>, AppError> {
    let db = pool.db().await?;
    if repository::find(&db, id).await?.is_none() {
        return Err(AppError::NotFound);
    }
    let before = query.after.unwrap_or(Uuid::max());
    let items = repository::deliveries(&db, id, before, i64::from(query.limit) + 1).await?;
    Ok(Page::cut(items, query.limit, |d| d.id))
}
