//! Reading a JSON object from a request body, in API.md's order of checks:
//! absent or empty (400), content type (415), syntax or not an object (400).
//!
//! Members are kept in order and duplicates are kept too, so validation can
//! report a repeated member instead of silently taking the last one.

use std::fmt;

use http::header;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use crate::error::AppError;
use crate::http::Request;

/// The members of a JSON object, in order, duplicates included.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonObject(pub Vec<(String, Value)>);

impl<'de> Deserialize<'de> for JsonObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectVisitor;

        impl<'de> Visitor<'de> for ObjectVisitor {
            type Value = JsonObject;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<JsonObject, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(4).min(16));
                while let Some((key, value)) = map.next_entry::<String, Value>()? {
                    members.push((key, value));
                }
                Ok(JsonObject(members))
            }
        }

        deserializer.deserialize_map(ObjectVisitor)
    }
}

/// Parses the body of `req` as a JSON object.
pub fn json_object(req: &Request) -> Result<JsonObject, AppError> {
    let body = req.body();
    if body.is_empty() {
        return Err(AppError::MalformedBody(
            "a JSON request body is required".into(),
        ));
    }
    if !is_json_content_type(req.headers().get(header::CONTENT_TYPE)) {
        return Err(AppError::UnsupportedMediaType);
    }
    parse_object(body)
}

/// Parses `bytes` as a JSON object (the syntax check alone).
pub fn parse_object(bytes: &[u8]) -> Result<JsonObject, AppError> {
    serde_json::from_slice(bytes).map_err(|e| {
        let detail = if e.is_data() {
            "the request body must be a JSON object".to_owned()
        } else {
            format!("the request body is not valid JSON: {e}")
        };
        AppError::MalformedBody(detail.into())
    })
}

/// True for `application/json` with no parameter or `charset=utf-8`.
fn is_json_content_type(value: Option<&http::HeaderValue>) -> bool {
    let Some(value) = value.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let mut parts = value.split(';');
    let media_type = parts.next().unwrap_or("").trim();
    if !media_type.eq_ignore_ascii_case("application/json") {
        return false;
    }
    parts.all(|param| {
        let Some((name, value)) = param.split_once('=') else {
            return false;
        };
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        name.trim().eq_ignore_ascii_case("charset") && value.eq_ignore_ascii_case("utf-8")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn accepts(ct: &str) -> bool {
        is_json_content_type(Some(&HeaderValue::from_str(ct).unwrap()))
    }

    #[test]
    fn content_types() {
        for ok in [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            "application/json;charset=UTF-8",
            "application/json; charset=\"utf-8\"",
        ] {
            assert!(accepts(ok), "{ok}");
        }
        for bad in [
            "text/plain",
            "application/merge-patch+json",
            "application/json; charset=latin1",
            "application/json; boundary=x",
            "application/json;",
            "application/jsonx",
            "",
        ] {
            assert!(!accepts(bad), "{bad}");
        }
        assert!(!is_json_content_type(None));
    }

    #[test]
    fn objects_keep_order_and_duplicates() {
        let obj = parse_object(br#"{"b":1,"a":2,"b":3}"#).unwrap();
        let keys: Vec<_> = obj.0.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["b", "a", "b"]);
    }

    #[test]
    fn non_objects_and_bad_syntax_are_malformed() {
        for bad in [
            &b"[]"[..],
            b"1",
            b"null",
            b"\"x\"",
            b"{",
            b"{} x",
            b"\xff\xfe",
            b"{\"a\":}",
        ] {
            assert!(
                matches!(parse_object(bad), Err(AppError::MalformedBody(_))),
                "{bad:?}"
            );
        }
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(matches!(
            parse_object(deep.as_bytes()),
            Err(AppError::MalformedBody(_))
        ));
    }

    fn request(content_type: Option<&str>, body: &'static [u8]) -> Request {
        let mut request = Request::new(bytes::Bytes::from_static(body));
        if let Some(ct) = content_type {
            request
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
        }
        request
    }

    #[test]
    fn checks_come_in_api_order_absent_then_type_then_syntax() {
        let json = Some("application/json");
        let ok = json_object(&request(json, br#"{"a":1}"#)).unwrap();
        assert_eq!(ok.0, [("a".to_owned(), serde_json::json!(1))]);
        // An empty body is a 400 whatever its type.
        for ct in [json, Some("text/plain"), None] {
            let Err(AppError::MalformedBody(detail)) = json_object(&request(ct, b"")) else {
                panic!("{ct:?}: not a 400");
            };
            assert_eq!(detail, "a JSON request body is required");
        }
        // A body of another type is a 415 even when it is not JSON either.
        for ct in [Some("text/plain"), None] {
            assert!(matches!(
                json_object(&request(ct, b"{")),
                Err(AppError::UnsupportedMediaType)
            ));
        }
        let Err(AppError::MalformedBody(detail)) = json_object(&request(json, b"[1]")) else {
            panic!("an array is not an object");
        };
        assert_eq!(detail, "the request body must be a JSON object");
        let Err(AppError::MalformedBody(detail)) = json_object(&request(json, b"{\"a\":")) else {
            panic!("truncated JSON was accepted");
        };
        assert!(
            detail.starts_with("the request body is not valid JSON: "),
            "{detail}"
        );
    }
}
