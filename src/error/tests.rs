//! Unit tests of the error type: statuses, codes, details, bodies.

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
        (
            AppError::Unauthorized(Challenge::Missing),
            401,
            "unauthorized",
        ),
        (AppError::Forbidden("users:read"), 403, "forbidden"),
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

#[test]
fn refusals_carry_their_bearer_challenge() {
    let challenge = |error: AppError| {
        let response = error.into_response();
        response.headers()[header::WWW_AUTHENTICATE].clone()
    };
    assert_eq!(
        challenge(AppError::Unauthorized(Challenge::Missing)),
        "Bearer"
    );
    assert_eq!(
        challenge(AppError::Unauthorized(Challenge::InvalidToken("expired"))),
        r#"Bearer error="invalid_token", error_description="expired""#
    );
    assert_eq!(
        challenge(AppError::Forbidden("users:write")),
        r#"Bearer error="insufficient_scope", scope="users:write""#
    );
}
