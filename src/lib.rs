//! # backend
//!
//! A production-grade REST API for users over PostgreSQL, on a deliberately
//! small, Tower-first stack: `hyper` for HTTP, `matchit` for routing, each
//! endpoint a `tower` Service wrapped in a handful of layers, and
//! hand-written SQL on a `deadpool` of `tokio-postgres` connections.
//!
//! [`app`] builds the whole service (the app factory); [`server::serve`] runs
//! it on a listener with graceful shutdown. The request path, outermost first:
//!
//! ```text
//! HEAD body strip · nosniff · request id · problem rendering · access log
//!   · CORS · panic catcher · timeout · load shedding · body limit
//!   · router (matchit) → endpoint
//! ```
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let settings = backend::config::Settings::from_env()?;
//! let state = backend::AppState::new(settings)?;
//! let listener = tokio::net::TcpListener::bind(state.settings.bind).await?;
//! backend::server::serve(listener, state, std::future::pending()).await?;
//! # Ok(()) }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ::http::{HeaderName, HeaderValue};
use bytes::Bytes;
use http_body_util::Full;
use tower::ServiceBuilder;
use tower_http::set_header::SetResponseHeaderLayer;

pub mod config;
pub mod db;
pub mod error;
pub mod guide;
pub mod health;
pub mod http;
pub mod middleware;
pub mod openapi;
pub mod router;
pub mod server;
pub mod telemetry;
pub mod timestamp;
pub mod users;

use crate::middleware::{
    access_log::AccessLogLayer, body_limit::BodyLimitLayer, catch_panic::CatchPanicLayer,
    cors::CorsLayer, head::HeadLayer, load_shed::LoadShedLayer, problem::ProblemLayer,
    request_id::RequestIdLayer, timeout::TimeoutLayer,
};
use crate::router::{RouteTable, Router};

/// A request as endpoints see it: the body already read and bounded.
pub type Request = ::http::Request<Bytes>;

/// A response: every body in this service is buffered.
pub type Response = ::http::Response<Full<Bytes>>;

/// A boxed, sendable future, the return type of the layers' services.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// What every endpoint shares: the pool, the settings, the shutdown flag.
/// Cloning is one reference count (endpoints clone it per request).
#[derive(Clone, Debug)]
pub struct AppState(Arc<Shared>);

/// The contents of [`AppState`], reached through it by `Deref`.
#[derive(Debug)]
pub struct Shared {
    /// The database connection pool.
    pub pool: db::Pool,
    /// The settings the process started with.
    pub settings: config::Settings,
    shutting_down: AtomicBool,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// Builds the state; the pool connects lazily, so this succeeds with the
    /// database down.
    pub fn new(settings: config::Settings) -> Result<Self, deadpool_postgres::BuildError> {
        let pool = db::build_pool(&settings)?;
        Ok(Self(Arc::new(Shared {
            pool,
            settings,
            shutting_down: AtomicBool::new(false),
        })))
    }

    /// Marks the start of a graceful shutdown; `/readyz` answers 503 from now.
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::Release);
    }

    /// Whether a graceful shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }
}

/// The standard route table: probes, the API documents and every feature
/// module.
///
/// Adding a resource is a module like `users` and one line here.
pub fn routes(state: &AppState) -> RouteTable {
    let table = RouteTable::new();
    let table = health::routes(table, state);
    let table = openapi::routes(table);
    users::routes(table, state)
}

/// Gets the database ready before serving: applies pending migrations when
/// `MIGRATE_ON_START` is set, and says what it did.
pub async fn prepare(state: &AppState) -> Result<(), db::migrate::MigrateError> {
    if !state.settings.migrate_on_start {
        return Ok(());
    }
    let mut client = db::migrate::connect(&state.settings).await?;
    let applied = db::migrate::up(&mut client, db::migrate::MIGRATIONS).await?;
    for m in &applied {
        tracing::info!(
            version = m.version,
            name = m.name,
            duration_ms = m.duration_ms,
            "migration applied"
        );
    }
    if applied.is_empty() {
        tracing::info!("database schema is up to date");
    }
    Ok(())
}

/// The whole service, for any request body type: [`routes`] behind every
/// layer.
pub fn app<B>(
    state: &AppState,
) -> impl tower::Service<
    ::http::Request<B>,
    Response = Response,
    Error = std::convert::Infallible,
    Future: Send + 'static,
> + Clone
+ Send
+ Sync
+ 'static
where
    B: ::http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<error::BoxError>,
{
    app_with_routes(state, routes(state))
}

/// The layer stack around a given route table; tests use it to add routes
/// that are not shipped (e.g. one that panics).
pub fn app_with_routes<B>(
    state: &AppState,
    table: RouteTable,
) -> impl tower::Service<
    ::http::Request<B>,
    Response = Response,
    Error = std::convert::Infallible,
    Future: Send + 'static,
> + Clone
+ Send
+ Sync
+ 'static
where
    B: ::http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<error::BoxError>,
{
    let settings = &state.settings;
    ServiceBuilder::new()
        .layer(HeadLayer)
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("x-content-type-options"),
            HeaderValue::from_static("nosniff"),
        ))
        .layer(RequestIdLayer)
        .layer(ProblemLayer)
        .layer(AccessLogLayer)
        .layer(CorsLayer::new(&settings.cors_allow_origins))
        .layer(CatchPanicLayer)
        .layer(TimeoutLayer::new(settings.request_timeout))
        .layer(LoadShedLayer::new(settings.max_concurrent_requests))
        .layer(BodyLimitLayer::new(settings.body_limit))
        .service(Router::new(table))
}
