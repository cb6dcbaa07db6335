//! The webhooks' part of the OpenAPI document: their paths, with every
//! status and problem code each operation can answer, and their schemas.

use serde_json::{Value, json};

use super::input::{Member, Param};
use super::model::EventType;
use super::{COLLECTION, DELIVERIES, ITEM};
use crate::http::{Names, cursor, query};
use crate::openapi::Document;
use crate::openapi::parts::{
    body_problems, cursor_schema, delete_item, get_item, id_param, json_body, limit_schema,
    ok_json, operation, path_item, problem, schema_ref,
};
use crate::openapi::text::trimmed_text;

const TAG: &str = "webhooks";

/// The URLs the documented pattern admits: a subset of those the server
/// accepts (absolute http or https, no whitespace, user info or fragment).
const URL_PATTERN: &str = "^[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9._~-]+(:[1-9][0-9]{0,3})?(/[A-Za-z0-9._~!$&'()*+,;=:@/-]*)?(\\?[A-Za-z0-9._~!$&'()*+,;=:@/?-]*)?$";

/// Adds the webhook paths and schemas to `doc`.
pub fn describe(doc: &mut Document) {
    doc.tag(
        TAG,
        "Subscriptions to user events, and their deliveries (signed per Standard Webhooks).",
    );
    let id_param = id_param("subscription");
    let webhook = schema_ref("Webhook");
    let not_found = problem("No subscription with this id.", &["not_found"]);
    let invalid_query = problem(
        "Validation failed: the id is not a UUID, or an unknown, repeated or invalid query parameter, or a cursor this service did not issue.",
        &["validation_failed"],
    );
    let [malformed, too_large, media_type] = body_problems().map(|(_, p)| p);
    let invalid_body = problem(
        "Validation failed: the id is not a UUID, or every problem with the body is listed in `errors`.",
        &["validation_failed"],
    );

    let create = operation(
        "createWebhook",
        "Subscribe to user events",
        TAG,
        &[
            (
                "201",
                json!({
                    "description": "Created; the only response that shows the secret.",
                    "headers": {
                        "x-request-id": {"$ref": "#/components/headers/RequestId"},
                        "location": {"description": "The new subscription's URL, /api/v1/webhooks/{id}.", "required": true, "schema": {"type": "string"}}
                    },
                    "content": {"application/json": {"schema": schema_ref("WebhookCreated")}}
                }),
            ),
            ("400", malformed.clone()),
            ("413", too_large.clone()),
            ("415", media_type.clone()),
            ("422", invalid_body.clone()),
        ],
        json!({"requestBody": json_body("WebhookCreate")}),
    );
    let list = operation(
        "listWebhooks",
        "List subscriptions, oldest first, with keyset pagination",
        TAG,
        &[
            (
                "200",
                ok_json("One page of subscriptions.", &schema_ref("WebhookPage")),
            ),
            ("422", invalid_query.clone()),
        ],
        json!({"parameters": list_parameters()}),
    );
    let get = get_item(
        ("getWebhook", "Get a subscription", TAG),
        "The subscription.",
        &webhook,
        &id_param,
        &not_found,
    );
    let update = operation(
        "updateWebhook",
        "Update some of a subscription's members",
        TAG,
        &[
            (
                "200",
                ok_json("The updated subscription (unchanged for `{}`).", &webhook),
            ),
            ("400", malformed),
            ("404", not_found.clone()),
            ("413", too_large),
            ("415", media_type),
            ("422", invalid_body),
        ],
        json!({"parameters": [id_param.clone()], "requestBody": json_body("WebhookUpdate")}),
    );
    let delete = delete_item(
        (
            "deleteWebhook",
            "Delete a subscription and cancel its pending deliveries",
            TAG,
        ),
        "Deleted; an attempt already in flight may still finish.",
        &id_param,
        &not_found,
    );
    let deliveries = operation(
        "listWebhookDeliveries",
        "List a subscription's deliveries, newest first, with keyset pagination",
        TAG,
        &[
            (
                "200",
                ok_json("One page of deliveries.", &schema_ref("DeliveryPage")),
            ),
            ("404", not_found),
            ("422", invalid_query),
        ],
        json!({"parameters": std::iter::once(id_param).chain(list_parameters()).collect::<Vec<_>>()}),
    );
    doc.path(COLLECTION, path_item(Some(list), &[("post", create)]));
    doc.path(
        ITEM,
        path_item(Some(get), &[("patch", update), ("delete", delete)]),
    );
    doc.path(DELIVERIES, path_item(Some(deliveries), &[]));
    for (name, schema) in schemas() {
        doc.schema(name, schema);
    }
}

