//! The document's security with `AUTH_MODE=oidc`: an `openIdConnect`
//! scheme, and on each protected operation its scope and its 401 and 403,
//! all read from the route table's [`Access`] (no second list to forget).

use http::Method;
use serde_json::{Value, json};

use super::parts::problem;
use crate::config::OidcSettings;
use crate::router::Access;

/// The scheme's name in the document.
pub const SCHEME: &str = "oidc";

/// Adds the scheme and each protected operation's requirement to `doc`.
pub fn apply(doc: &mut Value, operations: &[(Method, &'static str, Access)], oidc: &OidcSettings) {
    if let Some(description) = doc["info"]["description"].as_str() {
        doc["info"]["description"] = json!(format!(
            "{description} Protected operations need an OAuth 2.0 bearer token (Authorization: Bearer <token>) with the scope they name; it is checked right after path and method: 401 unauthorized without a valid token, then 403 forbidden without the scope. A token is never read from the query or the body."
        ));
    }
    doc["components"]["securitySchemes"] = json!({
        SCHEME: {
            "type": "openIdConnect",
            "openIdConnectUrl": oidc.discovery_url(),
            "description": "An access token from the OpenID Provider, sent as `Authorization: Bearer <token>`; each operation names the scope it needs (a write scope does not imply the read scope)."
        }
    });
    for (method, template, access) in operations {
        let Some(scope) = access.scope() else {
            continue;
        };
        let method = method.as_str().to_ascii_lowercase();
        let Some(op) = doc["paths"][*template].get_mut(&method) else {
            continue;
        };
        op["security"] = json!([{ SCHEME: [scope] }]);
        let responses = &mut op["responses"];
        responses["401"] = with_challenge(
            problem(
                "No bearer token (`www-authenticate: Bearer`), or one that is not valid (`Bearer error=\"invalid_token\"`).",
                &["unauthorized"],
            ),
            "The bearer challenge (RFC 6750).",
        );
        responses["403"] = with_challenge(
            problem(
                &format!(
                    "The token lacks the scope {scope} (`Bearer error=\"insufficient_scope\"`)."
                ),
                &["forbidden"],
            ),
            "The bearer challenge naming the scope needed.",
        );
    }
}

fn with_challenge(mut response: Value, description: &str) -> Value {
    response["headers"]["www-authenticate"] = json!({
        "description": description,
        "required": true,
        "schema": {"type": "string"}
    });
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::{RESOURCES, routes};
    use crate::config::{DatabaseUrl, Settings};
    use crate::state::AppState;

    #[tokio::test]
    async fn protected_operations_name_their_scope_and_refusals() {
        let url = DatabaseUrl::parse("postgres://app@localhost/unused").unwrap();
        let table = routes(&AppState::new(Settings::for_database(url)).unwrap());
        let mut doc = super::super::document(RESOURCES);
        let oidc = OidcSettings {
            issuer: "https://id.example.com/".into(),
            audience: "backend".into(),
            jwks_url: None,
            leeway_seconds: 30,
        };
        apply(&mut doc, &table.accesses(), &oidc);
        assert_eq!(
            doc["components"]["securitySchemes"][SCHEME]["openIdConnectUrl"],
            "https://id.example.com/.well-known/openid-configuration"
        );
        let mut protected = 0;
        for (method, template, access) in table.accesses() {
            let op = &doc["paths"][template][method.as_str().to_ascii_lowercase()];
            match access.scope() {
                Some(scope) => {
                    protected += 1;
                    assert_eq!(
                        op["security"],
                        json!([{SCHEME: [scope]}]),
                        "{method} {template}"
                    );
                    assert!(op["responses"]["401"].is_object());
                    assert!(op["responses"]["403"].is_object());
                }
                None => assert!(op.get("security").is_none(), "{method} {template}"),
            }
        }
        // Every resource operation (HEADs included), whatever the resources.
        let resource_operations = table
            .accesses()
            .iter()
            .filter(|(_, t, _)| t.starts_with("/api/v1/") && *t != crate::openapi::DOCUMENT_PATH)
            .count();
        assert!(
            resource_operations >= 7,
            "users' five operations and two HEADs at least"
        );
        assert_eq!(protected, resource_operations);
    }
}
