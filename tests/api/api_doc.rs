//! `docs/api.md`, the contract in words, against the OpenAPI document the
//! server serves: every route and problem code the page names is served and
//! documented, and every documented route and code is on the page.

use std::collections::BTreeSet;

use crate::common::spawn_app;

/// Every `` `METHOD /path` `` the page names.
fn routes_named(page: &str) -> BTreeSet<(String, String)> {
    const METHODS: [&str; 5] = ["GET", "POST", "PATCH", "DELETE", "HEAD"];
    page.split('`')
        .skip(1)
        .step_by(2)
        .filter_map(|code| {
            let (method, path) = code.split_once(' ')?;
            (METHODS.contains(&method) && path.starts_with('/') && !path.contains(' '))
                .then(|| (method.to_owned(), path.to_owned()))
        })
        .collect()
}

#[tokio::test]
async fn the_api_page_and_the_openapi_document_name_the_same_routes_and_codes() {
    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/api.md"))
        .expect("docs/api.md");
    let app = spawn_app().await;
    let doc = app.get("/api/v1/openapi.json").await.json();

    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if method != "head" {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    // /metrics is served on a listener of its own, not on the API's port.
    let named: BTreeSet<_> = routes_named(&page)
        .into_iter()
        .filter(|(_, path)| path != "/metrics")
        .collect();
    assert_eq!(
        named.difference(&documented).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "named on the page but not served"
    );
    assert_eq!(
        documented.difference(&named).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "served but not named on the page"
    );

    for code in backend::error::CODES {
        assert!(
            page.contains(&format!("| `{code}` |")),
            "{code} is not in the page's table"
        );
    }
    let table_codes = page
        .lines()
        .filter(|l| l.starts_with('|'))
        .filter_map(|l| l.trim_end_matches('|').rsplit('|').next())
        .map(str::trim)
        .filter(|c| c.starts_with('`') && c.ends_with('`') && !c.contains(' '))
        .map(|c| c.trim_matches('`').to_owned())
        // The table's header names the column `code`.
        .filter(|c| c != "code")
        .filter(|c| c.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_'));
    for code in table_codes {
        assert!(
            backend::error::CODES.contains(&code.as_str()),
            "{code} is not a code of the service"
        );
    }
}
