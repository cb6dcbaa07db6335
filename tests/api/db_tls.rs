//! libpq's `sslmode` against a TLS-only PostgreSQL whose certificate (for
//! `localhost` only) is signed by a CA the test makes with openssl:
//! `verify-ca` trusts that CA and no other, `verify-full` also checks the
//! host name, `require` encrypts without checking, and `channel_binding`
//! is the driver's and honoured.

use std::time::Duration;

use backend::config::DatabaseUrl;

use crate::common::pg::PrivateServer;

/// Connects with `url` as the service would; the error chain if it fails.
async fn connect(url: &str) -> Result<(), String> {
    let db = DatabaseUrl::parse(url).map_err(|e| format!("settings: {e}"))?;
    let connector = backend::db::tls::connector_for(&db.tls);
    let attempt = tokio::time::timeout(Duration::from_secs(5), db.config.connect(connector));
    match attempt.await {
        Err(_) => Err("timed out".into()),
        Ok(Err(e)) => Err(backend::error::error_chain(&e)),
        Ok(Ok((client, connection))) => {
            tokio::spawn(connection);
            let ssl: bool = client
                .query_one(
                    "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                    &[],
                )
                .await
                .map_err(|e| e.to_string())?
                .get(0);
            assert!(ssl, "{url}: connected without TLS");
            Ok(())
        }
    }
}

#[tokio::test]
async fn verify_ca_and_verify_full_check_what_libpq_checks() {
    let certs = std::env::temp_dir().join(format!("backend-ca-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&certs).unwrap();
    crate::common::certs::make(&certs, "DNS:localhost");
    let (server, tls_url) =
        PrivateServer::start_with_tls_files(&certs.join("server.crt"), &certs.join("server.key"));
    assert!(tls_url.contains("@127.0.0.1:"), "{tls_url}");
    let on = |host: &str, query: &str| {
        let port = tls_url
            .split("127.0.0.1:")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .unwrap();
        format!("postgres://postgres@{host}:{port}/postgres?{query}")
    };
    let ca = certs.join("ca.crt");
    let other = certs.join("other.crt");
    let ca = ca.to_str().unwrap();
    let other = other.to_str().unwrap();

    // The right CA and the right name: both modes connect.
    let full = on(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    );
    connect(&full)
        .await
        .unwrap_or_else(|e| panic!("verify-full to localhost: {e}"));
    connect(&on(
        "localhost",
        &format!("sslmode=verify-ca&sslrootcert={ca}"),
    ))
    .await
    .unwrap_or_else(|e| panic!("verify-ca: {e}"));

    // The migration runner's own connection checks the same way.
    let runner = |url: &str| {
        let settings = backend::config::Settings::for_database(DatabaseUrl::parse(url).unwrap());
        async move { backend::db::migrate::connect(&settings).await.map(drop) }
    };
    runner(&full).await.unwrap();
    let wrong = on(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={other}"),
    );
    assert!(
        runner(&wrong).await.is_err(),
        "the runner trusted another CA"
    );

    // The wrong CA fails both.
    for mode in ["verify-ca", "verify-full"] {
        let error = connect(&on(
            "localhost",
            &format!("sslmode={mode}&sslrootcert={other}"),
        ))
        .await
        .expect_err("a certificate from another CA was trusted");
        assert!(error.contains("certificate"), "{mode}: {error}");
    }

    // 127.0.0.1 is not a name the certificate carries: verify-full fails,
    // verify-ca (chain only) connects.
    let error = connect(&on(
        "127.0.0.1",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    ))
    .await
    .expect_err("a certificate for localhost was accepted for 127.0.0.1");
    assert!(error.contains("certificate"), "{error}");
    connect(&on(
        "127.0.0.1",
        &format!("sslmode=verify-ca&sslrootcert={ca}"),
    ))
    .await
    .unwrap_or_else(|e| panic!("verify-ca ignores the host name: {e}"));

    // No roots given: the compiled-in public roots do not know a test CA.
    let error = connect(&on("localhost", "sslmode=verify-full"))
        .await
        .expect_err("a private CA was trusted without sslrootcert");
    assert!(error.contains("certificate"), "{error}");

    // require: encrypted, nothing checked (this certificate, and pg.sh's
    // self-signed one in tls.rs).
    connect(&on("127.0.0.1", "sslmode=require")).await.unwrap();

    // channel_binding=require: this server authenticates by trust, with no
    // SCRAM exchange to bind, so libpq (and the driver) refuse it.
    let error = connect(&format!("{full}&channel_binding=require"))
        .await
        .expect_err("channel_binding=require was ignored");
    assert!(error.contains("channel binding"), "{error}");
    drop(server);
    let _ = std::fs::remove_dir_all(&certs);
}
