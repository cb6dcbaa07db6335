//! The users' part of the OpenAPI document: their paths, with every status
//! and problem code each operation can answer, and their schemas.

use serde_json::{Value, json};

use super::input::{Member, Param};
use super::{COLLECTION, ITEM};
use crate::http::{Names, cursor, query};
use crate::openapi::Document;
use crate::openapi::parts::{
    body_problems, cursor_schema, delete_item, get_item, id_param, json_body, limit_schema,
    ok_json, operation, path_item, problem, schema_ref,
};
use crate::openapi::text::{self, CONTROL, NON_CONTROL_WHITE_SPACE, WHITE_SPACE, trimmed_text};

const TAG: &str = "users";

/// Adds the user paths and schemas to `doc`.
pub fn describe(doc: &mut Document) {
    doc.tag(TAG, "User accounts: create, read, list, update, delete.");
    let id_param = id_param("user");
    let user = schema_ref("User");
    let not_found = problem("No user with this id.", &["not_found"]);
    let conflict = problem(
        "Conflict: the email is taken (case-insensitively) by another user.",
        &["conflict"],
    );
    let [malformed, too_large, media_type] = body_problems().map(|(_, p)| p);

    let create = operation(
        "createUser",
        "Create a user",
        TAG,
        &[
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
            ("400", malformed.clone()),
            ("409", conflict.clone()),
            ("413", too_large.clone()),
            ("415", media_type.clone()),
            (
                "422",
                problem(
                    "Validation failed: every problem with the body is listed in `errors`.",
                    &["validation_failed"],
                ),
            ),
        ],
        json!({"requestBody": json_body("UserCreate")}),
    );
    let list = operation(
        "listUsers",
        "List users, oldest first, with keyset pagination",
        TAG,
        &[
            (
                "200",
                ok_json("One page of users.", &schema_ref("UserPage")),
            ),
            (
                "422",
                problem(
                    "Validation failed: an unknown, repeated or invalid query parameter, or a cursor this service did not issue (location `query`).",
                    &["validation_failed"],
                ),
            ),
        ],
        json!({"parameters": list_parameters()}),
    );
    let get = get_item(
        ("getUser", "Get a user", TAG),
        "The user.",
        &user,
        &id_param,
        &not_found,
    );
    let update = operation(
        "updateUser",
        "Update some of a user's members",
        TAG,
        &[
            (
                "200",
                ok_json("The updated user (unchanged for `{}`).", &user),
            ),
            ("400", malformed),
            ("404", not_found.clone()),
            ("409", conflict),
            ("413", too_large),
            ("415", media_type),
            (
                "422",
                problem(
                    "Validation failed: the id is not a UUID, or every problem with the body is listed in `errors`.",
                    &["validation_failed"],
                ),
            ),
        ],
        json!({
            "parameters": [id_param.clone()],
            "requestBody": json_body("UserUpdate")
        }),
    );
    let delete = delete_item(
        ("deleteUser", "Delete a user", TAG),
        "Deleted.",
        &id_param,
        &not_found,
    );
    doc.path(COLLECTION, path_item(Some(list), &[("post", create)]));
    doc.path(
        ITEM,
        path_item(Some(get), &[("patch", update), ("delete", delete)]),
    );
    for (name, schema) in schemas() {
        doc.schema(name, schema);
    }
}

/// The list route's query parameters, one per [`Param`].
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
                    "Opaque: the `next_cursor` of a previous page. Following it until it is null visits every matching user exactly once, in order.",
                    cursor_schema(),
                ),
                Param::IsActive => ("Only users with this flag.", json!({"type": "boolean"})),
            };
            json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema})
        })
        .collect()
}

/// The emails the server accepts: optional surrounding white space, then
/// no white space, control or format characters, exactly one `@` with at
/// least one character on each side. Lengths (3 to 254 in all, 1 to 64
/// before the `@`) count the NFC form, so the pattern states them only
/// where NFC keeps the length (see [`crate::openapi::text`]): in all when
/// no character is NFC-sensitive, before the `@` when none is there.
fn email_pattern() -> String {
    let ws = WHITE_SPACE;
    let other_ws = NON_CONTROL_WHITE_SPACE;
    let cf = text::format();
    let nfc = text::nfc_sensitive();
    let core = format!("[^@{CONTROL}{other_ws}{cf}]");
    let any = format!("[^{CONTROL}{other_ws}{cf}]");
    let local = format!("(?:(?=[^@{nfc}]*@){core}{{1,64}}|(?![^@{nfc}]*@){core}+)");
    let exact = format!("(?=[^{nfc}]*$)(?={any}{{3,254}}[{ws}]*$){core}{{1,64}}@{core}+");
    let loose = format!("(?![^{nfc}]*$){local}@{core}+");
    format!("^[{ws}]*(?:{exact}|{loose})[{ws}]*$")
}

