//! Shared bench set-up: state without a database, and requests.

#![allow(dead_code, unreachable_pub, clippy::missing_panics_doc)]

use backend::config::{DatabaseUrl, Settings};
use backend::state::AppState;
use bytes::Bytes;
use http_body_util::Full;

/// State whose pool points nowhere: fine for everything that does not touch
/// the database (the pool connects lazily).
pub fn offline_state() -> AppState {
    let url = DatabaseUrl::parse("postgres://bench@127.0.0.1:1/none").unwrap();
    AppState::new(Settings::for_database(url)).unwrap()
}

/// A request with an empty body.
pub fn get(path: &str) -> http::Request<Full<Bytes>> {
    http::Request::get(path)
        .body(Full::new(Bytes::new()))
        .unwrap()
}

/// A multi-thread runtime and the state of a fresh, migrated database on
/// the server at `TEST_DATABASE_URL` (or `DATABASE_URL`); `None`, saying
/// so, when neither is set (`make bench` sets one).
pub fn database_state(bench: &str) -> Option<(tokio::runtime::Runtime, AppState)> {
    let Some(admin) = std::env::var("TEST_DATABASE_URL")
        .ok()
        .or_else(|| std::env::var("DATABASE_URL").ok())
    else {
        eprintln!("{bench} bench skipped: set TEST_DATABASE_URL (or run `make bench`)");
        return None;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let state = runtime.block_on(async {
        let admin: tokio_postgres::Config = admin.parse().unwrap();
        let (client, connection) = admin.connect(backend::db::tls::connector()).await.unwrap();
        tokio::spawn(connection);
        let name = format!("bench_{}", uuid::Uuid::new_v4().simple());
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        let mut config = admin.clone();
        config.dbname(&name);
        let state =
            AppState::new(Settings::for_database(DatabaseUrl::from_config(config))).unwrap();
        backend::db::prepare(&state.settings).await.unwrap();
        state
    });
    Some((runtime, state))
}
