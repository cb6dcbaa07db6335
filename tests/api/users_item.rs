//! API.md, `GET`, `PATCH` and `DELETE /api/v1/users/{id}`: the id rules, 404s,
//! partial updates (absent vs null, `{}` as a no-op, `updated_at` moving on
//! every update), 409 on a taken email, and the order of checks.

use serde_json::{Value, json};

use crate::common::{TestApp, spawn_app};

fn item(id: &str) -> String {
    format!("/api/v1/users/{id}")
}

async fn patch(app: &TestApp, id: &str, body: &Value) -> crate::common::TestResponse {
    app.send_json("PATCH", &item(id), body).await
}

const MISSING: &str = "019ad3c4-1f5e-7c3a-9b1e-4c2d8f6a0b12";

#[tokio::test]
async fn get_returns_the_user_or_404() {
    let app = spawn_app().await;
    let user = app.create_user("get@example.com").await;
    let id = user["id"].as_str().unwrap();
    let response = app.get(&item(id)).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.json(), user);
    let upper = app.get(&item(&id.to_uppercase())).await;
    assert_eq!(upper.status, 200, "any letter case");
    assert_eq!(upper.json(), user);
    let missing = app.get(&item(MISSING)).await;
    let body = missing.assert_problem(404, "not_found");
    assert_eq!(body["instance"], item(MISSING));
}

#[tokio::test]
async fn a_malformed_id_is_a_422_in_the_path() {
    let app = spawn_app().await;
    let bad_ids = [
        "123",
        "not-a-uuid",
        "019ad3c41f5e7c3a9b1e4c2d8f6a0b12",
        "{019ad3c4-1f5e-7c3a-9b1e-4c2d8f6a0b12}",
        "019ad3c4-1f5e-7c3a-9b1e-4c2d8f6a0b1z",
        "%30%31",
        "%zz",
        "urn:uuid:019ad3c4-1f5e-7c3a-9b1e-4c2d8f6a0b12",
    ];
    for id in bad_ids {
        for method in ["GET", "DELETE"] {
            let response = app.request(method, &item(id)).await;
            let body = response.assert_problem(422, "validation_failed");
            assert_eq!(
                body["errors"],
                json!([{"location": "path", "field": "id", "message": "must be a UUID in the form xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"}]),
                "{method} {id}"
            );
        }
        // The path is checked before the body.
        let response = app.request_with("PATCH", &item(id), &[], None).await;
        response.assert_problem(422, "validation_failed");
    }
}

#[tokio::test]
async fn head_mirrors_get() {
    let app = spawn_app().await;
    let user = app.create_user("head@example.com").await;
    let path = item(user["id"].as_str().unwrap());
    let get = app.get(&path).await;
    let head = app.request("HEAD", &path).await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(head.header("content-length"), get.body.len().to_string());
    let head = app.request("HEAD", &item(MISSING)).await;
    assert_eq!(head.status, 404);
    assert!(head.body.is_empty());
    let head = app.request("HEAD", "/api/v1/users?limit=2").await;
    assert_eq!(head.status, 200);
}

#[tokio::test]
async fn patch_updates_only_the_given_members() {
    let app = spawn_app().await;
    let user = app.create_user("patch@example.com").await;
    let id = user["id"].as_str().unwrap();

    let named = patch(&app, id, &json!({"full_name": "  Grace Hopper "})).await;
    assert_eq!(named.status, 200);
    let named = named.json();
    assert_eq!(named["full_name"], "Grace Hopper");
    assert_eq!(named["email"], "patch@example.com");
    assert_eq!(named["is_active"], true);
    assert_eq!(named["created_at"], user["created_at"]);
    assert!(named["updated_at"].as_str() > user["updated_at"].as_str());

    let moved = patch(
        &app,
        id,
        &json!({"email": " New@Example.com ", "is_active": false}),
    )
    .await
    .json();
    assert_eq!(moved["email"], "New@Example.com");
    assert_eq!(moved["is_active"], false);
    assert_eq!(moved["full_name"], "Grace Hopper");

    let cleared = patch(&app, id, &json!({"full_name": null})).await.json();
    assert_eq!(cleared["full_name"], Value::Null);
    let blank = patch(&app, id, &json!({"full_name": "Ada"})).await.json();
    assert_eq!(blank["full_name"], "Ada");
    let blank = patch(&app, id, &json!({"full_name": "   "})).await.json();
    assert_eq!(blank["full_name"], Value::Null);

    assert_eq!(app.get(&item(id)).await.json(), blank);
}

#[tokio::test]
async fn an_empty_patch_is_a_no_op_and_any_other_moves_updated_at() {
    let app = spawn_app().await;
    let user = app.create_user("noop@example.com").await;
    let id = user["id"].as_str().unwrap();
    let same = patch(&app, id, &json!({})).await;
    assert_eq!(same.status, 200);
    assert_eq!(same.json(), user, "unchanged, updated_at included");
    let mut previous = user["updated_at"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        let again = patch(
            &app,
            id,
            &json!({"email": "noop@example.com", "is_active": true}),
        )
        .await
        .json();
        let updated = again["updated_at"].as_str().unwrap().to_owned();
        assert!(updated > previous, "{updated} > {previous}");
        previous = updated;
        assert_eq!(again["email"], "noop@example.com");
    }
    assert_eq!(patch(&app, MISSING, &json!({})).await.status, 404);
}

