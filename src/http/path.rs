//! Path parameters: the `{id}` of a route, parsed strictly.

use uuid::Uuid;

use super::query::percent_decode_path;
use crate::Request;
use crate::error::{AppError, FieldError, Location};
use crate::router::PathParams;

/// Parses path parameter `name` as a UUID in the hyphenated 8-4-4-4-12 form
/// (any letter case); anything else is a 422 with location `path`.
pub fn uuid_param(req: &Request, name: &'static str) -> Result<Uuid, AppError> {
    let raw = req
        .extensions()
        .get::<PathParams>()
        .and_then(|p| p.get(name))
        .unwrap_or("");
    percent_decode_path(raw)
        .and_then(|text| parse_hyphenated_uuid(&text))
        .ok_or_else(|| {
            AppError::Validation(vec![FieldError::new(
                Location::Path,
                name,
                "must be a UUID in the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
            )])
        })
}

/// Accepts exactly 36 characters: hex digits with hyphens at 8, 13, 18, 23.
pub fn parse_hyphenated_uuid(text: &str) -> Option<Uuid> {
    let bytes = text.as_bytes();
    let shaped = bytes.len() == 36
        && bytes.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        });
    if shaped {
        Uuid::try_parse(text).ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_hyphenated_form_is_a_uuid() {
        let id = "019ad3c4-1f5e-7c3a-9b1e-4c2d8f6a0b12";
        assert_eq!(parse_hyphenated_uuid(id).unwrap().to_string(), id);
        assert_eq!(
            parse_hyphenated_uuid(&id.to_uppercase())
                .unwrap()
                .to_string(),
            id
        );
        for bad in [
            "019ad3c41f5e7c3a9b1e4c2d8f6a0b12",
            "{019ad3c4-1f5e-7c3a-9b1e-4c2d8f6a0b12}",
            "urn:uuid:019ad3c4-1f5e-7c3a-9b1e-4c2d8f6a0b12",
            "019ad3c4-1f5e-7c3a-9b1e-4c2d8f6a0b1g",
            "019ad3c4-1f5e-7c3a-9b1e4-c2d8f6a0b12",
            "019ad3c4-1f5e-7c3a-9b1e-4c2d8f6a0b123",
            "",
            "not-a-uuid",
        ] {
            assert!(parse_hyphenated_uuid(bad).is_none(), "{bad}");
        }
    }
}
