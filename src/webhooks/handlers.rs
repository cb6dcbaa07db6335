//! The webhook endpoints: HTTP in, HTTP out. Each reads as parse → apply →
//! respond; the operations live in [`super::service`].

use http::StatusCode;

use super::input::ListQuery;
use super::model::{NewWebhook, UrlPolicy, WebhookPatch};
use super::{ITEM, service};
use crate::error::AppError;
use crate::http::body::json_object;
use crate::http::cursor::Page;
use crate::http::path::uuid_param;
use crate::http::response::{created, empty, json};
use crate::http::{Request, Response};
use crate::router::expand;
use crate::state::AppState;

fn policy(state: &AppState) -> UrlPolicy {
    UrlPolicy {
        allow_private_networks: state.settings.jobs.allow_private_networks,
    }
}

/// `POST /api/v1/webhooks`: 201 with the subscription, its secret (this
/// once) and its `Location`.
pub async fn create(state: AppState, req: Request) -> Result<Response, AppError> {
    let new = NewWebhook::parse(json_object(&req)?, policy(&state))?;
    let created_webhook = service::create(&state.pool, new).await?;
    let location = expand(ITEM, &[&created_webhook.webhook.id.to_string()]);
    created(&location, &created_webhook)
}

/// `GET /api/v1/webhooks`: one page, oldest first.
pub async fn list(state: AppState, req: Request) -> Result<Response, AppError> {
    let query = ListQuery::parse(req.uri().query())?;
    let page = service::list(&state.pool, query).await?;
    json(StatusCode::OK, &Page::new(page.items, page.next_after))
}

/// `GET /api/v1/webhooks/{id}`.
pub async fn get(state: AppState, req: Request) -> Result<Response, AppError> {
    let id = uuid_param(&req, "id")?;
    let webhook = service::get(&state.pool, id).await?;
    json(StatusCode::OK, &webhook)
}

/// `PATCH /api/v1/webhooks/{id}`: a partial update.
pub async fn update(state: AppState, req: Request) -> Result<Response, AppError> {
    let id = uuid_param(&req, "id")?;
    let patch = WebhookPatch::parse(json_object(&req)?, policy(&state))?;
    let webhook = service::update(&state.pool, id, patch).await?;
    json(StatusCode::OK, &webhook)
}

/// `DELETE /api/v1/webhooks/{id}`: 204; pending deliveries are cancelled.
pub async fn delete(state: AppState, req: Request) -> Result<Response, AppError> {
    let id = uuid_param(&req, "id")?;
    service::delete(&state.pool, id).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// `GET /api/v1/webhooks/{id}/deliveries`: one page, newest first.
pub async fn deliveries(state: AppState, req: Request) -> Result<Response, AppError> {
    let id = uuid_param(&req, "id")?;
    let query = ListQuery::parse(req.uri().query())?;
    let page = service::deliveries(&state.pool, id, query).await?;
    json(StatusCode::OK, &Page::new(page.items, page.next_after))
}
