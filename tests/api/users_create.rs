//! API.md, `POST /api/v1/users`: 201 with the user and `Location`; every
//! rule of the user's fields; the order of checks (400, 415, 400, 422, 409);
//! case-insensitive uniqueness, also under a race. A refused request writes
//! nothing.

use serde_json::{Value, json};

use crate::common::{TestApp, spawn_app};

const USERS: &str = "/api/v1/users";

/// Asserts a 422 listing exactly `expected` (field, message) body problems.
#[track_caller]
fn assert_body_problems(response: &crate::common::TestResponse, expected: &[(&str, &str)]) {
    let body = response.assert_problem(422, "validation_failed");
    let errors: Vec<(String, String)> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            assert_eq!(e["location"], "body", "{e}");
            (
                e["field"].as_str().unwrap().to_owned(),
                e["message"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mut expected: Vec<(String, String)> = expected
        .iter()
        .map(|(f, m)| ((*f).to_owned(), (*m).to_owned()))
        .collect();
    // The test client serialises members in key order; compare as sets.
    let mut errors = errors;
    errors.sort();
    expected.sort();
    assert_eq!(errors, expected);
}

async fn post(app: &TestApp, body: &Value) -> crate::common::TestResponse {
    app.send_json("POST", USERS, body).await
}

#[tokio::test]
async fn creating_a_user_returns_201_the_user_and_its_location() {
    let app = spawn_app().await;
    let response = post(
        &app,
        &json!({"email": "ada@example.com", "full_name": "Ada Lovelace"}),
    )
    .await;
    assert_eq!(response.status, 201);
    assert_eq!(response.header("content-type"), "application/json");
    let user = response.json();
    let id = user["id"].as_str().unwrap();
    let uuid = uuid::Uuid::parse_str(id).unwrap();
    assert_eq!(uuid.get_version_num(), 7);
    assert_eq!(
        uuid.hyphenated().to_string(),
        id,
        "canonical lower-case form"
    );
    assert_eq!(response.header("location"), format!("/api/v1/users/{id}"));
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["full_name"], "Ada Lovelace");
    assert_eq!(user["is_active"], true);
    assert_eq!(user["created_at"], user["updated_at"]);
    assert_eq!(user.as_object().unwrap().len(), 6, "{user}");
    assert_timestamp(&user["created_at"]);
    let fetched = app.get(&format!("/api/v1/users/{id}")).await;
    assert_eq!(fetched.json(), user);
}

/// RFC 3339, UTC with `Z`, microseconds at most, and close to now.
#[track_caller]
pub fn assert_timestamp(value: &Value) {
    let text = value.as_str().unwrap();
    assert_eq!(text.len(), 27, "{text}");
    assert!(text.ends_with('Z'), "{text}");
    let (date, time) = text.split_once('T').unwrap();
    assert_eq!(date.len(), 10);
    assert_eq!(&time[8..9], ".");
    // Parsed field by field and compared with the wall clock: the server
    // and the database share this machine's clock (or one kept in sync),
    // so ten minutes is a generous window for a slow run.
    let field = |range: std::ops::Range<usize>| -> i64 {
        text[range.clone()]
            .parse()
            .unwrap_or_else(|_| panic!("digits at {range:?}: {text}"))
    };
    let (year, month, day) = (field(0..4), field(5..7), field(8..10));
    let (hour, minute, second) = (field(11..13), field(14..16), field(17..19));
    assert_eq!((&text[4..5], &text[7..8]), ("-", "-"), "{text}");
    assert_eq!((&text[13..14], &text[16..17]), (":", ":"), "{text}");
    assert!(
        (1..=12).contains(&month) && (1..=31).contains(&day),
        "{text}"
    );
    assert!(hour < 24 && minute < 60 && second < 60, "{text}");
    let _micros = field(20..26);
    // Days from the civil date (H. Hinnant's algorithm), then seconds.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let at = days * 86_400 + hour * 3600 + minute * 60 + second;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let now = i64::try_from(now).unwrap();
    assert!(
        (now - at).abs() <= 600,
        "{text} is not within ten minutes of now ({now} s since the epoch, it is {at})"
    );
}

#[tokio::test]
async fn defaults_and_trimming() {
    let app = spawn_app().await;
    let user = post(
        &app,
        &json!({"email": "  \u{2003}Ada@Example.COM\n ", "full_name": "  Ada  "}),
    )
    .await
    .json();
    assert_eq!(user["email"], "Ada@Example.COM", "stored as given, trimmed");
    assert_eq!(user["full_name"], "Ada");
    assert_eq!(user["is_active"], true);
    let user = post(
        &app,
        &json!({"email": "b@x.io", "full_name": " \t ", "is_active": false}),
    )
    .await
    .json();
    assert_eq!(user["full_name"], Value::Null, "blank is stored as null");
    assert_eq!(user["is_active"], false);
    let user = post(&app, &json!({"email": "c@x.io", "full_name": null}))
        .await
        .json();
    assert_eq!(user["full_name"], Value::Null);
}

#[tokio::test]
async fn every_email_rule_is_enforced_and_nothing_is_written() {
    let app = spawn_app().await;
    let long_local = format!("{}@x.io", "l".repeat(65));
    let too_long = format!("a@{}", "d".repeat(253));
    let cases: Vec<(Value, &str)> = vec![
        (json!("ab"), "must be 3 to 254 characters long"),
        (json!("   a@   "), "must be 3 to 254 characters long"),
        (json!(too_long), "must be 3 to 254 characters long"),
        (json!("no-at-sign"), "must contain exactly one @"),
        (json!("a@b@c.io"), "must contain exactly one @"),
        (
            json!("@example.com"),
            "must have 1 to 64 characters before the @",
        ),
        (
            json!(long_local),
            "must have 1 to 64 characters before the @",
        ),
        (json!("ada@"), "must have a domain after the @"),
        (json!("a da@x.io"), "must not contain whitespace"),
        (json!("ada@x\u{00a0}io"), "must not contain whitespace"),
        (
            json!("ada\u{0000}@x.io"),
            "must not contain control characters",
        ),
        (
            json!("ada\u{001b}@x.io"),
            "must not contain control characters",
        ),
        (
            json!("ada\u{0085}@x.io"),
            "must not contain control characters",
        ),
        (json!(null), "must not be null"),
        (json!(42), "must be a string"),
        (json!(["a@b.c"]), "must be a string"),
        (json!({"a": 1}), "must be a string"),
        (json!(true), "must be a string"),
    ];
    for (email, message) in cases {
        let response = post(&app, &json!({ "email": email })).await;
        assert_body_problems(&response, &[("email", message)]);
    }
    let max_local = format!("{}@x.io", "l".repeat(64));
    let max_len = format!("a@{}", "é".repeat(252));
    for ok in [max_local.as_str(), max_len.as_str(), "a@b", "ü@ß.de"] {
        assert_eq!(
            post(&app, &json!({ "email": ok })).await.status,
            201,
            "{ok}"
        );
    }
    assert_eq!(app.user_count().await, 4);
}

#[tokio::test]
async fn full_name_and_is_active_rules() {
    let app = spawn_app().await;
    let long = "n".repeat(256);
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            json!({"email": "a@b.c", "full_name": long}),
            "full_name",
            "must be at most 255 characters long",
        ),
        (
            json!({"email": "a@b.c", "full_name": "a\u{0000}b"}),
            "full_name",
            "must not contain control characters",
        ),
        (
            json!({"email": "a@b.c", "full_name": "tab\tinside"}),
            "full_name",
            "must not contain control characters",
        ),
        (
            json!({"email": "a@b.c", "full_name": 5}),
            "full_name",
            "must be a string or null",
        ),
        (
            json!({"email": "a@b.c", "full_name": false}),
            "full_name",
            "must be a string or null",
        ),
        (
            json!({"email": "a@b.c", "is_active": null}),
            "is_active",
            "must not be null",
        ),
        (
            json!({"email": "a@b.c", "is_active": "true"}),
            "is_active",
            "must be a boolean",
        ),
        (
            json!({"email": "a@b.c", "is_active": 1}),
            "is_active",
            "must be a boolean",
        ),
    ];
    for (body, field, message) in cases {
        assert_body_problems(&post(&app, &body).await, &[(field, message)]);
    }
    let name = format!("  {}  ", "é".repeat(255));
    let user = post(&app, &json!({"email": "a@b.c", "full_name": name}))
        .await
        .json();
    assert_eq!(user["full_name"].as_str().unwrap().chars().count(), 255);
    assert_eq!(app.user_count().await, 1);
}