#[tokio::test]
async fn patch_rules_and_order_of_checks() {
    let app = spawn_app().await;
    let user = app.create_user("rules@example.com").await;
    let id = user["id"].as_str().unwrap();
    let json_ct = [("content-type", "application/json")];

    app.request_with("PATCH", &item(id), &json_ct, None)
        .await
        .assert_problem(400, "malformed_body");
    app.request_with(
        "PATCH",
        &item(id),
        &[("content-type", "application/merge-patch+json")],
        Some(b"{}"),
    )
    .await
    .assert_problem(415, "unsupported_media_type");
    app.request_with("PATCH", &item(id), &json_ct, Some(b"[1]"))
        .await
        .assert_problem(400, "malformed_body");

    let response = patch(
        &app,
        id,
        &json!({"email": null, "is_active": null, "full_name": 3, "created_at": "x"}),
    )
    .await;
    let body = response.assert_problem(422, "validation_failed");
    let mut fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    fields.sort_unstable();
    assert_eq!(fields, ["created_at", "email", "full_name", "is_active"]);

    // Body rules come before the operation: an invalid body on a missing id is a 422.
    patch(&app, MISSING, &json!({"email": "x"}))
        .await
        .assert_problem(422, "validation_failed");
    patch(&app, MISSING, &json!({"email": "ok@example.com"}))
        .await
        .assert_problem(404, "not_found");

    assert_eq!(app.get(&item(id)).await.json(), user, "nothing changed");
}

#[tokio::test]
async fn patch_to_a_taken_email_is_a_409_but_a_case_change_of_ones_own_is_not() {
    let app = spawn_app().await;
    app.create_user("taken@example.com").await;
    let user = app.create_user("mine@example.com").await;
    let id = user["id"].as_str().unwrap();
    let body = patch(&app, id, &json!({"email": "TAKEN@example.com"}))
        .await
        .assert_problem(409, "conflict");
    assert_eq!(body["detail"], "a user with this email already exists");
    let recased = patch(&app, id, &json!({"email": "MINE@example.com"})).await;
    assert_eq!(recased.status, 200);
    assert_eq!(recased.json()["email"], "MINE@example.com");
}

#[tokio::test]
async fn delete_is_204_then_404() {
    let app = spawn_app().await;
    let user = app.create_user("gone@example.com").await;
    let path = item(user["id"].as_str().unwrap());
    let deleted = app.request("DELETE", &path).await;
    assert_eq!(deleted.status, 204);
    assert!(deleted.body.is_empty());
    assert!(deleted.headers.contains_key("x-request-id"));
    app.request("DELETE", &path)
        .await
        .assert_problem(404, "not_found");
    app.get(&path).await.assert_problem(404, "not_found");
    assert_eq!(app.user_count().await, 0);
    // The email is free again.
    app.create_user("GONE@example.com").await;
}

#[tokio::test]
async fn unsupported_methods_and_trailing_slashes() {
    let app = spawn_app().await;
    let user = app.create_user("m@example.com").await;
    let path = item(user["id"].as_str().unwrap());
    for method in ["POST", "PUT"] {
        let response = app.request(method, &path).await;
        response.assert_problem(405, "method_not_allowed");
        assert_eq!(response.header("allow"), "GET, PATCH, DELETE, HEAD");
    }
    for method in ["PUT", "DELETE", "PATCH"] {
        let response = app.request(method, "/api/v1/users").await;
        response.assert_problem(405, "method_not_allowed");
        assert_eq!(response.header("allow"), "POST, GET, HEAD");
    }
    for path in [
        "/api/v1/users/",
        &format!("{path}/"),
        "/api/v1/users//x",
        "/api/v1/user",
    ] {
        app.get(path).await.assert_problem(404, "not_found");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patch_racing_a_post_for_the_same_email_leaves_one_winner_and_a_409() {
    let app = spawn_app().await;
    for round in 0..8 {
        let user = app.create_user(&format!("racer-{round}@example.com")).await;
        let id = user["id"].as_str().unwrap().to_owned();
        let email = format!("contested-{round}@example.com");
        let body = json!({ "email": email });
        let (patched, posted) = tokio::join!(
            patch(&app, &id, &body),
            app.send_json("POST", "/api/v1/users", &body),
        );
        let outcome = (patched.status.as_u16(), posted.status.as_u16());
        match outcome {
            (200, 409) => {
                posted.assert_problem(409, "conflict");
                assert_eq!(patched.json()["email"], email.as_str());
            }
            (409, 201) => {
                patched.assert_problem(409, "conflict");
                assert_eq!(posted.json()["email"], email.as_str());
            }
            other => panic!("round {round}: one winner and one 409, not {other:?}"),
        }
        let holders: i64 = app
            .db_client()
            .await
            .query_one(
                "SELECT count(*) FROM users WHERE lower(email) = $1",
                &[&email],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(holders, 1, "round {round}: exactly one user has the email");
    }
}
