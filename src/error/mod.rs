//! The one error type of the service.
//!
//! Every refusal in the service is an [`AppError`]. Endpoints return it, layers
//! build it, and [`AppError::into_response`] turns it into a response that
//! carries the error in its extensions. The problem layer
//! ([`crate::middleware::problem`]) then renders the body once
//! ([`problem`]), where the request's path and id are known. Driver errors
//! are classified in one place ([`postgres`]).

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;

use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use http_body_util::Full;
use serde::Serialize;

pub mod postgres;
pub mod problem;

/// A boxed error, for sources we only log.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Where a rejected value came from, as reported in a problem's `errors`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Location {
    /// A member of the JSON request body.
    Body,
    /// A query-string parameter.
    Query,
    /// A path parameter.
    Path,
}

/// One problem found in a request: which value, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Where the value was found.
    pub location: Location,
    /// The member, parameter or path segment name.
    pub field: Cow<'static, str>,
    /// What is wrong, phrased for the client.
    pub message: Cow<'static, str>,
}

impl FieldError {
    /// A problem with `field` at `location`.
    pub fn new(
        location: Location,
        field: impl Into<Cow<'static, str>>,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            location,
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Every problem `code` an [`AppError`] can carry, in a stable order: the
/// OpenAPI document's list of codes.
pub const CODES: [&str; 12] = [
    "malformed_body",
    "unsupported_media_type",
    "payload_too_large",
    "validation_failed",
    "not_found",
    "method_not_allowed",
    "unauthorized",
    "forbidden",
    "conflict",
    "timeout",
    "service_unavailable",
    "internal",
];

/// Every way a request can fail, each with its status and problem `code`.
#[derive(Debug)]
pub enum AppError {
    /// 400: the body is absent, empty, not JSON or not a JSON object.
    MalformedBody(Cow<'static, str>),
    /// 415: a body whose `content-type` is not `application/json` (UTF-8).
    UnsupportedMediaType,
    /// 413: the body is larger than the configured limit (in bytes).
    PayloadTooLarge(usize),
    /// 422: one or more values break a rule; all of them are listed.
    Validation(Vec<FieldError>),
    /// 404: no such resource, or no such route.
    NotFound,
    /// 405: the path exists but not with this method; carries the `Allow` value.
    MethodNotAllowed(HeaderValue),
    /// 401: no bearer token, or one that is not valid; says which, for the
    /// `www-authenticate` challenge.
    Unauthorized(Challenge),
    /// 403: a valid token without the route's scope, which it carries.
    Forbidden(&'static str),
    /// 409: the request conflicts with existing state (e.g. an email taken).
    Conflict(Cow<'static, str>),
    /// 504: the request ran past `REQUEST_TIMEOUT_MS` or the statement timeout.
    Timeout,
    /// 408: the client did not send the whole body within `REQUEST_TIMEOUT_MS`
    /// (a stalled upload or a `content-length` larger than the body): the
    /// client's fault, so a 4xx, with the same `timeout` code.
    BodyTimeout,
    /// 503: a dependency is unreachable or the service is overloaded.
    Unavailable(Unavailable),
    /// 500: anything else; the source is logged, never shown.
    Internal(BoxError),
}

/// Why a request was refused with 401, as the `www-authenticate` challenge
/// tells the client (RFC 6750).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Challenge {
    /// No `Authorization` header, or another scheme: a bare `Bearer` challenge.
    Missing,
    /// A bearer token that is not valid; the description is a fixed phrase
    /// (never the token), sent as `error_description`.
    InvalidToken(&'static str),
}

/// Why the service answered 503: the reason shown to the client and the
/// underlying error, which only reaches the log.
#[derive(Debug)]
pub struct Unavailable {
    /// A short, safe explanation for the client.
    pub reason: &'static str,
    /// The underlying failure, for the log.
    pub source: Option<BoxError>,
}

impl AppError {
    /// The HTTP status this error answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MalformedBody(_) => StatusCode::BAD_REQUEST,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Timeout => StatusCode::GATEWAY_TIMEOUT,
            Self::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable, machine-readable `code` member of the problem body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MalformedBody(_) => "malformed_body",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::Validation(_) => "validation_failed",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::Conflict(_) => "conflict",
            Self::Timeout | Self::BodyTimeout => "timeout",
            Self::Unavailable(_) => "service_unavailable",
            Self::Internal(_) => "internal",
        }
    }

    /// The human-readable `detail` member; never internal detail.
    pub fn detail(&self) -> Cow<'static, str> {
        match self {
            Self::MalformedBody(detail) | Self::Conflict(detail) => detail.clone(),
            Self::UnsupportedMediaType => {
                "request body must be application/json (charset utf-8)".into()
            }
            Self::PayloadTooLarge(limit) => {
                format!("request body is larger than the limit of {limit} bytes").into()
            }
            Self::Validation(_) => "request failed validation".into(),
            Self::NotFound => "the requested resource was not found".into(),
            Self::MethodNotAllowed(_) => "method not allowed on this resource".into(),
            Self::Unauthorized(Challenge::Missing) => {
                "this route needs a bearer token (Authorization: Bearer <token>)".into()
            }
            Self::Unauthorized(Challenge::InvalidToken(why)) => {
                format!("the bearer token is not valid: {why}").into()
            }
            Self::Forbidden(scope) => format!("the token lacks the scope {scope}").into(),
            Self::Timeout => "the request took too long and was abandoned".into(),
            Self::BodyTimeout => "the request body was not received in time".into(),
            Self::Unavailable(u) => u.reason.into(),
            Self::Internal(_) => "an internal error occurred".into(),
        }
    }

    /// A 503 for a dependency failure, keeping the cause for the log.
    pub fn unavailable(reason: &'static str, source: impl Into<BoxError>) -> Self {
        Self::Unavailable(Unavailable {
            reason,
            source: Some(source.into()),
        })
    }

    /// A 503 because the service is at its concurrency limit.
    pub fn overloaded() -> Self {
        Self::Unavailable(Unavailable {
            reason: "the service is overloaded; retry shortly",
            source: None,
        })
    }

    /// A 500 from any error; the error is logged, never shown.
    pub fn internal(source: impl Into<BoxError>) -> Self {
        Self::Internal(source.into())
    }

    /// The underlying cause, for the log (5xx only).
    pub fn source_chain(&self) -> Option<String> {
        let source: &(dyn StdError + 'static) = match self {
            Self::Internal(e) => e.as_ref(),
            Self::Unavailable(Unavailable {
                source: Some(e), ..
            }) => e.as_ref(),
            _ => return None,
        };
        Some(error_chain(source))
    }

    /// A response carrying this error in its extensions, with the status and
    /// headers set; the problem layer renders the body.
    pub fn into_response(self) -> crate::http::Response {
        let mut response = http::Response::new(Full::new(Bytes::new()));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        match &self {
            Self::MethodNotAllowed(allow) => {
                headers.insert(header::ALLOW, allow.clone());
            }
            Self::Unavailable(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            Self::Unauthorized(challenge) => {
                headers.insert(header::WWW_AUTHENTICATE, challenge.header());
            }
            Self::Forbidden(scope) => {
                let value = format!(r#"Bearer error="insufficient_scope", scope="{scope}""#);
                if let Ok(value) = HeaderValue::try_from(value) {
                    headers.insert(header::WWW_AUTHENTICATE, value);
                }
            }
            _ => {}
        }
        response.extensions_mut().insert(ErrorSlot::new(self));
        response
    }

    /// The problem+json body for this error, for `instance` and `request_id`.
    pub fn problem_body(&self, instance: &str, request_id: &str) -> Vec<u8> {
        problem::render(self, instance, request_id)
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.detail(), self.code())
    }
}

impl StdError for AppError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Self::Internal(e) => Some(e.as_ref()),
            Self::Unavailable(Unavailable {
                source: Some(e), ..
            }) => Some(e.as_ref()),
            _ => None,
        }
    }
}

