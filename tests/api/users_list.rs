//! API.md, `GET /api/v1/users`: oldest first, keyset pages whose cursors
//! visit every matching user exactly once — also while users are created and
//! deleted during the walk — and a strict query string.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::common::{TestApp, spawn_app};

async fn page(app: &TestApp, query: &str) -> Value {
    let response = app.get(&format!("/api/v1/users{query}")).await;
    assert_eq!(response.status, 200, "{query}: {:?}", response.body);
    assert_eq!(response.header("content-type"), "application/json");
    response.json()
}

/// Follows `next_cursor` from the first page; returns the ids in order.
async fn walk(app: &TestApp, params: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..1000 {
        let query = match &cursor {
            Some(c) => format!("?{params}&cursor={c}"),
            None => format!("?{params}"),
        };
        let body = page(app, &query).await;
        for user in body["items"].as_array().unwrap() {
            ids.push(user["id"].as_str().unwrap().to_owned());
        }
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return ids,
        }
    }
    panic!("the walk did not end");
}

#[tokio::test]
async fn an_empty_list() {
    let app = spawn_app().await;
    assert_eq!(
        page(&app, "").await,
        json!({"items": [], "next_cursor": null})
    );
}

#[tokio::test]
async fn pages_are_oldest_first_and_the_last_has_no_cursor() {
    let app = spawn_app().await;
    let mut created = Vec::new();
    for i in 0..5 {
        created.push(app.create_user(&format!("u{i}@example.com")).await);
    }
    let first = page(&app, "?limit=2").await;
    assert_eq!(first["items"].as_array().unwrap().len(), 2);
    assert_eq!(first["items"][0], created[0]);
    assert_eq!(first["items"][1], created[1]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = page(&app, &format!("?limit=2&cursor={cursor}")).await;
    assert_eq!(second["items"][0], created[2]);
    let cursor = second["next_cursor"].as_str().unwrap();
    let last = page(&app, &format!("?limit=2&cursor={cursor}")).await;
    assert_eq!(last["items"].as_array().unwrap().len(), 1);
    assert_eq!(last["next_cursor"], Value::Null);

    // A page that ends exactly at the last user says so: no empty extra page.
    let all = page(&app, "?limit=5").await;
    assert_eq!(all["items"].as_array().unwrap().len(), 5);
    assert_eq!(all["next_cursor"], Value::Null);
    let default = page(&app, "").await;
    assert_eq!(
        default["items"].as_array().unwrap().len(),
        5,
        "default limit is 20"
    );

    let ids: Vec<String> = created
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(walk(&app, "limit=1").await, ids);
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(sorted, ids, "ascending id is creation order");
}

#[tokio::test]
async fn the_limit_defaults_to_20_and_caps_at_100() {
    let app = spawn_app().await;
    let db = app.db_client().await;
    // 105 users inserted directly, with ids in creation order.
    for i in 0..105 {
        db.execute(
            "INSERT INTO users (id, email, email_key) VALUES ($1, $2, $2)",
            &[&uuid::Uuid::now_v7(), &format!("bulk{i}@example.com")],
        )
        .await
        .unwrap();
    }
    assert_eq!(page(&app, "").await["items"].as_array().unwrap().len(), 20);
    let full = page(&app, "?limit=100").await;
    assert_eq!(full["items"].as_array().unwrap().len(), 100);
    assert!(full["next_cursor"].is_string());
    assert_eq!(walk(&app, "limit=100").await.len(), 105);
}

#[tokio::test]
async fn the_is_active_filter() {
    let app = spawn_app().await;
    let mut active = Vec::new();
    for i in 0..6 {
        let response = app
            .send_json(
                "POST",
                "/api/v1/users",
                &json!({"email": format!("f{i}@x.io"), "is_active": i % 3 != 0}),
            )
            .await
            .json();
        if i % 3 != 0 {
            active.push(response["id"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(walk(&app, "is_active=true&limit=1").await, active);
    let inactive = walk(&app, "is_active=false").await;
    assert_eq!(inactive.len(), 2);
    for user in page(&app, "?is_active=false").await["items"]
        .as_array()
        .unwrap()
    {
        assert_eq!(user["is_active"], false);
    }
}

#[tokio::test]
async fn a_walk_sees_every_stable_user_exactly_once_under_concurrent_changes() {
    let app = spawn_app().await;
    let mut stable = Vec::new();
    let mut doomed = Vec::new();
    for i in 0..40 {
        let user = app.create_user(&format!("w{i}@example.com")).await;
        let id = user["id"].as_str().unwrap().to_owned();
        if i % 4 == 1 {
            doomed.push(id);
        } else {
            stable.push(id);
        }
    }
    let addr = app.addr;
    let churn = tokio::spawn(async move {
        for (i, id) in doomed.iter().enumerate() {
            let path = format!("/api/v1/users/{id}");
            crate::common::client::send(addr, "DELETE", &path, &[], None).await;
            let body =
                serde_json::to_vec(&json!({"email": format!("new{i}@example.com")})).unwrap();
            crate::common::client::send(
                addr,
                "POST",
                "/api/v1/users",
                &[("content-type", "application/json")],
                Some(&body),
            )
            .await;
        }
    });
    let seen = walk(&app, "limit=3").await;
    churn.await.unwrap();
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "in order");
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no user twice");
    for id in &stable {
        assert!(seen.contains(id), "stable user {id} missed");
    }
}

#[tokio::test]
async fn the_query_string_is_strict() {
    let app = spawn_app().await;
    app.create_user("q@example.com").await;
    let cases: Vec<(&str, &str, &str)> = vec![
        ("?limit=0", "limit", "must be an integer from 1 to 100"),
        ("?limit=101", "limit", "must be an integer from 1 to 100"),
        ("?limit=-1", "limit", "must be an integer from 1 to 100"),
        ("?limit=abc", "limit", "must be an integer from 1 to 100"),
        ("?limit=1.5", "limit", "must be an integer from 1 to 100"),
        ("?limit=", "limit", "must be an integer from 1 to 100"),
        (
            "?limit=99999999999999999999999999",
            "limit",
            "must be an integer from 1 to 100",
        ),
        ("?is_active=yes", "is_active", "must be true or false"),
        ("?is_active=", "is_active", "must be true or false"),
        (
            "?cursor=",
            "cursor",
            "is not a cursor issued by this service",
        ),
        (
            "?cursor=not-a-cursor",
            "cursor",
            "is not a cursor issued by this service",
        ),
        (
            "?cursor=019ad3c4-1f5e-7c3a-9b1e-4c2d8f6a0b12",
            "cursor",
            "is not a cursor issued by this service",
        ),
        ("?offset=10", "offset", "is not a known parameter"),
        ("?limit=5&limit=5", "limit", "must appear only once"),
        ("?limit=%FF", "limit", "is not valid percent-encoded UTF-8"),
    ];
    for (query, field, message) in cases {
        let response = app.get(&format!("/api/v1/users{query}")).await;
        let body = response.assert_problem(422, "validation_failed");
        assert_eq!(
            body["errors"][0],
            json!({"location": "query", "field": field, "message": message}),
            "{query}"
        );
        assert_eq!(body["instance"], "/api/v1/users", "no query in instance");
    }
    let response = app
        .get("/api/v1/users?limit=0&sort=name&is_active=maybe")
        .await;
    assert_eq!(
        response.assert_problem(422, "validation_failed")["errors"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    // A cursor from the service, tampered with, no longer decodes.
    let cursor = {
        app.create_user("q2@example.com").await;
        page(&app, "?limit=1").await["next_cursor"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let tampered = format!("ff{}", &cursor[2..]);
    app.get(&format!("/api/v1/users?cursor={tampered}"))
        .await
        .assert_problem(422, "validation_failed");
    let upper = cursor.to_uppercase();
    app.get(&format!("/api/v1/users?cursor={upper}"))
        .await
        .assert_problem(422, "validation_failed");
}
