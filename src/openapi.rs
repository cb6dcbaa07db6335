//! The OpenAPI 3.1 document of the HTTP API and the `/docs` page that renders
//! it for people.
//!
//! Written by hand in one place, next to the types it describes; tests hold
//! it to the router (every route and method in both), to the JSON the types
//! produce, and to the error codes of [`AppError`].
//!
//! Schemas are exactly as strict as the server and no stricter: strings are
//! trimmed before their rules apply, so a schema cannot bound their raw
//! length (padding is accepted) — the rules are in the descriptions.

use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode, header};
use serde_json::{Map, Value, json};
use tower::service_fn;

use crate::error::AppError;
use crate::http::response::json_bytes;
use crate::router::RouteTable;
use crate::users::{cursor, service};
use crate::{Response, users};

/// Where the document is served.
pub const DOCUMENT_PATH: &str = "/api/v1/openapi.json";
/// Where the human-readable page is served.
pub const DOCS_PATH: &str = "/docs";

/// Every problem `code` the service can answer with.
pub const PROBLEM_CODES: [&str; 10] = [
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

/// Adds `/api/v1/openapi.json` and `/docs` to `table`; the document is
/// rendered once, here.
pub fn routes(table: RouteTable) -> RouteTable {
    let document = Bytes::from(serde_json::to_vec(&document()).unwrap_or_default());
    table
        .route(
            DOCUMENT_PATH,
            Method::GET,
            service_fn(move |_req| {
                let body = document.clone();
                async move { Ok::<_, AppError>(json_bytes(StatusCode::OK, body)) }
            }),
        )
        .route(
            DOCS_PATH,
            Method::GET,
            service_fn(|_req| async { Ok::<_, AppError>(docs_page()) }),
        )
}

fn docs_page() -> Response {
    let mut response = http::Response::new(http_body_util::Full::new(Bytes::from_static(
        DOCS_HTML.as_bytes(),
    )));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

const DOCS_HTML: &str = r##"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>backend — API docs</title>
  <link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js" crossorigin></script>
  <script>
    window.onload = () => {
      window.ui = SwaggerUIBundle({ url: "/api/v1/openapi.json", dom_id: "#swagger-ui" });
    };
  </script>
</body>
</html>
"##;

fn problem_content() -> Value {
    json!({"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}})
}

fn request_id_header() -> Value {
    json!({"x-request-id": {"$ref": "#/components/headers/RequestId"}})
}

/// A problem response described by `description`.
fn problem(description: &str) -> Value {
    json!({"description": description, "headers": request_id_header(), "content": problem_content()})
}

/// The 4XX and 5XX every route can answer (413, 503 overload, 504, 500…).
fn cross_cutting(responses: &mut Map<String, Value>) {
    responses.insert(
        "4XX".into(),
        problem("Client error: e.g. 413 body too large (any route), 408 body not received in time (`timeout`), 400/415 body problems."),
    );
    responses.insert(
        "5XX".into(),
        json!({
            "description": "Server error: 503 service_unavailable (database down, pool exhausted, overload; with retry-after), 504 timeout, 500 internal.",
            "headers": request_id_header(),
            "content": problem_content()
        }),
    );
}

fn ok_json(description: &str, schema: &Value) -> Value {
    json!({
        "description": description,
        "headers": request_id_header(),
        "content": {"application/json": {"schema": schema}}
    })
}

fn operation(
    id: &str,
    summary: &str,
    tags: &[&str],
    mut responses: Map<String, Value>,
    extra: Value,
) -> Value {
    cross_cutting(&mut responses);
    let mut op = json!({
        "operationId": id,
        "summary": summary,
        "tags": tags,
        "responses": responses,
    });
    if let (Value::Object(op), Value::Object(extra)) = (&mut op, extra) {
        op.extend(extra);
    }
    op
}

/// The HEAD twin of a GET operation: same status codes, headers only.
fn head_of(get: &Value, id: &str) -> Value {
    let mut head = get.clone();
    head["operationId"] = json!(id);
    head["summary"] = json!(format!(
        "{} (headers only)",
        get["summary"].as_str().unwrap_or("")
    ));
    if let Some(responses) = head["responses"].as_object_mut() {
        for response in responses.values_mut() {
            if let Some(r) = response.as_object_mut() {
                r.remove("content");
            }
        }
    }
    head
}

fn responses(entries: &[(&str, Value)]) -> Map<String, Value> {
    entries
        .iter()
        .map(|(status, value)| ((*status).to_owned(), value.clone()))
        .collect()
}

/// The whole document.
pub fn document() -> Value {
    let id_param = json!({
        "name": "id", "in": "path", "required": true,
        "description": "The user's id: a UUID in the hyphenated 8-4-4-4-12 form, any letter case; anything else is a 422.",
        "schema": {"type": "string", "format": "uuid"}
    });
    let user = json!({"$ref": "#/components/schemas/User"});
    let not_found = problem("No user with this id.");
    let invalid_path = problem("Validation failed: the id is not a UUID (location `path`).");
    let conflict = problem("Conflict: the email is taken (case-insensitively) by another user.");
    let body_problems = [
        (
            "400",
            problem(
                "The body is absent, empty, not JSON, or not a JSON object (`malformed_body`).",
            ),
        ),
        (
            "413",
            problem("The body is larger than the limit (`payload_too_large`)."),
        ),
        (
            "415",
            problem("The body is not `application/json` (UTF-8) (`unsupported_media_type`)."),
        ),
    ];

    let create = operation(
        "createUser",
        "Create a user",
        &["users"],
        responses(&[
            (
                "201",
                json!({
                    "description": "Created.",
                    "headers": {
                        "x-request-id": {"$ref": "#/components/headers/RequestId"},
                        "location": {"description": "The new user's URL, /api/v1/users/{id}.", "required": true, "schema": {"type": "string"}}
                    },
                    "content": {"application/json": {"schema": user}}
                }),
            ),
            body_problems[0].clone(),
            ("409", conflict.clone()),
            body_problems[1].clone(),
            body_problems[2].clone(),
            (
                "422",
                problem("Validation failed: every problem with the body is listed in `errors`."),
            ),
        ]),
        json!({"requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/UserCreate"}}}}}),
    );
    let list = operation(
        "listUsers",
        "List users, oldest first, with keyset pagination",
        &["users"],
        responses(&[
            (
                "200",
                ok_json(
                    "One page of users.",
                    &json!({"$ref": "#/components/schemas/UserPage"}),
                ),
            ),
            (
                "422",
                problem(
                    "Validation failed: an unknown, repeated or invalid query parameter, or a cursor this service did not issue (location `query`).",
                ),
            ),
        ]),
        json!({"parameters": [
            {"name": "limit", "in": "query", "required": false, "description": "Page size.",
             "schema": {"type": "integer", "minimum": 1, "maximum": service::MAX_LIMIT, "default": service::DEFAULT_LIMIT}},
            {"name": "cursor", "in": "query", "required": false,
             "description": "Opaque: the `next_cursor` of a previous page. Following it until it is null visits every matching user exactly once, in order.",
             "schema": {"type": "string", "pattern": cursor::PATTERN}},
            {"name": "is_active", "in": "query", "required": false, "description": "Only users with this flag.",
             "schema": {"type": "boolean"}}
        ]}),
    );
    let get = operation(
        "getUser",
        "Get a user",
        &["users"],
        responses(&[
            ("200", ok_json("The user.", &user)),
            ("404", not_found.clone()),
            ("422", invalid_path.clone()),
        ]),
        json!({"parameters": [id_param.clone()]}),
    );
    let update = operation(
        "updateUser",
        "Update some of a user's members",
        &["users"],
        responses(&[
            (
                "200",
                ok_json("The updated user (unchanged for `{}`).", &user),
            ),
            body_problems[0].clone(),
            ("404", not_found.clone()),
            ("409", conflict),
            body_problems[1].clone(),
            body_problems[2].clone(),
            (
                "422",
                problem(
                    "Validation failed: the id is not a UUID, or every problem with the body is listed in `errors`.",
                ),
            ),
        ]),
        json!({
            "parameters": [id_param.clone()],
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/UserUpdate"}}}}
        }),
    );
    let delete = operation(
        "deleteUser",
        "Delete a user",
        &["users"],
        responses(&[
            (
                "204",
                json!({"description": "Deleted.", "headers": request_id_header()}),
            ),
            ("404", not_found),
            ("422", invalid_path),
        ]),
        json!({"parameters": [id_param]}),
    );
    let healthz = operation(
        "healthz",
        "Liveness: the process answers; never touches the database",
        &["operations"],
        responses(&[(
            "200",
            ok_json("Alive.", &json!({"$ref": "#/components/schemas/Health"})),
        )]),
        json!({}),
    );
    let readiness = json!({"$ref": "#/components/schemas/Readiness"});
    let readyz = operation(
        "readyz",
        "Readiness: a database round trip within one second, and no shutdown under way",
        &["operations"],
        responses(&[
            ("200", ok_json("Ready.", &readiness)),
            (
                "503",
                json!({
                    "description": "Not ready: the database is unreachable or slow, or a shutdown began (application/json); or the service is overloaded (a problem).",
                    "headers": request_id_header(),
                    "content": {
                        "application/json": {"schema": readiness},
                        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
                    }
                }),
            ),
        ]),
        json!({}),
    );
    let openapi = operation(
        "openapi",
        "This document",
        &["operations"],
        responses(&[(
            "200",
            ok_json("The OpenAPI 3.1 document.", &json!({"type": "object"})),
        )]),
        json!({}),
    );
    let docs = operation(
        "docs",
        "This document, rendered for people",
        &["operations"],
        responses(&[(
            "200",
            json!({
                "description": "An HTML page (Swagger UI).",
                "headers": request_id_header(),
                "content": {"text/html": {"schema": {"type": "string"}}}
            }),
        )]),
        json!({}),
    );

    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "backend",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "User CRUD over PostgreSQL. Errors are RFC 9457 problems (application/problem+json). Every response carries x-request-id and x-content-type-options: nosniff. A request is checked in this order, the first failure answering: body size (413), path and method (404, 405 + Allow), path parameters (422), absent or empty body (400), content type (415), body syntax (400), body or query rules (422), the operation (404, 409). Query parameters are checked only on GET /api/v1/users. Timestamps are RFC 3339 UTC with microseconds. A write answered with 504 timeout has an unknown outcome; PATCH and DELETE can be retried as they are, a retried POST answers 409 if the first one landed."
        },
        "tags": [{"name": "users"}, {"name": "operations"}],
        "paths": {
            users::COLLECTION: {"get": list.clone(), "head": head_of(&list, "listUsersHead"), "post": create},
            "/api/v1/users/{id}": {"get": get.clone(), "head": head_of(&get, "getUserHead"), "patch": update, "delete": delete},
            "/healthz": {"get": healthz.clone(), "head": head_of(&healthz, "healthzHead")},
            "/readyz": {"get": readyz.clone(), "head": head_of(&readyz, "readyzHead")},
            DOCUMENT_PATH: {"get": openapi.clone(), "head": head_of(&openapi, "openapiHead")},
            DOCS_PATH: {"get": docs.clone(), "head": head_of(&docs, "docsHead")}
        },
        "components": {
            "headers": {
                "RequestId": {
                    "description": "The request's id: the incoming x-request-id if it is 1 to 128 characters of [A-Za-z0-9._:-], otherwise a fresh UUID. Also in the problem body and every log line of the request.",
                    "required": true,
                    "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"}
                }
            },
            "schemas": schemas()
        }
    })
}

