//! The test harness: a database per test, the app on an ephemeral port, a
//! small HTTP client, and helpers to run the real binary.

#![allow(dead_code)]

pub mod binary;
pub mod client;
pub mod pg;
pub mod tools;

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Once;

use backend::config::{DatabaseUrl, Settings};
use backend::router::RouteTable;
use backend::state::AppState;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use client::{TestResponse, send_raw};

/// The admin URL of the server tests create their databases on.
pub fn admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .unwrap_or_else(|_| {
            panic!(
                "integration tests need PostgreSQL: run `make test` (it starts a throwaway server), \
                 or set TEST_DATABASE_URL=postgres://user@host/postgres"
            )
        })
}

fn init_logging() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            std::mem::forget(backend::telemetry::init(
                backend::config::LogFormat::Pretty,
                &std::env::var("RUST_LOG").unwrap_or_else(|_| "debug".into()),
            ));
        }
    });
}

/// A fresh, empty database on the test server; returns its connection config.
pub async fn fresh_database() -> tokio_postgres::Config {
    let admin = tokio_postgres::Config::from_str(&admin_url()).expect("TEST_DATABASE_URL is valid");
    let (client, connection) = admin
        .connect(backend::db::tls::connector())
        .await
        .expect("cannot connect to the test server (TEST_DATABASE_URL)");
    tokio::spawn(connection);
    let name = format!("test_{}", uuid::Uuid::new_v4().simple());
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("cannot create a test database");
    let mut config = admin;
    config.dbname(&name);
    config
}

/// A direct connection to `db`, its driver task spawned.
pub async fn connect(db: &tokio_postgres::Config) -> tokio_postgres::Client {
    let (client, connection) = db.connect(backend::db::tls::connector()).await.unwrap();
    tokio::spawn(connection);
    client
}

/// Whether a table (or other relation) named `name` exists.
pub async fn relation_exists(client: &tokio_postgres::Client, name: &str) -> bool {
    client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&name])
        .await
        .unwrap()
        .get(0)
}

/// A running app: its address, state and database.
pub struct TestApp {
    /// Where the app listens.
    pub addr: SocketAddr,
    /// The app's shared state (its pool, settings).
    pub state: AppState,
    /// The database config the app uses.
    pub db: tokio_postgres::Config,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestApp {
    /// A URL for `path` on this app.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Sends a request with no body.
    pub async fn request(&self, method: &str, path: &str) -> TestResponse {
        client::send(self.addr, method, path, &[], None).await
    }

    /// Sends a request with headers and an optional body.
    pub async fn request_with(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> TestResponse {
        client::send(self.addr, method, path, headers, body).await
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> TestResponse {
        self.request("GET", path).await
    }

    /// Sends `body` as `application/json`.
    pub async fn send_json(
        &self,
        method: &str,
        path: &str,
        body: &serde_json::Value,
    ) -> TestResponse {
        let bytes = serde_json::to_vec(body).unwrap();
        self.request_with(
            method,
            path,
            &[("content-type", "application/json")],
            Some(&bytes),
        )
        .await
    }

    /// Creates a user with `email` (and no name); panics unless 201.
    pub async fn create_user(&self, email: &str) -> serde_json::Value {
        let response = self
            .send_json(
                "POST",
                "/api/v1/users",
                &serde_json::json!({ "email": email }),
            )
            .await;
        assert_eq!(response.status, 201, "{:?}", response.body);
        response.json()
    }

    /// How many users the database holds.
    pub async fn user_count(&self) -> i64 {
        self.db_client()
            .await
            .query_one("SELECT count(*) FROM users", &[])
            .await
            .unwrap()
            .get(0)
    }

    /// A direct connection to the app's database, for assertions.
    pub async fn db_client(&self) -> tokio_postgres::Client {
        connect(&self.db).await
    }

    /// Starts a graceful shutdown and waits for the server to finish.
    pub async fn shutdown(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.server.take().unwrap().await.unwrap()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// The standard app on a fresh database with default settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}, |table, _| table).await
}

/// An app with adjusted settings and extra routes (e.g. one that panics).
pub async fn spawn_app_with(
    configure: impl FnOnce(&mut Settings),
    extra_routes: impl FnOnce(RouteTable, &AppState) -> RouteTable,
) -> TestApp {
    let db = fresh_database().await;
    spawn_app_on(db, configure, extra_routes).await
}

/// An app on the given database config.
pub async fn spawn_app_on(
    db: tokio_postgres::Config,
    configure: impl FnOnce(&mut Settings),
    extra_routes: impl FnOnce(RouteTable, &AppState) -> RouteTable,
) -> TestApp {
    init_logging();
    let mut settings = Settings::for_database(DatabaseUrl::from_config(db.clone()));
    settings.bind = "127.0.0.1:0".parse().unwrap();
    configure(&mut settings);
    let state = AppState::new(settings).expect("pool builds");
    if state.settings.migrate_on_start {
        backend::db::prepare(&state.settings)
            .await
            .expect("the database is prepared");
    }
    let table = extra_routes(backend::app::routes(&state), &state);
    let app = backend::app::app(&state, table);
    let listener = tokio::net::TcpListener::bind(state.settings.bind)
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(backend::server::serve_app(
        listener,
        state.clone(),
        app,
        async {
            let _ = rx.await;
        },
    ));
    TestApp {
        addr,
        state,
        db,
        shutdown: Some(tx),
        server: Some(server),
    }
}
