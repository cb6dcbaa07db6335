//! API.md, the text rules: trimming, then NFC before every other rule and
//! before the uniqueness key; format characters refused in emails; bidi
//! controls refused in full names, other format characters kept. Over the
//! real API and database, on create and on update.

use serde_json::{Value, json};

use crate::common::{TestApp, TestResponse, spawn_app};

const USERS: &str = "/api/v1/users";

/// Asserts a 422 whose only problem is `field` with `message`.
#[track_caller]
fn assert_refused(response: &TestResponse, field: &str, message: &str) {
    let body = response.assert_problem(422, "validation_failed");
    assert_eq!(
        body["errors"],
        json!([{"location": "body", "field": field, "message": message}])
    );
}

async fn post(app: &TestApp, body: &Value) -> TestResponse {
    app.send_json("POST", USERS, body).await
}

async fn patch(app: &TestApp, id: &str, body: &Value) -> TestResponse {
    app.send_json("PATCH", &format!("{USERS}/{id}"), body).await
}

const CF: &str = "must not contain format characters (Unicode Cf)";
const BIDI: &str = "must not contain bidirectional embedding, override or isolate controls";

#[tokio::test]
async fn a_zero_width_space_does_not_make_a_second_admin() {
    let app = spawn_app().await;
    app.create_user("admin@example.com").await;
    let response = post(&app, &json!({"email": "admin\u{200b}@example.com"})).await;
    assert_refused(&response, "email", CF);
    let response = post(&app, &json!({"email": "\u{feff}admin@example.com"})).await;
    assert_refused(&response, "email", CF);
    assert_eq!(app.user_count().await, 1);
}

#[tokio::test]
async fn decomposed_letters_are_stored_composed_and_collide_with_composed() {
    let app = spawn_app().await;
    let response = post(
        &app,
        &json!({"email": " e\u{301}lise@example.com ", "full_name": "E\u{301}lise Cafe\u{301}"}),
    )
    .await;
    assert_eq!(response.status, 201, "{:?}", response.body);
    let user = response.json();
    assert_eq!(user["email"], "\u{e9}lise@example.com");
    assert_eq!(user["full_name"], "\u{c9}lise Caf\u{e9}");
    let fetched = app
        .get(&format!("{USERS}/{}", user["id"].as_str().unwrap()))
        .await;
    assert_eq!(fetched.json(), user, "stored as returned");
    let stored: String = app
        .db_client()
        .await
        .query_one("SELECT email FROM users", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, "\u{e9}lise@example.com");
    for taken in [
        "\u{e9}lise@example.com",
        "\u{c9}LISE@example.com",
        "E\u{301}LISE@EXAMPLE.COM",
    ] {
        let response = post(&app, &json!({"email": taken})).await;
        response.assert_problem(409, "conflict");
    }
    assert_eq!(app.user_count().await, 1);
}

#[tokio::test]
async fn bidi_overrides_are_refused_in_full_names_and_joiners_kept() {
    let app = spawn_app().await;
    let response = post(
        &app,
        &json!({"email": "a@example.com", "full_name": "gnp.\u{202e}exe"}),
    )
    .await;
    assert_refused(&response, "full_name", BIDI);
    assert_eq!(app.user_count().await, 0);
    // Persian (ZWNJ) and Devanagari (ZWJ): already NFC, returned as sent.
    for (email, name) in [
        (
            "fa@example.com",
            "\u{645}\u{6cc}\u{200c}\u{62e}\u{648}\u{627}\u{647}\u{645}",
        ),
        ("hi@example.com", "\u{915}\u{94d}\u{200d}\u{937}"),
    ] {
        let response = post(&app, &json!({"email": email, "full_name": name})).await;
        assert_eq!(response.status, 201, "{:?}", response.body);
        assert_eq!(response.json()["full_name"], name);
    }
}

#[tokio::test]
async fn updates_follow_the_same_rules() {
    let app = spawn_app().await;
    let user = app.create_user("ada@example.com").await;
    let other = app.create_user("\u{e9}lise@example.com").await;
    let id = user["id"].as_str().unwrap();

    let response = patch(&app, id, &json!({"email": "ada\u{200b}@example.com"})).await;
    assert_refused(&response, "email", CF);
    let response = patch(&app, id, &json!({"full_name": "\u{2067}Ada"})).await;
    assert_refused(&response, "full_name", BIDI);
    let response = patch(&app, id, &json!({"email": "E\u{301}lise@example.com"})).await;
    response.assert_problem(409, "conflict");
    assert_eq!(
        app.get(&format!("{USERS}/{id}")).await.json(),
        user,
        "unchanged"
    );

    let response = patch(
        &app,
        id,
        &json!({"email": "a\u{30a}da@example.com", "full_name": "Ada\u{200d}Lovelace"}),
    )
    .await;
    assert_eq!(response.status, 200, "{:?}", response.body);
    let updated = response.json();
    assert_eq!(updated["email"], "\u{e5}da@example.com");
    assert_eq!(updated["full_name"], "Ada\u{200d}Lovelace");
    assert_ne!(other["id"], updated["id"]);
}
