//! The user endpoints: HTTP in, HTTP out. Each reads as parse → apply →
//! respond; the operations live in [`super::service`].

use http::StatusCode;

use super::ITEM;
use super::input::ListQuery;
use super::model::{NewUser, UserPatch};
use super::service;
use crate::error::AppError;
use crate::http::body::json_object;
use crate::http::cursor::Page;
use crate::http::path::uuid_param;
use crate::http::response::{created, empty, json};
use crate::http::{Request, Response};
use crate::middleware::request_id::RequestId;
use crate::router::expand;
use crate::state::AppState;

/// The request's id, which the events it causes carry to their receivers.
fn request_id(req: &Request) -> Option<&str> {
    req.extensions().get::<RequestId>().map(RequestId::as_str)
}

/// `POST /api/v1/users`: 201 with the user and its `Location`.
pub async fn create(state: AppState, req: Request) -> Result<Response, AppError> {
    let new_user = NewUser::parse(json_object(&req)?)?;
    let user = service::create(&state.pool, new_user, request_id(&req)).await?;
    let location = expand(ITEM, &[&user.id.to_string()]);
    created(&location, &user)
}

/// `GET /api/v1/users`: one page, oldest first.
pub async fn list(state: AppState, req: Request) -> Result<Response, AppError> {
    let query = ListQuery::parse(req.uri().query())?;
    let page = service::list(&state.pool, query).await?;
    json(StatusCode::OK, &Page::new(page.items, page.next_after))
}

/// `GET /api/v1/users/{id}`.
pub async fn get(state: AppState, req: Request) -> Result<Response, AppError> {
    let id = uuid_param(&req, "id")?;
    let user = service::get(&state.pool, id).await?;
    json(StatusCode::OK, &user)
}

/// `PATCH /api/v1/users/{id}`: a partial update.
pub async fn update(state: AppState, req: Request) -> Result<Response, AppError> {
    let id = uuid_param(&req, "id")?;
    let patch = UserPatch::parse(json_object(&req)?)?;
    let user = service::update(&state.pool, id, patch, request_id(&req)).await?;
    json(StatusCode::OK, &user)
}

/// `DELETE /api/v1/users/{id}`: 204.
pub async fn delete(state: AppState, req: Request) -> Result<Response, AppError> {
    let id = uuid_param(&req, "id")?;
    service::delete(&state.pool, id, request_id(&req)).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}