/// The request schema's members, one per [`Member`].
fn request_members(create: bool) -> Value {
    let email_rules = "Trimmed (Unicode White_Space) first, then put in Unicode Normalization Form C (NFC); every other rule applies to the normalised value: 3 to 254 characters (Unicode scalar values), exactly one @ with 1 to 64 characters before it and a non-empty domain, no whitespace, control (Cc) or format (Cf: soft hyphen, zero-width space, bidi controls, BOM, ...) characters. Unique case-insensitively: two emails are the same when their normalised forms are equal after Unicode lower-casing, so e + U+0301 and é are the same address. Stored and returned trimmed and normalised. The pattern states the lengths only where NFC cannot change them; the rule is on the normalised value.";
    let name_rules = "Trimmed first, then put in NFC; then at most 255 characters (of the normalised value), no control characters nor bidirectional embedding, override or isolate controls (U+202A to U+202E, U+2066 to U+2069); other format characters, such as the zero-width joiner and non-joiner, are allowed. Blank is stored as null. Stored and returned normalised. The pattern states the length only where NFC cannot change it.";
    let properties: serde_json::Map<String, Value> = Member::ALL
        .iter()
        .map(|(name, member)| {
            let schema = match member {
                Member::Email => {
                    json!({"type": "string", "pattern": email_pattern(), "description": email_rules})
                }
                Member::FullName if create => {
                    json!({"type": ["string", "null"], "pattern": trimmed_text(255), "description": name_rules, "default": null})
                }
                Member::FullName => {
                    json!({"type": ["string", "null"], "pattern": trimmed_text(255), "description": name_rules})
                }
                Member::IsActive if create => json!({"type": "boolean", "default": true}),
                Member::IsActive => json!({"type": "boolean"}),
            };
            ((*name).to_owned(), schema)
        })
        .collect();
    Value::Object(properties)
}

fn schemas() -> [(&'static str, Value); 4] {
    [
        (
            "User",
            json!({
                "type": "object",
                "required": ["id", "email", "full_name", "is_active", "created_at", "updated_at"],
                "additionalProperties": false,
                "properties": {
                    "id": {"type": "string", "format": "uuid", "description": "UUIDv7, lower-case, hyphenated; sorts by creation time."},
                    "email": {"type": "string", "minLength": 3, "maxLength": 254, "description": "As given, trimmed and in NFC."},
                    "full_name": {"type": ["string", "null"], "minLength": 1, "maxLength": 255, "description": "As given, trimmed and in NFC; null when absent or blank."},
                    "is_active": {"type": "boolean"},
                    "created_at": {"type": "string", "format": "date-time", "description": "RFC 3339, UTC (Z), microseconds."},
                    "updated_at": {"type": "string", "format": "date-time", "description": "Moves on every successful update."}
                }
            }),
        ),
        (
            "UserCreate",
            json!({
                "type": "object",
                "required": ["email"],
                "additionalProperties": false,
                "properties": request_members(true)
            }),
        ),
        (
            "UserUpdate",
            json!({
                "type": "object",
                "additionalProperties": false,
                "description": "Any subset of the members; {} is a no-op that returns the user unchanged. Any other body updates updated_at, even with unchanged values. email and is_active may not be null; full_name null clears it.",
                "properties": request_members(false)
            }),
        ),
        (
            "UserPage",
            json!({
                "type": "object",
                "required": ["items", "next_cursor"],
                "additionalProperties": false,
                "properties": {
                    "items": {"type": "array", "maxItems": query::MAX_LIMIT, "items": {"$ref": "#/components/schemas/User"}},
                    "next_cursor": {"type": ["string", "null"], "pattern": cursor::PATTERN, "description": "Non-null only if more matching users existed when the page was read."}
                }
            }),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
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

    fn schema(name: &str) -> Value {
        schemas()
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| s)
            .unwrap()
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
        assert_eq!(property_names(&schema("User")), keys);
    }

    #[test]
    fn request_schemas_list_exactly_the_accepted_members() {
        let mut members: Vec<String> = Member::ALL.iter().map(|(m, _)| (*m).to_owned()).collect();
        members.sort();
        for name in ["UserCreate", "UserUpdate"] {
            assert_eq!(property_names(&schema(name)), members, "{name}");
        }
    }

    #[test]
    fn the_patterns_refuse_the_characters_the_server_refuses() {
        let email = &schema("UserCreate")["properties"]["email"];
        let name = &schema("UserUpdate")["properties"]["full_name"];
        let email_pattern = email["pattern"].as_str().unwrap();
        let name_pattern = name["pattern"].as_str().unwrap();
        assert!(email_pattern.contains(&format!(
            "[^@{CONTROL}{NON_CONTROL_WHITE_SPACE}{}]",
            text::format()
        )));
        assert!(name_pattern.contains(&format!("[^{CONTROL}{}]", text::bidi_controls())));
        assert!(
            !name_pattern.contains(text::format()),
            "other Cf stay legal in names"
        );
        for rules in [&email["description"], &name["description"]] {
            assert!(rules.as_str().unwrap().contains("NFC"));
        }
    }

    #[test]
    fn the_list_route_documents_exactly_its_parameters() {
        let names: Vec<_> = list_parameters()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(names, ["limit", "cursor", "is_active"]);
    }
}
