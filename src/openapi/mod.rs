//! The OpenAPI 3.1 document of the HTTP API, assembled from the fragments
//! of the resources listed in [`crate::app::RESOURCES`], and the `/docs`
//! page that renders it for people.
//!
//! Each resource describes its own paths and schemas ([`Document`]); this
//! module adds what is shared (the problem schema, the request-id header,
//! the document's own routes). A test holds the document to the route table:
//! every route documented, every documented path routed, same methods.

use bytes::Bytes;
use http::{Method, StatusCode};
use serde_json::{Map, Value, json};
use tower::service_fn;

use crate::config::AuthMode;
use crate::error::problem::MAX_ERRORS;
use crate::error::{AppError, CODES};
use crate::http::response::json_bytes;
use crate::resource::Resource;
use crate::router::{Access, RouteTable};

pub mod docs;
pub mod parts;
pub mod security;
pub mod text;

/// Where the document is served.
pub const DOCUMENT_PATH: &str = "/api/v1/openapi.json";
/// Where the human-readable page is served.
pub const DOCS_PATH: &str = docs::PAGE;

/// The parts of the document a resource contributes.
#[derive(Debug, Default)]
pub struct Document {
    tags: Vec<Value>,
    paths: Map<String, Value>,
    schemas: Map<String, Value>,
}

impl Document {
    /// Adds a tag (a group of operations in the rendered page).
    pub fn tag(&mut self, name: &str, description: &str) {
        self.tags
            .push(json!({"name": name, "description": description}));
    }

    /// Adds the path item of `template`.
    ///
    /// # Panics
    /// When the path is already described: a programming error, caught by
    /// the document's tests.
    pub fn path(&mut self, template: &str, item: Value) {
        assert!(
            self.paths.insert(template.to_owned(), item).is_none(),
            "{template} is described twice"
        );
    }

    /// Adds the schema `name` to the components.
    ///
    /// # Panics
    /// When the name is taken: a programming error.
    pub fn schema(&mut self, name: &str, schema: Value) {
        assert!(
            self.schemas.insert(name.to_owned(), schema).is_none(),
            "schema {name} is defined twice"
        );
    }
}

/// The whole document: every resource's fragment, this module's own
/// operations and the shared components.
pub fn document(resources: &[Resource]) -> Value {
    let mut doc = Document::default();
    for resource in resources {
        (resource.openapi)(&mut doc);
    }
    describe_self(&mut doc);
    doc.schema("Problem", problem_schema());
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "backend",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "A REST API over PostgreSQL. Errors are RFC 9457 problems (application/problem+json). Every response carries x-request-id and x-content-type-options: nosniff. Every response of a resource route (/api/v1/... except this document), errors included, carries cache-control: no-store: they hold personal data. A request is checked in this order, the first failure answering: body size (413), path and method (404, 405 + Allow), path parameters (422), absent or empty body (400), content type (415), body syntax (400), body or query rules (422), the operation (404, 409). Query parameters are checked only on list routes. Timestamps are RFC 3339 UTC with microseconds. A write answered with 504 timeout has an unknown outcome; PATCH and DELETE can be retried as they are, a retried POST answers 409 if the first one landed."
        },
        "tags": doc.tags,
        "paths": doc.paths,
        "components": {
            "headers": {
                "RequestId": {
                    "description": "The request's id: the incoming x-request-id if it is 1 to 128 characters of [A-Za-z0-9._:-], otherwise a fresh UUID. Also in the problem body and every log line of the request.",
                    "required": true,
                    "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"}
                }
            },
            "schemas": doc.schemas
        }
    })
}

/// The document in its wire form.
///
/// # Panics
/// If it cannot be serialised, which would be a programming error: the app
/// calls this while it builds its routes, before it listens, so the process
/// stops at start-up rather than serving an empty document.
pub fn render(resources: &[Resource]) -> Bytes {
    render_value(&document(resources))
}

fn render_value(document: &Value) -> Bytes {
    match serde_json::to_vec(document) {
        Ok(bytes) => Bytes::from(bytes),
        Err(e) => panic!("the OpenAPI document cannot be serialised: {e}"),
    }
}

/// The document of `resources` with the security `auth` asks for, read
/// from each route's access in `table`: what `/api/v1/openapi.json` serves
/// and `backend openapi` prints.
pub fn secured_document(resources: &[Resource], table: &RouteTable, auth: &AuthMode) -> Value {
    let mut document = document(resources);
    if let AuthMode::Oidc(oidc) = auth {
        security::apply(&mut document, &table.accesses(), oidc);
    }
    document
}

