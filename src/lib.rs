//! # backend
//!
//! A production-grade REST API over PostgreSQL, on a deliberately small,
//! Tower-first stack: `hyper` for HTTP, `matchit` for routing, each endpoint
//! a `tower` Service wrapped in a handful of layers, and hand-written SQL on
//! a `deadpool` of `tokio-postgres` connections.
//!
//! [`app::app`] builds the whole service around the route table of
//! [`app::RESOURCES`]; [`server::serve`] runs it on a listener with graceful
//! shutdown. A resource (like [`users`]) is one folder: its routes, its
//! OpenAPI fragment, its SQL.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let settings = backend::config::Settings::from_env()?;
//! let state = backend::state::AppState::new(settings)?;
//! let listener = tokio::net::TcpListener::bind(state.settings.bind).await?;
//! backend::server::serve(listener, state, std::future::pending()).await?;
//! # Ok(()) }
//! ```

pub mod app;
pub mod auth;
pub mod config;
pub mod db;
pub mod error;
pub mod guide;
pub mod health;
pub mod http;
pub mod jobs;
pub mod middleware;
pub mod openapi;
pub mod resource;
pub mod router;
pub mod server;
pub mod state;
pub mod telemetry;
pub mod text;
pub mod timestamp;
pub mod users;
pub mod webhooks;
