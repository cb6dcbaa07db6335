//! Path parameters: the `{id}` of a route, parsed strictly.

use uuid::Uuid;

use super::query::percent_decode_path;
use crate::error::{AppError, FieldError, Location};
use crate::http::Request;
use crate::router::PathParams;

/// Parses path parameter `name` as a UUID in the hyphenated 8-4-4-4-12 form
/// (any letter case); anything else is a 422 with location `path`.
pub fn uuid_param(req: &Request, name: &'static str) -> Result<Uuid, AppError> {
    let raw = req
        .extensions()
        .get::<PathParams>()
        .and_then(|p| p.get(req.uri().path(), name))
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
///
/// Of the forms `Uuid::try_parse` reads (simple, hyphenated, braced, URN),
/// only the hyphenated one is 36 characters long, and it checks each
/// character of it.
pub fn parse_hyphenated_uuid(text: &str) -> Option<Uuid> {
    if text.len() == 36 {
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
            "019ad3c4_1f5e-7c3a-9b1e-4c2d8f6a0b12",
            "+19ad3c4-1f5e-7c3a-9b1e-4c2d8f6a0b12",
            "019ad3c4-1f5e-7c3a-9b1e-4c2d8f6a0b\u{e9}",
            "019ad3c4-1f5e-7c3a-9b1e-4c2d-f6a0b12",
            "",
            "not-a-uuid",
        ] {
            assert!(parse_hyphenated_uuid(bad).is_none(), "{bad}");
        }
    }

    /// A request for `path` carrying the parameters the router found there.
    fn routed(path: &str) -> Request {
        let router = crate::router::Router::new(crate::router::RouteTable::new().route(
            "/items/{id}",
            http::Method::GET,
            crate::router::Access::Open,
            tower::service_fn(|_: Request| async { Ok(crate::http::Response::default()) }),
        ));
        let (_, _, params) = router.lookup(&http::Method::GET, path).unwrap();
        let mut request = http::Request::builder()
            .uri(path)
            .body(bytes::Bytes::new())
            .unwrap();
        request.extensions_mut().insert(params);
        request
    }

    #[test]
    fn uuid_params_are_decoded_then_parsed_strictly() {
        let id = "019ad3c4-1f5e-7c3a-9b1e-4c2d8f6a0b12";
        let parsed = uuid_param(&routed(&format!("/items/{id}")), "id").unwrap();
        assert_eq!(parsed.to_string(), id);
        // Percent-encoded hex digits are still the same id.
        let encoded = format!("/items/%30{}", &id[1..]);
        assert_eq!(uuid_param(&routed(&encoded), "id").unwrap(), parsed);
        for bad in [
            "/items/42",
            "/items/%zz",
            &format!("/items/{}", id.replace('-', "")),
        ] {
            let Err(AppError::Validation(problems)) = uuid_param(&routed(bad), "id") else {
                panic!("{bad} was accepted");
            };
            assert_eq!(problems.len(), 1);
            assert_eq!(problems[0].location, Location::Path);
            assert_eq!(problems[0].field, "id");
            assert_eq!(
                problems[0].message,
                "must be a UUID in the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"
            );
        }
        // A request the router gave no such parameter is refused the same way.
        assert!(uuid_param(&Request::new(bytes::Bytes::new()), "id").is_err());
        assert!(uuid_param(&routed(&format!("/items/{id}")), "other").is_err());
    }
}
