//! The webhook subscriptions: create (201, `Location`, the secret shown
//! once), read, list, update, delete; every rule of their members; literal
//! special-purpose hosts refused unless private networks are allowed.

use serde_json::{Value, json};

use crate::common::{TestApp, spawn_app, spawn_app_with};

const WEBHOOKS: &str = "/api/v1/webhooks";

fn body_fields(response: &crate::common::TestResponse) -> Vec<String> {
    let body = response.assert_problem(422, "validation_failed");
    let mut fields: Vec<String> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect();
    fields.sort();
    fields
}

async fn create(app: &TestApp, body: &Value) -> crate::common::TestResponse {
    app.send_json("POST", WEBHOOKS, body).await
}

#[tokio::test]
async fn a_subscription_is_created_read_updated_and_deleted() {
    let app = spawn_app().await;
    let response = create(
        &app,
        &json!({"url": "https://hooks.example.com/users?x=1", "events": ["user.deleted", "user.created"], "description": "  CRM sync "}),
    )
    .await;
    assert_eq!(response.status, 201, "{:?}", response.body);
    let created = response.json();
    let id = created["id"].as_str().unwrap();
    assert_eq!(response.header("location"), format!("{WEBHOOKS}/{id}"));
    let secret = created["secret"].as_str().unwrap();
    assert!(
        secret.starts_with("whsec_") && secret.len() == 6 + 44,
        "{secret}"
    );
    assert_eq!(created["url"], "https://hooks.example.com/users?x=1");
    assert_eq!(created["events"], json!(["user.deleted", "user.created"]));
    assert_eq!(created["description"], "CRM sync");
    assert_eq!(created["is_active"], true);

    // The secret is never shown again.
    let got = app.get(&format!("{WEBHOOKS}/{id}")).await;
    assert_eq!(got.status, 200);
    let mut expected = created.clone();
    expected.as_object_mut().unwrap().remove("secret");
    assert_eq!(got.json(), expected);
    let listed = app.get(WEBHOOKS).await.json();
    assert_eq!(
        listed,
        json!({"items": [expected.clone()], "next_cursor": null})
    );

    // PATCH: {} is a no-op; any member moves updated_at; secret is refused.
    let item = format!("{WEBHOOKS}/{id}");
    assert_eq!(
        app.send_json("PATCH", &item, &json!({})).await.json(),
        expected
    );
    let patched = app
        .send_json(
            "PATCH",
            &item,
            &json!({"description": null, "is_active": false}),
        )
        .await;
    assert_eq!(patched.status, 200);
    let patched = patched.json();
    assert_eq!(patched["description"], Value::Null);
    assert_eq!(patched["is_active"], false);
    assert!(patched["updated_at"].as_str() > expected["updated_at"].as_str());
    let refused = app
        .send_json(
            "PATCH",
            &item,
            &json!({"secret": "whsec_AAAA", "url": null, "events": []}),
        )
        .await;
    assert_eq!(body_fields(&refused), ["events", "secret", "url"]);
    assert_eq!(
        app.get(&item).await.json(),
        patched,
        "a refused PATCH changes nothing"
    );

    assert_eq!(app.request("DELETE", &item).await.status, 204);
    app.get(&item).await.assert_problem(404, "not_found");
    app.request("DELETE", &item)
        .await
        .assert_problem(404, "not_found");
    app.get(&format!("{item}/deliveries"))
        .await
        .assert_problem(404, "not_found");
    app.get(&format!("{WEBHOOKS}/not-a-uuid"))
        .await
        .assert_problem(422, "validation_failed");
}

#[tokio::test]
async fn every_member_rule_is_checked_and_reported_at_once() {
    let app = spawn_app().await;
    assert_eq!(
        body_fields(&create(&app, &json!({"secret": "x", "is_active": null})).await),
        ["events", "is_active", "secret", "url"]
    );
    let long = format!("https://example.com/{}", "a".repeat(2030));
    for url in [
        json!("ftp://example.com/"),
        json!("example.com/hook"),
        json!("https://exa mple.com/"),
        json!(" https://example.com/"),
        json!("https://example.com/#"),
        json!("https://user:pw@example.com/"),
        json!(long),
        json!(null),
        json!(5),
    ] {
        let response = create(&app, &json!({"url": url, "events": ["user.created"]})).await;
        assert_eq!(body_fields(&response), ["url"], "{url}");
    }
    for events in [
        json!([]),
        json!(["user.created", "user.created"]),
        json!(["user.renamed"]),
        json!("user.created"),
        json!(null),
    ] {
        let response = create(
            &app,
            &json!({"url": "https://a.example/", "events": events}),
        )
        .await;
        assert_eq!(body_fields(&response), ["events"], "{events}");
    }
    let response = create(
        &app,
        &json!({"url": "https://a.example/", "events": ["user.created"], "description": "a\u{202E}b"}),
    )
    .await;
    assert_eq!(body_fields(&response), ["description"]);
    assert_eq!(
        app.get(WEBHOOKS).await.json()["items"],
        json!([]),
        "refused bodies write nothing"
    );
}

#[tokio::test]
async fn literal_private_hosts_are_refused_in_prod_and_allowed_with_the_flag() {
    let strict = spawn_app_with(|s| s.jobs.allow_private_networks = false, |t, _| t).await;
    let open = spawn_app_with(|s| s.jobs.allow_private_networks = true, |t, _| t).await;
    for url in [
        "http://127.0.0.1/",
        "http://127.1/",
        "http://2130706433/",
        "http://0x7f.1/",
        "http://10.0.0.1/",
        "http://172.16.5.4/",
        "http://192.168.0.1/",
        "http://100.64.0.1/",
        "http://169.254.169.254/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://[::1]/",
        "http://[fd00::1]/",
        "http://[fe80::1]/",
        "http://[::ffff:127.0.0.1]/",
    ] {
        let body = json!({"url": url, "events": ["user.created"]});
        assert_eq!(body_fields(&create(&strict, &body).await), ["url"], "{url}");
        assert_eq!(create(&open, &body).await.status, 201, "{url}");
    }
    let public = json!({"url": "http://93.184.215.14/", "events": ["user.created"]});
    assert_eq!(create(&strict, &public).await.status, 201);
}

#[tokio::test]
async fn subscriptions_are_listed_in_keyset_pages() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let body = json!({"url": format!("https://a.example/{i}"), "events": ["user.updated"]});
        ids.push(create(&app, &body).await.json()["id"].clone());
    }
    let first = app.get(&format!("{WEBHOOKS}?limit=2")).await.json();
    assert_eq!(first["items"][0]["id"], ids[0]);
    assert_eq!(first["items"][1]["id"], ids[1]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = app
        .get(&format!("{WEBHOOKS}?limit=2&cursor={cursor}"))
        .await
        .json();
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    assert_eq!(second["items"][0]["id"], ids[2]);
    assert_eq!(second["next_cursor"], Value::Null);
    for bad in [
        "?limit=0",
        "?is_active=true",
        "?cursor=x",
        "?limit=1&limit=1",
    ] {
        app.get(&format!("{WEBHOOKS}{bad}"))
            .await
            .assert_problem(422, "validation_failed");
    }
}
