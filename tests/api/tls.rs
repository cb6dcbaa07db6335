//! `sslmode` from `DATABASE_URL` is honoured: `require` connects over TLS
//! (rustls) to a server with a self-signed certificate, and a server that
//! only accepts TLS refuses `disable`.

use backend::config::{DatabaseUrl, Settings};
use backend::state::AppState;

use crate::common::pg::PrivateServer;

fn state(url: &str) -> AppState {
    let mut settings = Settings::for_database(DatabaseUrl::parse(url).unwrap());
    settings.pool_timeout = std::time::Duration::from_secs(2);
    AppState::new(settings).unwrap()
}

#[tokio::test]
async fn sslmode_require_connects_over_tls() {
    let Some((_server, url)) =
        PrivateServer::start_with_tls_or_skip("sslmode_require_connects_over_tls").await
    else {
        return;
    };
    assert!(url.ends_with("sslmode=require"), "{url}");
    let secure = state(&url);
    let client = secure.pool.get().await.expect("a TLS connection");
    let ssl: bool = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(ssl, "the connection is encrypted");

    // The same server over plain TCP: pg_hba has no entry for it.
    let plain = state(&url.replace("sslmode=require", "sslmode=disable"));
    let refused = plain.pool.get().await;
    assert!(refused.is_err(), "a plaintext connection was accepted");
}
