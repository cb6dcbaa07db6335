//! The `application/problem+json` body (RFC 9457) of an [`AppError`].
//!
//! A 422 lists at most [`MAX_ERRORS`] problems: a request can hold any
//! number of mistakes (thousands of unknown members fit in a 64 KiB body),
//! and echoing each would make the answer many times larger than the
//! question. When more were found, the first ones are listed and the body
//! says `"errors_truncated": true`.

use std::borrow::Cow;
use std::fmt::Write as _;

use serde::Serialize;

use super::{AppError, FieldError};

/// The most problems a 422 lists in `errors`.
pub const MAX_ERRORS: usize = 20;

/// The body of a problem response.
#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    title: &'static str,
    status: u16,
    code: &'static str,
    detail: Cow<'static, str>,
    instance: &'a str,
    request_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<&'a [FieldError]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors_truncated: Option<bool>,
}

/// The problem body of `error`, for the request at `instance` with id
/// `request_id`.
///
/// Serialising these fields cannot fail; should it ever, the client gets a
/// fixed body with the same status and code, and the log says why, rather
/// than an empty body.
pub fn render(error: &AppError, instance: &str, request_id: &str) -> Vec<u8> {
    let status = error.status();
    let title = status.canonical_reason().unwrap_or("Error");
    let problem = Problem {
        kind: "about:blank",
        title,
        status: status.as_u16(),
        code: error.code(),
        detail: error.detail(),
        instance,
        request_id,
        errors: None,
        errors_truncated: None,
    };
    let problem = match error {
        AppError::Validation(errors) => Problem {
            errors: Some(&errors[..errors.len().min(MAX_ERRORS)]),
            errors_truncated: (errors.len() > MAX_ERRORS).then_some(true),
            ..problem
        },
        _ => problem,
    };
    match serde_json::to_vec(&problem) {
        Ok(body) => body,
        Err(e) => {
            tracing::error!(error = %e, "a problem body could not be serialised; a fixed one was sent");
            fallback(title, status.as_u16(), error.code())
        }
    }
}

/// A problem body written without serde, from fixed ASCII text only.
fn fallback(title: &str, status: u16, code: &str) -> Vec<u8> {
    let mut body = String::with_capacity(128);
    let _ = write!(
        body,
        r#"{{"type":"about:blank","title":"{title}","status":{status},"code":"{code}","detail":"the error could not be described"}}"#
    );
    body.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Location;

    fn validation(count: usize) -> serde_json::Value {
        let errors = (0..count)
            .map(|i| FieldError::new(Location::Body, format!("m{i}"), "is not a known member"))
            .collect();
        let body = render(&AppError::Validation(errors), "/x", "id");
        serde_json::from_slice(&body).unwrap()
    }

    #[test]
    fn a_422_lists_at_most_twenty_problems_and_says_so() {
        for count in [1, MAX_ERRORS] {
            let body = validation(count);
            assert_eq!(body["errors"].as_array().unwrap().len(), count);
            assert!(body.get("errors_truncated").is_none(), "{count}");
        }
        for count in [MAX_ERRORS + 1, 7000] {
            let body = validation(count);
            let errors = body["errors"].as_array().unwrap();
            assert_eq!(errors.len(), MAX_ERRORS);
            assert_eq!(errors[0]["field"], "m0", "the first ones are kept");
            assert_eq!(
                errors[MAX_ERRORS - 1]["field"],
                format!("m{}", MAX_ERRORS - 1)
            );
            assert_eq!(body["errors_truncated"], true);
        }
    }

    #[test]
    fn other_problems_have_neither_member() {
        let body: serde_json::Value =
            serde_json::from_slice(&render(&AppError::NotFound, "/x", "id")).unwrap();
        assert!(body.get("errors").is_none() && body.get("errors_truncated").is_none());
    }

    #[test]
    fn the_fallback_is_a_valid_problem() {
        let body: serde_json::Value =
            serde_json::from_slice(&fallback("Not Found", 404, "not_found")).unwrap();
        assert_eq!(body["type"], "about:blank");
        assert_eq!(body["title"], "Not Found");
        assert_eq!(body["status"], 404);
        assert_eq!(body["code"], "not_found");
        assert!(body["detail"].is_string());
    }
}
