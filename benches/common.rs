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