/// Adds `/api/v1/openapi.json`, `/docs` and the page's files to `table`;
/// the document of `resources` (with the security `auth` asks for, from
/// each route's access) is rendered once, here.
pub fn routes(table: RouteTable, resources: &[Resource], auth: &AuthMode) -> RouteTable {
    let document = render_value(&secured_document(resources, &table, auth));
    let provider = match auth {
        AuthMode::Oidc(oidc) => docs::origin(&oidc.issuer).map(str::to_owned),
        AuthMode::None => None,
    };
    let policy = docs::content_security_policy(provider.as_deref());
    let asset_policy = policy.clone();
    table
        .route(
            DOCUMENT_PATH,
            Method::GET,
            Access::Open,
            service_fn(move |_req| {
                let body = document.clone();
                async move { Ok::<_, AppError>(json_bytes(StatusCode::OK, body)) }
            }),
        )
        .route(
            DOCS_PATH,
            Method::GET,
            Access::Open,
            service_fn(move |_req| {
                let page = docs::page(&policy);
                async move { Ok::<_, AppError>(page) }
            }),
        )
        .route(
            docs::ASSETS,
            Method::GET,
            Access::Open,
            service_fn(move |req| {
                let answer = docs::asset(&req, &asset_policy);
                async move { answer }
            }),
        )
}

/// The document's own two operations.
fn describe_self(doc: &mut Document) {
    let openapi = parts::operation(
        "openapi",
        "This document",
        "operations",
        &[(
            "200",
            parts::ok_json("The OpenAPI 3.1 document.", &json!({"type": "object"})),
        )],
        json!({}),
    );
    let docs = parts::operation(
        "docs",
        "This document, rendered for people",
        "operations",
        &[(
            "200",
            json!({
                "description": "An HTML page (Swagger UI, served by the service itself; content-security-policy set).",
                "headers": parts::request_id_header(),
                "content": {"text/html": {"schema": {"type": "string"}}}
            }),
        )],
        json!({}),
    );
    let names: Vec<&str> = docs::ASSET_FILES.iter().map(|a| a.name).collect();
    let assets = parts::operation(
        "docsAsset",
        "A file of the rendered page (Swagger UI, pinned, served by the service itself)",
        "operations",
        &[
            (
                "200",
                json!({
                    "description": "The file; the large ones gzip-compressed (content-encoding: gzip).",
                    "headers": parts::request_id_header(),
                    "content": {"*/*": {"schema": {"type": "string"}}}
                }),
            ),
            ("404", parts::problem("No such file.", &["not_found"])),
        ],
        json!({"parameters": [{
            "name": "asset", "in": "path", "required": true,
            "schema": {"type": "string", "enum": names}
        }]}),
    );
    doc.path(DOCUMENT_PATH, parts::path_item(Some(openapi), &[]));
    doc.path(DOCS_PATH, parts::path_item(Some(docs), &[]));
    doc.path(docs::ASSETS, parts::path_item(Some(assets), &[]));
}

fn problem_schema() -> Value {
    json!({
        "type": "object",
        "description": "RFC 9457 problem details. `errors` appears on 422 only, listing every problem found up to 20; when more were found, the first 20 are listed and `errors_truncated` is true (it is absent otherwise).",
        "required": ["type", "title", "status", "code", "detail", "instance", "request_id"],
        "additionalProperties": false,
        "properties": {
            "type": {"const": "about:blank"},
            "title": {"type": "string"},
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "code": {"enum": CODES},
            "detail": {"type": "string"},
            "instance": {"type": "string", "description": "The request's path as received (not percent-decoded), without the query."},
            "request_id": {"type": "string"},
            "errors": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_ERRORS,
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
            },
            "errors_truncated": {"const": true, "description": "Present (and true) only when more problems were found than `errors` lists."}
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::RESOURCES;

    #[test]
    fn every_operation_answers_4xx_and_5xx_problems() {
        let doc = document(RESOURCES);
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let responses = op["responses"].as_object().unwrap();
                assert!(responses.contains_key("4XX"), "{method} {path}");
                assert!(responses.contains_key("5XX"), "{method} {path}");
            }
        }
    }

    #[test]
    fn every_code_a_response_names_is_a_code_of_the_service() {
        let doc = render(RESOURCES);
        let doc: Value = serde_json::from_slice(&doc).unwrap();
        let mut named = Vec::new();
        for item in doc["paths"].as_object().unwrap().values() {
            for op in item.as_object().unwrap().values() {
                for response in op["responses"].as_object().unwrap().values() {
                    let schema = &response["content"]["application/problem+json"]["schema"];
                    if let Some(codes) = schema["allOf"][1]["properties"]["code"]["enum"].as_array()
                    {
                        named.extend(codes.iter().map(|c| c.as_str().unwrap().to_owned()));
                    }
                }
            }
        }
        assert!(!named.is_empty());
        for code in named {
            assert!(CODES.contains(&code.as_str()), "{code}");
        }
        assert_eq!(
            doc["components"]["schemas"]["Problem"]["properties"]["code"]["enum"],
            json!(CODES)
        );
    }

    #[test]
    #[should_panic(expected = "described twice")]
    fn a_path_described_twice_fails_loudly() {
        let mut doc = Document::default();
        doc.path("/x", json!({}));
        doc.path("/x", json!({}));
    }

    #[test]
    #[should_panic(expected = "defined twice")]
    fn a_schema_defined_twice_fails_loudly() {
        let mut doc = Document::default();
        doc.schema("X", json!({}));
        doc.schema("X", json!({}));
    }
}
