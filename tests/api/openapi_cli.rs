//! `backend openapi` prints the document the server serves, security
//! included: it reads `AUTH_MODE` and `OIDC_*` without needing a database.

use backend::config::{AuthMode, OidcSettings};

use crate::common::binary::command;
use crate::common::spawn_app_with;

#[tokio::test]
async fn the_printed_document_is_the_served_one_with_oidc_and_no_database_url() {
    // Nothing listens on port 9: the app's key loader fails quietly.
    let issuer = "http://127.0.0.1:9/realms/backend";
    let oidc = OidcSettings {
        issuer: issuer.into(),
        audience: "backend".into(),
        jwks_url: None,
        leeway_seconds: 30,
    };
    let app = spawn_app_with(|s| s.auth = AuthMode::Oidc(oidc), |t, _| t).await;
    let served = app.get("/api/v1/openapi.json").await.json();
    assert!(served["components"]["securitySchemes"]["oidc"].is_object());

    let env = [
        ("AUTH_MODE", "oidc"),
        ("OIDC_ISSUER", issuer),
        ("OIDC_AUDIENCE", "backend"),
    ];
    let printed = command(&["openapi"], &env).output().await.unwrap();
    assert!(
        printed.status.success(),
        "{}",
        String::from_utf8_lossy(&printed.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&printed.stdout).unwrap();
    assert_eq!(printed, served);

    // Bad auth settings are reported like the server's (exit code 2).
    let bad = command(&["openapi"], &[("AUTH_MODE", "oidc")])
        .output()
        .await
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("OIDC_ISSUER"), "{stderr}");
}
