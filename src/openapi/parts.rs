//! Building blocks of operations: responses, problems with the codes they
//! can carry, and the HEAD twin of a GET. Every resource's fragment is made
//! of these, so the cross-cutting answers are described once.

use serde_json::{Map, Value, json};

use crate::http::{cursor, query};

/// The `x-request-id` header every response carries.
pub fn request_id_header() -> Value {
    json!({"x-request-id": {"$ref": "#/components/headers/RequestId"}})
}

/// A problem response described by `description`, whose `code` is one of
/// `codes`.
pub fn problem(description: &str, codes: &[&str]) -> Value {
    json!({
        "description": description,
        "headers": request_id_header(),
        "content": {"application/problem+json": {"schema": {
            "allOf": [
                {"$ref": "#/components/schemas/Problem"},
                {"properties": {"code": {"enum": codes}}}
            ]
        }}}
    })
}

/// The 4XX and 5XX every operation can answer: 405, 408, 413 and the body
/// problems on any route; 503 (with `retry-after`), 504 and 500.
fn cross_cutting(responses: &mut Map<String, Value>) {
    responses.insert(
        "4XX".into(),
        problem(
            "Client error: e.g. 413 body too large (any route), 408 body not received in time (`timeout`), 405 method not allowed, 400/415 body problems.",
            &[
                "malformed_body",
                "unsupported_media_type",
                "payload_too_large",
                "method_not_allowed",
                "timeout",
            ],
        ),
    );
    responses.insert(
        "5XX".into(),
        problem(
            "Server error: 503 service_unavailable (database down, pool exhausted, overload; with retry-after), 504 timeout, 500 internal.",
            &["service_unavailable", "timeout", "internal"],
        ),
    );
}

/// The `{id}` path parameter of an item route, for `what` ("user").
pub fn id_param(what: &str) -> Value {
    json!({
        "name": "id", "in": "path", "required": true,
        "description": format!("The {what}'s id: a UUID in the hyphenated 8-4-4-4-12 form, any letter case; anything else is a 422."),
        "schema": {"type": "string", "format": "uuid"}
    })
}

/// The 422 of an `{id}` that is not a UUID.
pub fn invalid_path() -> Value {
    problem(
        "Validation failed: the id is not a UUID (location `path`).",
        &["validation_failed"],
    )
}