/// The list routes' query parameters, one per [`Param`].
fn list_parameters() -> Vec<Value> {
    Param::ALL
        .iter()
        .map(|(name, param)| {
            let (description, schema) = match param {
                Param::Limit => (
                    "Page size.",
                    limit_schema(),
                ),
                Param::Cursor => (
                    "Opaque: the `next_cursor` of a previous page.",
                    cursor_schema(),
                ),
            };
            json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema})
        })
        .collect()
}

fn event_names() -> Vec<&'static str> {
    EventType::ALL.iter().map(|e| e.as_str()).collect()
}

/// The request schema's members, one per [`Member`].
fn request_members(create: bool) -> Value {
    let url_rules = "An absolute http or https URL, at most 2048 bytes, no whitespace, no user info, no fragment (an empty # counts); stored and returned as given. Unless WEBHOOK_ALLOW_PRIVATE_NETWORKS is true, a host that is a literal loopback, private, CGNAT, link-local, unique-local, multicast or unspecified address (numeric shorthands such as 127.1 included) is a 422, and a name that resolves to one fails the delivery attempt.";
    let description_rules = "Trimmed first, then put in NFC; then at most 255 characters, no control characters nor bidirectional embedding, override or isolate controls. Blank is stored as null.";
    let properties: serde_json::Map<String, Value> = Member::ALL
        .iter()
        .map(|(name, member)| {
            let schema = match member {
                Member::Url => json!({"type": "string", "maxLength": 2048, "pattern": URL_PATTERN, "description": url_rules}),
                Member::Events => json!({"type": "array", "minItems": 1, "uniqueItems": true, "items": {"type": "string", "enum": event_names()}}),
                Member::Description => json!({"type": ["string", "null"], "pattern": trimmed_text(255), "description": description_rules}),
                Member::IsActive if create => json!({"type": "boolean", "default": true}),
                Member::IsActive => json!({"type": "boolean"}),
            };
            ((*name).to_owned(), schema)
        })
        .collect();
    Value::Object(properties)
}

fn webhook_properties() -> Value {
    json!({
        "id": {"type": "string", "format": "uuid", "description": "UUIDv7, lower-case, hyphenated."},
        "url": {"type": "string", "maxLength": 2048, "description": "As given."},
        "events": {"type": "array", "minItems": 1, "uniqueItems": true, "items": {"type": "string", "enum": event_names()}},
        "description": {"type": ["string", "null"], "minLength": 1, "maxLength": 255},
        "is_active": {"type": "boolean", "description": "An inactive subscription gets no new deliveries."},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"}
    })
}

