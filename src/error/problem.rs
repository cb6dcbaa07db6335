//! The `application/problem+json` body (RFC 9457) of an [`AppError`].

use std::borrow::Cow;
use std::fmt::Write as _;

use serde::Serialize;

use super::{AppError, FieldError};

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
        errors: match error {
            AppError::Validation(errors) => Some(errors),
            _ => None,
        },
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