/// Unicode White_Space, what trimming removes (Rust's `char::is_whitespace`),
/// as a regular-expression class body.
const WHITE_SPACE: &str =
    "\\t\\n\\x0b\\x0c\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";

/// Control characters (general category Cc, Rust's `char::is_control`).
const CONTROL: &str = "\\x00-\\x1f\\x7f-\\x9f";

/// Exactly the emails the server accepts: optional surrounding white space,
/// then 3 to 254 characters with no white space or control characters,
/// exactly one `@`, 1 to 64 characters before it and at least one after.
fn email_pattern() -> String {
    let ws = WHITE_SPACE;
    let core =
        format!("[^@{CONTROL} \\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]");
    let any =
        format!("[^{CONTROL} \\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]");
    format!("^[{ws}]*(?={any}{{3,254}}[{ws}]*$){core}{{1,64}}@{core}+[{ws}]*$")
}

/// Exactly the full names the server accepts: optional surrounding white
/// space around at most 255 characters with no control characters.
fn full_name_pattern() -> String {
    let ws = WHITE_SPACE;
    let visible = format!("[^{CONTROL}{ws}]");
    let inner = format!("[^{CONTROL}]");
    format!("^[{ws}]*(?:{visible}(?:{inner}{{0,253}}{visible})?)?[{ws}]*$")
}