fn schemas() -> [(&'static str, Value); 7] {
    let required = [
        "id",
        "url",
        "events",
        "description",
        "is_active",
        "created_at",
        "updated_at",
    ];
    let mut created_properties = webhook_properties();
    created_properties["secret"] = json!({"type": "string", "pattern": "^whsec_[A-Za-z0-9+/]{43}=$", "description": "whsec_ and the base64 of 32 random bytes; the signing key of deliveries. Shown only here."});
    let mut created_required = required.to_vec();
    created_required.push("secret");
    [
        (
            "Webhook",
            json!({"type": "object", "required": required, "additionalProperties": false, "properties": webhook_properties()}),
        ),
        (
            "WebhookCreated",
            json!({"type": "object", "required": created_required, "additionalProperties": false, "properties": created_properties}),
        ),
        (
            "WebhookCreate",
            json!({"type": "object", "required": ["url", "events"], "additionalProperties": false, "properties": request_members(true)}),
        ),
        (
            "WebhookUpdate",
            json!({
                "type": "object", "additionalProperties": false,
                "description": "Any subset of the members; {} is a no-op. Any other body updates updated_at. Only description may be null; secret is not a member.",
                "properties": request_members(false)
            }),
        ),
        (
            "WebhookPage",
            json!({
                "type": "object", "required": ["items", "next_cursor"], "additionalProperties": false,
                "properties": {
                    "items": {"type": "array", "maxItems": query::MAX_LIMIT, "items": schema_ref("Webhook")},
                    "next_cursor": {"type": ["string", "null"], "pattern": cursor::PATTERN}
                }
            }),
        ),
        (
            "Delivery",
            json!({
                "type": "object",
                "required": ["id", "event_type", "status", "attempts", "created_at", "last_attempt_at", "next_attempt_at", "last_response_status", "last_error"],
                "additionalProperties": false,
                "properties": {
                    "id": {"type": "string", "format": "uuid", "description": "The webhook-id sent, the same on every attempt."},
                    "event_type": {"type": "string", "enum": event_names()},
                    "status": {"type": "string", "enum": ["pending", "succeeded", "failed"]},
                    "attempts": {"type": "integer", "minimum": 0},
                    "created_at": {"type": "string", "format": "date-time"},
                    "last_attempt_at": {"type": ["string", "null"], "format": "date-time", "description": "Null before the first attempt."},
                    "next_attempt_at": {"type": ["string", "null"], "format": "date-time", "description": "Null once succeeded or failed."},
                    "last_response_status": {"type": ["integer", "null"], "description": "The last attempt's HTTP status; null when it got none."},
                    "last_error": {"type": ["string", "null"], "description": "Why the last attempt failed (always set when it got no response); null once succeeded."}
                }
            }),
        ),
        (
            "DeliveryPage",
            json!({
                "type": "object", "required": ["items", "next_cursor"], "additionalProperties": false,
                "properties": {
                    "items": {"type": "array", "maxItems": query::MAX_LIMIT, "items": schema_ref("Delivery")},
                    "next_cursor": {"type": ["string", "null"], "pattern": cursor::PATTERN}
                }
            }),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_schemas_list_exactly_the_accepted_members() {
        let members: Vec<&str> = Member::ALL.iter().map(|(m, _)| *m).collect();
        for (name, schema) in schemas() {
            if name == "WebhookCreate" || name == "WebhookUpdate" {
                let keys: Vec<&str> = schema["properties"]
                    .as_object()
                    .unwrap()
                    .keys()
                    .map(String::as_str)
                    .collect();
                let mut expected = members.clone();
                expected.sort_unstable();
                let mut keys = keys;
                keys.sort_unstable();
                assert_eq!(keys, expected, "{name}");
            }
        }
    }

    #[test]
    fn every_event_type_is_offered_wherever_events_are_named() {
        // The lists under `events` (items) and `event_type`, at any depth.
        fn event_lists<'a>(value: &'a Value, out: &mut Vec<&'a Value>) {
            match value {
                Value::Object(map) => {
                    for (key, member) in map {
                        match key.as_str() {
                            "events" => out.push(&member["items"]["enum"]),
                            "event_type" => out.push(&member["enum"]),
                            _ => {}
                        }
                        event_lists(member, out);
                    }
                }
                Value::Array(items) => items.iter().for_each(|v| event_lists(v, out)),
                _ => {}
            }
        }
        let expected: Vec<&str> = EventType::ALL.iter().map(|e| e.as_str()).collect();
        assert!(!expected.is_empty());
        let mut seen = 0;
        for (name, schema) in schemas() {
            let mut lists = Vec::new();
            event_lists(&schema, &mut lists);
            for list in lists {
                // `events` inside `required` lists is a name, not a schema.
                if list.is_null() {
                    continue;
                }
                assert_eq!(list, &json!(expected), "{name}");
                seen += 1;
            }
        }
        assert!(seen >= 3, "event lists found: {seen}");
    }
}
