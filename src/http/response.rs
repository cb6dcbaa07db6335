//! JSON responses.

use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use http_body_util::Full;
use serde::Serialize;

use crate::error::AppError;
use crate::http::Response;

/// `application/json`.
pub static APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");

/// A response with `status` and `value` serialised as JSON.
pub fn json<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Result<Response, AppError> {
    let body = serde_json::to_vec(value).map_err(AppError::internal)?;
    Ok(json_bytes(status, Bytes::from(body)))
}

/// A response with `status` and an already-encoded JSON body.
pub fn json_bytes(status: StatusCode, body: Bytes) -> Response {
    let mut response = http::Response::new(Full::new(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, APPLICATION_JSON.clone());
    response
}

/// An empty response with `status` (e.g. `204 No Content`).
pub fn empty(status: StatusCode) -> Response {
    let mut response = http::Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
}

/// `201 Created` with `value` as JSON and `Location: location`.
pub fn created<T: Serialize + ?Sized>(location: &str, value: &T) -> Result<Response, AppError> {
    let mut response = json(StatusCode::CREATED, value)?;
    let location = HeaderValue::try_from(location).map_err(AppError::internal)?;
    response.headers_mut().insert(header::LOCATION, location);
    Ok(response)
}
