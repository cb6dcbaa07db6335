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
pub const CODES: [&str; 10] = [
    "malformed_body",
    "unsupported_media_type",
    "payload_too_large",
    "validation_failed",
    "not_found",
    "method_not_allowed",
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
mod tests {
    use super::*;

    fn problem(error: &AppError) -> serde_json::Value {
        serde_json::from_slice(&error.problem_body("/x", "rid")).unwrap()
    }

    #[test]
    fn every_variant_has_its_status_and_code() {
        let cases: Vec<(AppError, u16, &str)> = vec![
            (AppError::MalformedBody("x".into()), 400, "malformed_body"),
            (
                AppError::UnsupportedMediaType,
                415,
                "unsupported_media_type",
            ),
            (AppError::PayloadTooLarge(10), 413, "payload_too_large"),
            (AppError::Validation(vec![]), 422, "validation_failed"),
            (AppError::NotFound, 404, "not_found"),
            (
                AppError::MethodNotAllowed(HeaderValue::from_static("GET")),
                405,
                "method_not_allowed",
            ),
            (AppError::Conflict("taken".into()), 409, "conflict"),
            (AppError::Timeout, 504, "timeout"),
            (AppError::BodyTimeout, 408, "timeout"),
            (AppError::overloaded(), 503, "service_unavailable"),
            (AppError::internal("boom"), 500, "internal"),
        ];
        let mut seen: Vec<&str> = cases.iter().map(|(e, _, _)| e.code()).collect();
        seen.dedup();
        assert_eq!(seen, CODES, "CODES lists every code, in order");
        for (error, status, code) in cases {
            assert_eq!(error.status().as_u16(), status);
            assert_eq!(error.code(), code);
            let body = problem(&error);
            assert_eq!(body["status"], status);
            assert_eq!(body["code"], code);
            assert_eq!(body["type"], "about:blank");
            assert_eq!(body["instance"], "/x");
            assert_eq!(body["request_id"], "rid");
            assert_eq!(body.get("errors").is_some(), status == 422, "{code}");
        }
    }

    #[test]
    fn internal_detail_never_reaches_the_body() {
        let error = AppError::internal("SELECT secret FROM users: password=hunter2");
        let body = String::from_utf8(error.problem_body("/x", "rid")).unwrap();
        assert!(!body.contains("hunter2"));
        assert!(!body.contains("SELECT"));
        assert!(error.source_chain().unwrap().contains("hunter2"));
    }

    #[test]
    fn validation_lists_every_problem() {
        let error = AppError::Validation(vec![
            FieldError::new(Location::Body, "email", "is required"),
            FieldError::new(Location::Body, "is_active", "must be a boolean"),
        ]);
        let body = problem(&error);
        assert_eq!(body["errors"].as_array().unwrap().len(), 2);
        assert_eq!(body["errors"][1]["location"], "body");
        assert_eq!(body["errors"][1]["field"], "is_active");
    }

    #[test]
    fn refusal_headers_are_set() {
        let response = AppError::overloaded().into_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        let response =
            AppError::MethodNotAllowed(HeaderValue::from_static("GET, HEAD")).into_response();
        assert_eq!(response.headers()[header::ALLOW], "GET, HEAD");
        assert!(response.extensions().get::<ErrorSlot>().is_some());
    }

    #[test]
    fn every_detail_is_fixed_text_for_the_client() {
        let cases: Vec<(AppError, &str)> = vec![
            (AppError::MalformedBody("bad".into()), "bad"),
            (
                AppError::UnsupportedMediaType,
                "request body must be application/json (charset utf-8)",
            ),
            (
                AppError::PayloadTooLarge(64),
                "request body is larger than the limit of 64 bytes",
            ),
            (AppError::Validation(vec![]), "request failed validation"),
            (AppError::NotFound, "the requested resource was not found"),
            (
                AppError::MethodNotAllowed(HeaderValue::from_static("GET")),
                "method not allowed on this resource",
            ),
            (AppError::Conflict("taken".into()), "taken"),
            (
                AppError::Timeout,
                "the request took too long and was abandoned",
            ),
            (
                AppError::BodyTimeout,
                "the request body was not received in time",
            ),
            (
                AppError::overloaded(),
                "the service is overloaded; retry shortly",
            ),
            (
                AppError::unavailable("the database is down", "io: refused"),
                "the database is down",
            ),
            (AppError::internal("secret"), "an internal error occurred"),
        ];
        for (error, detail) in cases {
            assert_eq!(error.detail(), detail);
            assert_eq!(problem(&error)["detail"], detail);
            assert_eq!(error.to_string(), format!("{detail} ({})", error.code()));
        }
        let body = problem(&AppError::Conflict("taken".into()));
        assert_eq!(body["title"], "Conflict");
    }

    #[test]
    fn only_5xx_errors_carry_a_cause_for_the_log() {
        let unavailable = AppError::unavailable("down", "connection refused");
        assert_eq!(
            unavailable.source_chain().as_deref(),
            Some("connection refused")
        );
        assert_eq!(
            StdError::source(&unavailable).map(ToString::to_string),
            Some("connection refused".into())
        );
        let internal = AppError::internal("boom");
        assert_eq!(internal.source_chain().as_deref(), Some("boom"));
        assert_eq!(
            StdError::source(&internal).map(ToString::to_string),
            Some("boom".into())
        );
        for error in [
            AppError::overloaded(),
            AppError::NotFound,
            AppError::Timeout,
            AppError::Conflict("taken".into()),
        ] {
            assert!(error.source_chain().is_none(), "{error}");
            assert!(StdError::source(&error).is_none(), "{error}");
        }
    }

    #[derive(Debug)]
    struct Layered(&'static str, Option<Box<Layered>>);

    impl fmt::Display for Layered {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl StdError for Layered {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            self.1.as_deref().map(|e| e as &(dyn StdError + 'static))
        }
    }

    #[test]
    fn error_chains_join_causes_and_skip_repeats() {
        let chain = Layered(
            "query failed",
            Some(Box::new(Layered(
                "db error",
                Some(Box::new(Layered("connection reset", None))),
            ))),
        );
        assert_eq!(
            error_chain(&chain),
            "query failed: db error: connection reset"
        );
        // Wrappers often repeat their source's text: it is written once.
        let repeated = Layered(
            "error: timed out",
            Some(Box::new(Layered("timed out", None))),
        );
        assert_eq!(error_chain(&repeated), "error: timed out");
        assert_eq!(error_chain(&Layered("alone", None)), "alone");
    }

    #[test]
    fn the_error_slot_gives_its_error_once() {
        let response = AppError::NotFound.into_response();
        assert_eq!(response.status(), 404);
        assert!(response.headers().is_empty());
        let slot = response.extensions().get::<ErrorSlot>().unwrap().clone();
        assert_eq!(slot.inspect(AppError::code), Some("not_found"));
        assert!(matches!(slot.take(), Some(AppError::NotFound)));
        assert!(slot.take().is_none());
        assert_eq!(slot.inspect(AppError::code), None);
    }
}