#[tokio::test]
async fn every_problem_is_reported_at_once() {
    let app = spawn_app().await;
    let response = post(
        &app,
        &json!({"email": "bad", "full_name": 1, "is_active": null, "role": "admin", "id": "x"}),
    )
    .await;
    assert_body_problems(
        &response,
        &[
            ("email", "must contain exactly one @"),
            ("full_name", "must be a string or null"),
            ("is_active", "must not be null"),
            ("role", "is not a known member"),
            ("id", "is not a known member"),
        ],
    );
    let response = post(&app, &json!({"full_name": "No Email"})).await;
    assert_body_problems(&response, &[("email", "is required")]);
    let response = app
        .request_with(
            "POST",
            USERS,
            &[("content-type", "application/json")],
            Some(br#"{"email":"a@b.c","email":"d@e.f"}"#),
        )
        .await;
    assert_body_problems(&response, &[("email", "must appear only once")]);
    assert_eq!(app.user_count().await, 0);
}

#[tokio::test]
async fn body_problems_come_in_the_documented_order() {
    let app = spawn_app().await;
    let json_ct = [("content-type", "application/json")];
    // Absent or empty: 400, whatever the content type.
    for headers in [&[][..], &json_ct[..], &[("content-type", "text/plain")][..]] {
        let response = app.request_with("POST", USERS, headers, None).await;
        response.assert_problem(400, "malformed_body");
    }
    // A body with a non-JSON media type: 415, even if it is valid JSON.
    for ct in [
        "text/plain",
        "application/merge-patch+json",
        "application/json; charset=latin1",
        "application/x-www-form-urlencoded",
    ] {
        let response = app
            .request_with(
                "POST",
                USERS,
                &[("content-type", ct)],
                Some(br#"{"email":"a@b.c"}"#),
            )
            .await;
        response.assert_problem(415, "unsupported_media_type");
    }
    let response = app
        .request_with("POST", USERS, &[], Some(br#"{"email":"a@b.c"}"#))
        .await;
    response.assert_problem(415, "unsupported_media_type");
    // Not JSON, not an object, not UTF-8: 400.
    for body in [
        &b"{"[..],
        b"[]",
        b"\"a@b.c\"",
        b"null",
        b"{\"email\": \"\xff\xfe\"}",
        b"{} {}",
        b"\xef\xbb\xbf{}",
    ] {
        let response = app.request_with("POST", USERS, &json_ct, Some(body)).await;
        response.assert_problem(400, "malformed_body");
    }
    // charset=utf-8 is fine.
    let response = app
        .request_with(
            "POST",
            USERS,
            &[("content-type", "application/json; charset=UTF-8")],
            Some(br#"{"email":"a@b.c"}"#),
        )
        .await;
    assert_eq!(response.status, 201);
    assert_eq!(app.user_count().await, 1);
}

#[tokio::test]
async fn emails_are_unique_case_insensitively() {
    let app = spawn_app().await;
    app.create_user("Ada@Example.com").await;
    for taken in ["ada@example.com", "ADA@EXAMPLE.COM", "  ada@example.COM "] {
        let response = post(&app, &json!({ "email": taken })).await;
        let body = response.assert_problem(409, "conflict");
        assert_eq!(body["detail"], "a user with this email already exists");
    }
    app.create_user("ÉLISE@example.com").await;
    post(&app, &json!({"email": "élise@example.com"}))
        .await
        .assert_problem(409, "conflict");
    // Unicode lower-casing, not ASCII: these differ only by a letter that has
    // no lower-case relation.
    app.create_user("elise@example.com").await;
    assert_eq!(app.user_count().await, 3);
}

#[tokio::test]
async fn fifty_concurrent_creates_of_one_email_make_one_user() {
    // Fifty requests share the pool's connections; on a server that checks
    // passwords each new connection costs a SCRAM exchange, which on a
    // loaded machine outlasts the default 2 s pool wait (503s, seen with
    // PG_PASSWORD). The property here is one winner, not the pool's wait.
    let app = crate::common::spawn_app_with(
        |s| s.pool_timeout = std::time::Duration::from_secs(30),
        |t, _| t,
    )
    .await;
    let attempts = (0..50).map(|i| {
        let email = if i % 2 == 0 {
            "race@example.com"
        } else {
            "RACE@example.com"
        };
        let body = json!({ "email": email });
        let addr = app.addr;
        tokio::spawn(async move {
            let bytes = serde_json::to_vec(&body).unwrap();
            crate::common::client::send(
                addr,
                "POST",
                USERS,
                &[("content-type", "application/json")],
                Some(&bytes),
            )
            .await
            .status
            .as_u16()
        })
    });
    let mut statuses = Vec::new();
    for attempt in attempts.collect::<Vec<_>>() {
        statuses.push(attempt.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        49,
        "{statuses:?}"
    );
    assert_eq!(app.user_count().await, 1);
}

#[tokio::test]
async fn query_parameters_are_ignored_outside_the_listing() {
    let app = spawn_app().await;
    let response = app
        .request_with(
            "POST",
            "/api/v1/users?limit=banana&x=1",
            &[("content-type", "application/json")],
            Some(br#"{"email":"q@x.io"}"#),
        )
        .await;
    assert_eq!(response.status, 201);
}
