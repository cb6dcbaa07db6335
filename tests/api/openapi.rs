//! The OpenAPI document: served, version 3.1, and in step with the router —
//! every route and method is in both, or this fails.

use std::collections::BTreeSet;

use crate::common::spawn_app;

#[tokio::test]
async fn the_document_is_served_and_matches_the_router() {
    let app = spawn_app().await;
    let response = app.get("/api/v1/openapi.json").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), "application/json");
    let doc = response.json();
    assert_eq!(doc["openapi"], "3.1.0");

    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    let routed: BTreeSet<(String, String)> = backend::app::routes(&app.state)
        .operations()
        .into_iter()
        .map(|(method, path)| (method.to_string(), path.to_owned()))
        .collect();
    assert_eq!(documented, routed);
    for op in [
        "createUser",
        "listUsers",
        "getUser",
        "updateUser",
        "deleteUser",
        "healthz",
        "readyz",
    ] {
        assert!(
            response.body.windows(op.len()).any(|w| w == op.as_bytes()),
            "{op}"
        );
    }
}

#[tokio::test]
async fn docs_render_the_document_for_people_from_the_service_alone() {
    let app = spawn_app().await;
    let response = app.get("/docs").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("content-type"), "text/html; charset=utf-8");
    let policy = response.header("content-security-policy");
    assert!(policy.contains("default-src 'none'"), "{policy}");
    assert!(policy.contains("script-src 'self';"), "{policy}");
    let html = String::from_utf8_lossy(&response.body);
    assert!(
        !html.contains("http"),
        "nothing loaded from elsewhere: {html}"
    );
    // Every file the page loads is served here, with the page's policy.
    let mut sources: Vec<&str> = html
        .split(['"', '\''])
        .filter(|s| s.starts_with("/docs/"))
        .collect();
    sources.sort_unstable();
    assert_eq!(
        sources,
        [
            "/docs/docs.js",
            "/docs/swagger-ui-bundle.js",
            "/docs/swagger-ui.css"
        ]
    );
    for source in sources {
        let asset = app.get(source).await;
        assert_eq!(asset.status, 200, "{source}");
        assert!(
            asset
                .header("content-security-policy")
                .contains("default-src 'none'")
        );
        assert!(!asset.body.is_empty());
    }
    let bundle = app.get("/docs/swagger-ui-bundle.js").await;
    assert_eq!(bundle.header("content-encoding"), "gzip");
    assert!(bundle.body.starts_with(&[0x1f, 0x8b]), "gzip data");
    let init = app.get("/docs/docs.js").await;
    assert!(String::from_utf8_lossy(&init.body).contains("/api/v1/openapi.json"));
    app.get("/docs/nothing.js")
        .await
        .assert_problem(404, "not_found");
}