/// The answers of a route that reads a JSON body, before its rules apply:
/// 400 (absent, empty, not JSON, not an object), 413 and 415.
pub fn body_problems() -> [(&'static str, Value); 3] {
    [
        (
            "400",
            problem(
                "The body is absent, empty, not JSON, or not a JSON object (`malformed_body`).",
                &["malformed_body"],
            ),
        ),
        (
            "413",
            problem(
                "The body is larger than the limit (`payload_too_large`).",
                &["payload_too_large"],
            ),
        ),
        (
            "415",
            problem(
                "The body is not `application/json` (UTF-8) (`unsupported_media_type`).",
                &["unsupported_media_type"],
            ),
        ),
    ]
}

/// The schema of a list route's `limit` parameter.
pub fn limit_schema() -> Value {
    json!({"type": "integer", "minimum": 1, "maximum": query::MAX_LIMIT, "default": query::DEFAULT_LIMIT})
}

/// The schema of a list route's `cursor` parameter.
pub fn cursor_schema() -> Value {
    json!({"type": "string", "pattern": cursor::PATTERN})
}

/// A JSON response described by `description` with body `schema`.
pub fn ok_json(description: &str, schema: &Value) -> Value {
    json!({
        "description": description,
        "headers": request_id_header(),
        "content": {"application/json": {"schema": schema}}
    })
}

/// An operation: its id, summary, tag and route-specific responses (the
/// cross-cutting 4XX and 5XX are added), with `extra` members (parameters,
/// request body) merged in.
pub fn operation(
    id: &str,
    summary: &str,
    tag: &str,
    entries: &[(&str, Value)],
    extra: Value,
) -> Value {
    let mut responses: Map<String, Value> = entries
        .iter()
        .map(|(status, value)| ((*status).to_owned(), value.clone()))
        .collect();
    cross_cutting(&mut responses);
    let mut op = json!({
        "operationId": id,
        "summary": summary,
        "tags": [tag],
        "responses": responses,
    });
    if let (Value::Object(op), Value::Object(extra)) = (&mut op, extra) {
        op.extend(extra);
    }
    op
}

/// A reference to the component schema `name`.
pub fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

/// A required JSON request body of the component schema `name`.
pub fn json_body(name: &str) -> Value {
    json!({"required": true, "content": {"application/json": {"schema": schema_ref(name)}}})
}

/// `GET` of one item by `id_param`: 200 with `schema` (described by
/// `ok`), 404 `not_found`, 422 for an id that is not a UUID.
pub fn get_item(
    (id, summary, tag): (&str, &str, &str),
    ok: &str,
    schema: &Value,
    id_param: &Value,
    not_found: &Value,
) -> Value {
    operation(
        id,
        summary,
        tag,
        &[
            ("200", ok_json(ok, schema)),
            ("404", not_found.clone()),
            ("422", invalid_path()),
        ],
        json!({"parameters": [id_param]}),
    )
}

/// `DELETE` of one item by `id_param`: 204 (described by `deleted`), 404
/// `not_found`, 422 for an id that is not a UUID.
pub fn delete_item(
    (id, summary, tag): (&str, &str, &str),
    deleted: &str,
    id_param: &Value,
    not_found: &Value,
) -> Value {
    operation(
        id,
        summary,
        tag,
        &[
            (
                "204",
                json!({"description": deleted, "headers": request_id_header()}),
            ),
            ("404", not_found.clone()),
            ("422", invalid_path()),
        ],
        json!({"parameters": [id_param]}),
    )
}

/// The HEAD twin of a GET operation: same status codes, headers only.
pub fn head_of(get: &Value, id: &str) -> Value {
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

/// A path item with a GET operation (and its HEAD twin, `{id}Head`) and the
/// other operations given.
pub fn path_item(get: Option<Value>, others: &[(&str, Value)]) -> Value {
    let mut item = Map::new();
    if let Some(get) = get {
        let head_id = format!("{}Head", get["operationId"].as_str().unwrap_or("get"));
        item.insert("head".into(), head_of(&get, &head_id));
        item.insert("get".into(), get);
    }
    for (method, op) in others {
        item.insert((*method).to_owned(), op.clone());
    }
    Value::Object(item)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_get_the_cross_cutting_answers() {
        let op = operation(
            "x",
            "X",
            "t",
            &[("200", ok_json("ok", &json!({})))],
            json!({"parameters": []}),
        );
        let responses = op["responses"].as_object().unwrap();
        assert_eq!(responses.len(), 3);
        assert!(responses.contains_key("4XX") && responses.contains_key("5XX"));
        assert_eq!(op["parameters"], json!([]));
        assert_eq!(op["tags"], json!(["t"]));
    }

    #[test]
    fn a_head_twin_has_no_bodies() {
        let get = operation(
            "getX",
            "Get X",
            "t",
            &[("200", ok_json("ok", &json!({})))],
            json!({}),
        );
        let item = path_item(Some(get), &[("delete", json!({"operationId": "deleteX"}))]);
        assert_eq!(item["head"]["operationId"], "getXHead");
        assert_eq!(item["head"]["summary"], "Get X (headers only)");
        assert!(item["head"]["responses"]["200"].get("content").is_none());
        assert!(item["get"]["responses"]["200"].get("content").is_some());
        assert_eq!(item["delete"]["operationId"], "deleteX");
    }

    #[test]
    fn problems_narrow_the_code() {
        let p = problem("nope", &["not_found"]);
        let schema = &p["content"]["application/problem+json"]["schema"]["allOf"];
        assert_eq!(
            schema[1]["properties"]["code"]["enum"],
            json!(["not_found"])
        );
    }
}