impl Challenge {
    /// The `www-authenticate` value of this challenge.
    pub fn header(self) -> HeaderValue {
        match self {
            Self::Missing => HeaderValue::from_static("Bearer"),
            Self::InvalidToken(why) => HeaderValue::try_from(format!(
                r#"Bearer error="invalid_token", error_description="{why}""#
            ))
            .unwrap_or_else(|_| HeaderValue::from_static(r#"Bearer error="invalid_token""#)),
        }
    }
}

/// The slot in a response's extensions that carries its [`AppError`].
///
/// Extensions must be `Clone`; the error is not, so the slot shares it and the
/// problem layer takes it out.
#[derive(Debug, Clone)]
pub struct ErrorSlot(std::sync::Arc<std::sync::Mutex<Option<AppError>>>);

impl ErrorSlot {
    fn new(error: AppError) -> Self {
        Self(std::sync::Arc::new(std::sync::Mutex::new(Some(error))))
    }

    /// Takes the error out of the slot; `None` if it was taken already.
    pub fn take(&self) -> Option<AppError> {
        self.0.lock().ok()?.take()
    }

    /// Runs `f` on the error while it is still in the slot.
    pub fn inspect<R>(&self, f: impl FnOnce(&AppError) -> R) -> Option<R> {
        self.0.lock().ok()?.as_ref().map(f)
    }
}

/// Renders an error and every `source()` below it, `outer: inner: innermost`.
pub fn error_chain(error: &(dyn StdError + 'static)) -> String {
    let mut out = error.to_string();
    let mut next = error.source();
    while let Some(e) = next {
        let text = e.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = e.source();
    }
    out
}

#[cfg(test)]
mod tests;
