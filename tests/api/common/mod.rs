//! The test harness: a database per test, the app on an ephemeral port, a
//! small HTTP client, and helpers to run the real binary.

#![allow(dead_code)]

pub mod binary;
pub mod broker;
pub mod certs;
pub mod client;
pub mod locks;
pub mod pg;
pub mod ports;
pub mod redis;
pub mod tools;

use std::cell::RefCell;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::{Once, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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

/// The admin connection config, parsed from [`admin_url`].
pub fn admin_config() -> tokio_postgres::Config {
    tokio_postgres::Config::from_str(&admin_url()).expect("TEST_DATABASE_URL is a valid URL")
}

/// A URL for `config`, built from its parts with a real parser's getters
/// (user, password, host or socket directory, port, database, sslmode),
/// each percent-encoded: the inverse of `Config::from_str`.
pub fn url_of(config: &tokio_postgres::Config) -> String {
    use tokio_postgres::config::{Host, SslMode};
    fn encode(raw: &[u8]) -> String {
        raw.iter()
            .map(|&b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    }
    let mut url = String::from("postgres://");
    if let Some(user) = config.get_user() {
        url.push_str(&encode(user.as_bytes()));
        if let Some(password) = config.get_password() {
            url.push(':');
            url.push_str(&encode(password));
        }
        url.push('@');
    }
    match config.get_hosts().first() {
        Some(Host::Tcp(host)) => url.push_str(&encode(host.as_bytes())),
        Some(Host::Unix(dir)) => url.push_str(&encode(dir.to_str().unwrap().as_bytes())),
        None => url.push_str("localhost"),
    }
    url.push(':');
    url.push_str(&config.get_ports().first().unwrap_or(&5432).to_string());
    url.push('/');
    url.push_str(&encode(
        config.get_dbname().unwrap_or("postgres").as_bytes(),
    ));
    match config.get_ssl_mode() {
        SslMode::Disable => url.push_str("?sslmode=disable"),
        SslMode::Require => url.push_str("?sslmode=require"),
        _ => {}
    }
    url
}

/// Seconds since the epoch.
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// When this test process started (the first database it made), in seconds.
fn run_started() -> u64 {
    static STARTED: OnceLock<u64> = OnceLock::new();
    *STARTED.get_or_init(unix_now)
}

/// Leftovers of an aborted run younger than this are kept: they may belong
/// to a run going on right now against the same server.
const LEFTOVER_AGE: Duration = Duration::from_secs(600);

/// What a test created on the shared server: dropped when the test's thread
/// ends (after the test function returns or panics, its runtime gone).
#[derive(Default)]
struct Created {
    databases: Vec<String>,
    roles: Vec<String>,
}

impl Drop for Created {
    fn drop(&mut self) {
        if self.databases.is_empty() && self.roles.is_empty() {
            return;
        }
        let (databases, roles) = (
            std::mem::take(&mut self.databases),
            std::mem::take(&mut self.roles),
        );
        // A thread-local destructor may run on a runtime's worker thread:
        // the drop gets a thread and a runtime of its own, and is waited for
        // so the process does not exit first.
        let dropper = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let Ok(client) = admin_client().await else {
                    return;
                };
                for name in databases {
                    // FORCE: a pool or a killed child may still hold a session.
                    if let Err(e) = client
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await
                    {
                        eprintln!("test database {name} not dropped: {e}");
                    }
                }
                for role in roles {
                    let _ = client
                        .batch_execute(&format!("DROP ROLE IF EXISTS {role}"))
                        .await;
                }
            });
        });
        let _ = dropper.join();
    }
}

thread_local! {
    static CREATED: RefCell<Created> = RefCell::default();
}

async fn admin_client() -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) = admin_config()
        .connect(backend::db::tls::connector())
        .await?;
    tokio::spawn(connection);
    Ok(client)
}