fn schemas() -> Value {
    let email_rules = "Trimmed (Unicode White_Space) first; then 3 to 254 characters, exactly one @ with 1 to 64 characters before it and a non-empty domain, no whitespace or control characters. Unique case-insensitively (Unicode lower-casing). Stored and returned as given, after trimming.";
    let name_rules = "Trimmed first; then at most 255 characters, no control characters; blank is stored as null.";
    json!({
        "User": {
            "type": "object",
            "required": ["id", "email", "full_name", "is_active", "created_at", "updated_at"],
            "additionalProperties": false,
            "properties": {
                "id": {"type": "string", "format": "uuid", "description": "UUIDv7, lower-case, hyphenated; sorts by creation time."},
                "email": {"type": "string", "minLength": 3, "maxLength": 254},
                "full_name": {"type": ["string", "null"], "minLength": 1, "maxLength": 255},
                "is_active": {"type": "boolean"},
                "created_at": {"type": "string", "format": "date-time", "description": "RFC 3339, UTC (Z), microseconds."},
                "updated_at": {"type": "string", "format": "date-time", "description": "Moves on every successful update."}
            }
        },
        "UserCreate": {
            "type": "object",
            "required": ["email"],
            "additionalProperties": false,
            "properties": {
                "email": {"type": "string", "pattern": email_pattern(), "description": email_rules},
                "full_name": {"type": ["string", "null"], "pattern": full_name_pattern(), "description": name_rules, "default": null},
                "is_active": {"type": "boolean", "default": true}
            }
        },
        "UserUpdate": {
            "type": "object",
            "additionalProperties": false,
            "description": "Any subset of the members; {} is a no-op that returns the user unchanged. Any other body updates updated_at, even with unchanged values. email and is_active may not be null; full_name null clears it.",
            "properties": {
                "email": {"type": "string", "pattern": email_pattern(), "description": email_rules},
                "full_name": {"type": ["string", "null"], "pattern": full_name_pattern(), "description": name_rules},
                "is_active": {"type": "boolean"}
            }
        },
        "UserPage": {
            "type": "object",
            "required": ["items", "next_cursor"],
            "additionalProperties": false,
            "properties": {
                "items": {"type": "array", "maxItems": service::MAX_LIMIT, "items": {"$ref": "#/components/schemas/User"}},
                "next_cursor": {"type": ["string", "null"], "pattern": cursor::PATTERN, "description": "Non-null only if more matching users existed when the page was read."}
            }
        },
        "Health": {
            "type": "object",
            "required": ["status"],
            "additionalProperties": false,
            "properties": {"status": {"const": "ok"}}
        },
        "Readiness": {
            "type": "object",
            "required": ["status", "checks"],
            "additionalProperties": false,
            "properties": {
                "status": {"enum": ["ready", "unavailable"]},
                "checks": {
                    "type": "object",
                    "required": ["database"],
                    "additionalProperties": false,
                    "properties": {
                        "database": {"enum": ["ok", "timeout", "unreachable", "skipped"]},
                        "server": {"const": "shutting_down"}
                    }
                }
            }
        },
        "Problem": {
            "type": "object",
            "description": "RFC 9457 problem details. `errors` appears on 422 only.",
            "required": ["type", "title", "status", "code", "detail", "instance", "request_id"],
            "additionalProperties": false,
            "properties": {
                "type": {"const": "about:blank"},
                "title": {"type": "string"},
                "status": {"type": "integer", "minimum": 400, "maximum": 599},
                "code": {"enum": PROBLEM_CODES},
                "detail": {"type": "string"},
                "instance": {"type": "string", "description": "The request's path as received (not percent-decoded), without the query."},
                "request_id": {"type": "string"},
                "errors": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["location", "field", "message"],
                        "additionalProperties": false,
                        "properties": {
                            "location": {"enum": ["body", "query", "path"]},
                            "field": {"type": "string"},
                            "message": {"type": "string"}
                        }
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::AppError;
    use crate::timestamp::Timestamp;
    use crate::users::model::User;

    fn property_names(schema: &Value) -> Vec<String> {
        let mut names: Vec<String> = schema["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        names.sort();
        names
    }

    #[test]
    fn the_user_schema_matches_the_serialised_type() {
        let user = User {
            id: uuid::Uuid::now_v7(),
            email: "a@b.c".into(),
            full_name: None,
            is_active: true,
            created_at: Timestamp::now(),
            updated_at: Timestamp::now(),
        };
        let json = serde_json::to_value(&user).unwrap();
        let mut keys: Vec<String> = json.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        let doc = document();
        assert_eq!(property_names(&doc["components"]["schemas"]["User"]), keys);
    }

    #[test]
    fn request_schemas_list_exactly_the_accepted_members() {
        let doc = document();
        let mut members: Vec<String> = service::MEMBERS.iter().map(|m| (*m).to_owned()).collect();
        members.sort();
        for schema in ["UserCreate", "UserUpdate"] {
            assert_eq!(
                property_names(&doc["components"]["schemas"][schema]),
                members,
                "{schema}"
            );
        }
    }

    #[test]
    fn problem_codes_are_every_code_the_service_uses() {
        let errors = [
            AppError::MalformedBody("".into()),
            AppError::UnsupportedMediaType,
            AppError::PayloadTooLarge(1),
            AppError::Validation(vec![]),
            AppError::NotFound,
            AppError::MethodNotAllowed(HeaderValue::from_static("GET")),
            AppError::Conflict("".into()),
            AppError::Timeout,
            AppError::BodyTimeout,
            AppError::overloaded(),
            AppError::internal("x"),
        ];
        let mut codes: Vec<&str> = errors.iter().map(AppError::code).collect();
        codes.dedup();
        assert_eq!(codes, PROBLEM_CODES);
    }

    #[test]
    fn every_operation_answers_4xx_and_5xx_problems() {
        let doc = document();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let responses = op["responses"].as_object().unwrap();
                assert!(responses.contains_key("4XX"), "{method} {path}");
                assert!(responses.contains_key("5XX"), "{method} {path}");
            }
        }
    }
}
