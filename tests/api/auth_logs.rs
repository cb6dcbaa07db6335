//! What the real binary logs with `AUTH_MODE=oidc`: the caller of a request
//! with a verified token, never the token; and the error line of a
//! discovery document naming another issuer.

use std::time::Duration;

use crate::auth_provider::{AUDIENCE, Provider, claims};
use crate::auth_signer::Signer;
use crate::common::binary::{Process, command, output_within};
use crate::common::client::send;
use crate::common::fresh_database;
use crate::lifecycle::database_url;

async fn serve(provider: &Provider, url: &str) -> (Process, std::net::SocketAddr) {
    let issuer = provider.issuer();
    Process::serve(&[
        ("DATABASE_URL", url),
        ("AUTH_MODE", "oidc"),
        ("OIDC_ISSUER", &issuer),
        ("OIDC_AUDIENCE", AUDIENCE),
    ])
    .await
}

#[tokio::test]
async fn the_access_line_names_the_caller_and_never_the_token() {
    let signer = Signer::rsa("k", "RS256");
    let provider = Provider::start(&[&signer]).await;
    let url = database_url(&fresh_database().await);
    let (mut process, addr) = serve(&provider, &url).await;
    if !process
        .seen
        .iter()
        .any(|l| l.contains("signing keys loaded"))
    {
        process
            .wait_for_line(
                |l| l.contains("signing keys loaded"),
                Duration::from_secs(10),
            )
            .await
            .expect("keys loaded");
    }
    let token = signer.sign(&claims(&provider.issuer(), "users:write"));
    let authorization = format!("Bearer {token}");
    for (id, path) in [
        ("auth-log-403", "/api/v1/users"),
        ("auth-log-404", "/api/v1/nowhere"),
    ] {
        let headers = [
            ("authorization", authorization.as_str()),
            ("x-request-id", id),
        ];
        send(addr, "GET", path, &headers, None).await;
    }
    let forbidden = process
        .wait_for_line(
            |l| l.contains("auth-log-403") && l.contains("\"status\""),
            Duration::from_secs(5),
        )
        .await
        .expect("the 403's access line");
    let line: serde_json::Value = serde_json::from_str(&forbidden).unwrap();
    assert_eq!(line["status"], 403);
    assert_eq!(line["subject"], "user-42");
    assert_eq!(line["client_id"], "test-client");
    process
        .wait_for_line(
            |l| l.contains("auth-log-404") && l.contains("\"status\""),
            Duration::from_secs(5),
        )
        .await
        .expect("the 404's access line");
    process.terminate();
    process.wait(Duration::from_secs(10)).await;
    let signature = token.rsplit('.').next().unwrap();
    for line in &process.seen {
        assert!(
            !line.contains(signature) && !line.contains(&token[..20]),
            "token leaked: {line}"
        );
    }
}

#[tokio::test]
async fn a_discovery_issuer_mismatch_is_an_error_line_naming_both() {
    let signer = Signer::rsa("k", "RS256");
    let provider = Provider::start(&[&signer]).await;
    provider.set_discovery_issuer("https://impostor.example.com");
    let url = database_url(&fresh_database().await);
    let (mut process, addr) = serve(&provider, &url).await;
    let error = process
        .wait_for_line(
            |l| l.contains("\"ERROR\"") && l.contains("impostor"),
            Duration::from_secs(10),
        )
        .await
        .unwrap_or_else(|| panic!("no error line: {:?}", process.seen));
    assert!(error.contains(&provider.issuer()), "{error}");
    let token = signer.sign(&claims(&provider.issuer(), "users:read"));
    let authorization = format!("Bearer {token}");
    let response = send(
        addr,
        "GET",
        "/api/v1/users",
        &[("authorization", &authorization)],
        None,
    )
    .await;
    response.assert_problem(503, "service_unavailable");
    process.terminate();
    process.wait(Duration::from_secs(10)).await;
}

#[tokio::test]
async fn prod_needs_an_auth_mode_and_warns_when_it_is_none() {
    let env = [
        ("DATABASE_URL", "postgres://localhost/unused"),
        ("APP_ENV", "prod"),
        ("AUTH_MODE", ""),
        ("OIDC_LEEWAY_SECONDS", "soon"),
    ];
    let output = output_within(&mut command(&["serve"], &env), Duration::from_secs(10)).await;
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("AUTH_MODE is required in prod") && stderr.contains("OIDC_LEEWAY_SECONDS"),
        "{stderr}"
    );

    let url = database_url(&fresh_database().await);
    let (mut process, _) = Process::serve(&[
        ("DATABASE_URL", &url),
        ("APP_ENV", "prod"),
        ("AUTH_MODE", "none"),
    ])
    .await;
    process.terminate();
    process.wait(Duration::from_secs(10)).await;
    let warning = process
        .seen
        .iter()
        .find(|l| l.contains("AUTH_MODE=none"))
        .unwrap_or_else(|| panic!("no warning: {:?}", process.seen));
    assert!(warning.contains("\"WARN\""), "{warning}");
}