/// Drops, once per process, the databases and roles an aborted earlier run
/// left behind: named `test_<unix seconds>_...` (or `test_role_<unix
/// seconds>_...`) and older than this run by [`LEFTOVER_AGE`]. No FORCE:
/// one still in use is left alone.
async fn drop_leftovers(client: &tokio_postgres::Client) {
    static DONE: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    DONE.get_or_init(|| async {
        let before = run_started().saturating_sub(LEFTOVER_AGE.as_secs());
        let old = |name: &str, prefix: &str| {
            name.strip_prefix(prefix)
                .and_then(|rest| rest.split('_').next())
                .and_then(|secs| secs.parse::<u64>().ok())
                .is_some_and(|secs| secs < before)
        };
        let databases = client
            .query(
                "SELECT datname FROM pg_database WHERE datname LIKE 'test\\_%'",
                &[],
            )
            .await
            .unwrap();
        for row in databases {
            let name: String = row.get(0);
            if old(&name, "test_") {
                let _ = client
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
                    .await;
            }
        }
        let roles = client
            .query(
                "SELECT rolname FROM pg_roles WHERE rolname LIKE 'test\\_role\\_%'",
                &[],
            )
            .await
            .unwrap();
        for row in roles {
            let name: String = row.get(0);
            if old(&name, "test_role_") {
                let _ = client
                    .batch_execute(&format!("DROP ROLE IF EXISTS {name}"))
                    .await;
            }
        }
    })
    .await;
}

/// A fresh, empty database on the test server; returns its connection config.
///
/// It is dropped when the test ends (its thread exits), whether it passed
/// or not; a run killed before that leaves it to the next run's
/// [`drop_leftovers`].
pub async fn fresh_database() -> tokio_postgres::Config {
    let started = run_started();
    let client = admin_client()
        .await
        .expect("cannot connect to the test server (TEST_DATABASE_URL)");
    drop_leftovers(&client).await;
    let name = format!(
        "test_{}_{}",
        started.max(unix_now()),
        uuid::Uuid::new_v4().simple()
    );
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("cannot create a test database");
    CREATED.with(|created| created.borrow_mut().databases.push(name.clone()));
    let mut config = admin_config();
    config.dbname(&name);
    config
}

/// A login role of the test's own with `password`, owning `db`'s database;
/// returns `db` as that role. On a server that checks passwords (the CI
/// workflow's, or `PG_PASSWORD` with scripts/pg.sh) the password must be
/// right, so a test can put a secret of its choice into a URL and look for
/// it in logs; on a trusting server it is simply not checked. Dropped with
/// the database.
pub async fn as_role_with_password(
    db: &tokio_postgres::Config,
    password: &str,
) -> tokio_postgres::Config {
    let role = format!("test_role_{}_{}", unix_now(), uuid::Uuid::new_v4().simple());
    let client = admin_client().await.unwrap();
    client
        .batch_execute(&format!(
            "CREATE ROLE {role} LOGIN PASSWORD '{password}'; \
             ALTER DATABASE {} OWNER TO {role}",
            db.get_dbname().unwrap()
        ))
        .await
        .unwrap();
    CREATED.with(|created| created.borrow_mut().roles.push(role.clone()));
    let mut config = db.clone();
    config.user(&role).password(password);
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

/// A rendezvous with an extra test route, instead of sleeping "until the
/// request has started": the route calls [`Gate::pass`], which says it was
/// entered and then waits until the test releases it.
#[derive(Clone)]
pub struct Gate {
    entered: std::sync::Arc<tokio::sync::Semaphore>,
    release: std::sync::Arc<tokio::sync::Semaphore>,
}

impl Default for Gate {
    fn default() -> Self {
        Self {
            entered: std::sync::Arc::new(tokio::sync::Semaphore::new(0)),
            release: std::sync::Arc::new(tokio::sync::Semaphore::new(0)),
        }
    }
}

impl Gate {
    /// In the route: signal entry, then wait for a release.
    pub async fn pass(&self) {
        self.entered.add_permits(1);
        self.release.acquire().await.unwrap().forget();
    }

    /// In the test: wait until `n` requests have entered the route (bounded,
    /// so a request that never arrives fails the test instead of hanging it).
    pub async fn entered(&self, n: u32) {
        tokio::time::timeout(Duration::from_secs(10), self.entered.acquire_many(n))
            .await
            .unwrap_or_else(|_| panic!("{n} requests did not reach the route within 10 s"))
            .unwrap()
            .forget();
    }

    /// Lets `n` waiting (or future) requests through.
    pub fn release(&self, n: usize) {
        self.release.add_permits(n);
    }
}
