//! The user endpoints: HTTP in, HTTP out. Each reads as parse → apply →
//! respond; the rules live in [`super::service`].

use http::{HeaderValue, StatusCode, header};

use super::service::{self, ListQuery, NewUser, UserPatch};
use crate::error::AppError;
use crate::http::body::json_object;
use crate::http::path::uuid_param;
use crate::http::response::{empty, json};
use crate::{AppState, Request, Response};

/// `POST /api/v1/users`: 201 with the user and its `Location`.
pub async fn create(state: AppState, req: Request) -> Result<Response, AppError> {
    let new_user = NewUser::parse(json_object(&req)?)?;
    let user = service::create(&state.pool, new_user).await?;
    let mut response = json(StatusCode::CREATED, &user)?;
    let location = format!("/api/v1/users/{}", user.id);
    let location = HeaderValue::try_from(location).map_err(AppError::internal)?;
    response.headers_mut().insert(header::LOCATION, location);
    Ok(response)
}

/// `GET /api/v1/users`: one page, oldest first.
pub async fn list(state: AppState, req: Request) -> Result<Response, AppError> {
    let query = ListQuery::parse(req.uri().query())?;
    let page = service::list(&state.pool, query).await?;
    json(StatusCode::OK, &page)
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
    let user = service::update(&state.pool, id, patch).await?;
    json(StatusCode::OK, &user)
}

/// `DELETE /api/v1/users/{id}`: 204.
pub async fn delete(state: AppState, req: Request) -> Result<Response, AppError> {
    let id = uuid_param(&req, "id")?;
    service::delete(&state.pool, id).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}
