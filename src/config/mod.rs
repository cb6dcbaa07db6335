//! Typed settings from the environment (and `.env` in development).
//!
//! [`Settings::from_lookup`] reads every variable, collects every problem and
//! reports them all at once, so an operator fixes a bad deployment in one go.
//! The database password is kept out of every message and `Debug` output.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use http::HeaderValue;

mod auth;
mod connections;
mod database;
mod jobs;
mod parse;
mod telemetry;
mod tls;

pub use auth::{AuthMode, OidcSettings, auth_from_env};
pub use connections::Connections;
pub use database::DatabaseUrl;
pub use jobs::{Jobs, JobsBroker, RedisCa, RedisUrl};
use parse::{Parser, int_in, parse_bool, parse_origins};
pub use telemetry::{Telemetry, TraceSampler};
pub use tls::{DbTls, Roots, SslMode};

/// Which environment the process runs in; picks logging and migration defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    /// Development: pretty logs, migrations applied on start.
    Dev,
    /// Production: JSON logs, migrations applied explicitly.
    Prod,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines for a terminal.
    Pretty,
    /// One JSON object per line, for log shippers.
    Json,
}

/// All settings of the service, parsed and validated.
#[derive(Clone)]
pub struct Settings {
    /// `APP_ENV` (default `dev`).
    pub app_env: AppEnv,
    /// `HOST` and `PORT` (default `127.0.0.1:8000`).
    pub bind: SocketAddr,
    /// `DATABASE_URL` (required), parsed; libpq's `sslmode` (`disable`,
    /// `prefer` by default, `require`, `verify-ca`, `verify-full`),
    /// `sslrootcert` and `channel_binding` are honoured.
    pub database: DatabaseUrl,
    /// `DATABASE_POOL_SIZE` (default 16).
    pub pool_size: usize,
    /// `DATABASE_POOL_TIMEOUT_MS` (default 2000): wait for a pooled connection.
    pub pool_timeout: Duration,
    /// `DATABASE_CONNECT_TIMEOUT_MS` (default 3000): TCP + startup of a connection.
    pub connect_timeout: Duration,
    /// `DATABASE_STATEMENT_TIMEOUT_MS` (default 5000): server-side
    /// `statement_timeout`, set on each new connection (with the statement
    /// cache off, checked against the role's setting instead).
    pub statement_timeout: Duration,
    /// `DATABASE_STATEMENT_CACHE` (default `on`): named, cached prepared
    /// statements. `off`: every statement unnamed (one round trip, no name
    /// another client could collide with), for transaction-mode poolers
    /// such as PgBouncer before 1.21 or without `max_prepared_statements`.
    pub statement_cache: bool,
    /// `MIGRATE_LOCK_TIMEOUT_MS` (default 5000): how long a migration run
    /// waits for the migration lock, and each DDL statement for its table
    /// locks (`lock_timeout`), before failing.
    pub migrate_lock_timeout: Duration,
    /// `REQUEST_TIMEOUT_MS` (default 10000): deadline for a whole request.
    pub request_timeout: Duration,
    /// `REQUEST_BODY_LIMIT_BYTES` (default 65536): larger bodies get 413.
    pub body_limit: usize,
    /// `MAX_CONCURRENT_REQUESTS` (default 512): beyond this, 503 at once.
    pub max_concurrent_requests: usize,
    /// `CORS_ALLOW_ORIGINS` (default empty: CORS closed): exact origins.
    pub cors_allow_origins: Vec<HeaderValue>,
    /// `SHUTDOWN_TIMEOUT_MS` (default 8000): graceful drain deadline.
    pub shutdown_timeout: Duration,
    /// `HEADER_READ_TIMEOUT_MS` (default 5000): a client must send a request's
    /// headers, or its next request on a kept-alive connection (or, over
    /// HTTP/2, open a stream on an idle connection), within this.
    pub header_read_timeout: Duration,
    /// Connection caps, deadlines and shutdown pacing ([`Connections`]).
    pub connections: Connections,
    /// `LOG_FORMAT` (default `pretty` in dev, `json` in prod).
    pub log_format: LogFormat,
    /// `RUST_LOG` if set, otherwise `LOG_LEVEL` (default `info`): a filter.
    pub log_filter: String,
    /// `MIGRATE_ON_START` (default `true` in dev, `false` in prod).
    pub migrate_on_start: bool,
    /// `AUTH_MODE` (default `none` in dev, required in prod) and the
    /// `OIDC_*` settings it needs.
    pub auth: AuthMode,
    /// `OTEL_*` and `METRICS_ADDR`: traces and metrics ([`Telemetry`]).
    pub telemetry: Telemetry,
    /// The background-job and webhook settings ([`Jobs`]).
    pub jobs: Jobs,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("app_env", &self.app_env)
            .field("bind", &self.bind)
            .field("database", &self.database)
            .field("pool_size", &self.pool_size)
            .field("pool_timeout", &self.pool_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .field("statement_cache", &self.statement_cache)
            .field("migrate_lock_timeout", &self.migrate_lock_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("body_limit", &self.body_limit)
            .field("max_concurrent_requests", &self.max_concurrent_requests)
            .field("cors_allow_origins", &self.cors_allow_origins)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("connections", &self.connections)
            .field("log_format", &self.log_format)
            .field("log_filter", &self.log_filter)
            .field("migrate_on_start", &self.migrate_on_start)
            .field("auth", &self.auth)
            .field("telemetry", &self.telemetry)
            .field("jobs", &self.jobs)
            .finish()
    }
}

/// One bad setting: the variable and why it was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingError {
    /// The environment variable's name.
    pub variable: &'static str,
    /// Why its value was refused.
    pub reason: String,
}

/// Every bad setting found, reported together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError(pub Vec<SettingError>);

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid settings: ")?;
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{} {}", e.variable, e.reason)?;
        }
        Ok(())
    }
}

impl std::error::Error for SettingsError {}

impl Settings {
    /// Reads settings from the process environment, after loading `.env` if
    /// present (existing variables win over the file).
    pub fn from_env() -> Result<Self, SettingsError> {
        if let Err(e) = dotenvy::dotenv()
            && !e.not_found()
        {
            return Err(SettingsError(vec![SettingError {
                variable: ".env",
                reason: format!("could not be read: {e}"),
            }]));
        }
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests need not touch the process
    /// environment. Returns every problem at once.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let mut p = Parser {
            lookup: &lookup,
            errors: Vec::new(),
        };
        let app_env = p.parse("APP_ENV", AppEnv::Dev, |v| match v {
            "dev" => Ok(AppEnv::Dev),
            "prod" => Ok(AppEnv::Prod),
            _ => Err("must be `dev` or `prod`".into()),
        });
        let host = p.parse("HOST", IpAddr::V4(Ipv4Addr::LOCALHOST), |v| {
            if v == "localhost" {
                return Ok(IpAddr::V4(Ipv4Addr::LOCALHOST));
            }
            v.parse()
                .map_err(|_| "must be an IP address (e.g. 127.0.0.1 or 0.0.0.0)".into())
        });
        let port = p.parse("PORT", 8000u16, |v| {
            v.parse()
                .map_err(|_| "must be a port number (0-65535)".into())
        });
        let database = match lookup("DATABASE_URL") {
            None => {
                p.fail(
                    "DATABASE_URL",
                    "is required (e.g. postgres://user:password@localhost:5432/backend)".into(),
                );
                None
            }
            Some(v) => match DatabaseUrl::parse(&v) {
                Ok(url) => Some(url),
                Err(reason) => {
                    p.fail("DATABASE_URL", reason);
                    None
                }
            },
        };
        let pool_size = p.parse("DATABASE_POOL_SIZE", 16usize, |v| int_in(v, 1, 1000));
        let pool_timeout = p.millis("DATABASE_POOL_TIMEOUT_MS", 2000);
        let connect_timeout = p.millis("DATABASE_CONNECT_TIMEOUT_MS", 3000);
        let statement_timeout = p.millis("DATABASE_STATEMENT_TIMEOUT_MS", 5000);
        let statement_cache = p.parse("DATABASE_STATEMENT_CACHE", true, |v| match v {
            "on" => Ok(true),
            "off" => Ok(false),
            _ => Err("must be `on` or `off`".into()),
        });
        let migrate_lock_timeout = p.millis("MIGRATE_LOCK_TIMEOUT_MS", 5000);
        let request_timeout = p.millis("REQUEST_TIMEOUT_MS", 10_000);
        let body_limit = p.parse("REQUEST_BODY_LIMIT_BYTES", 65_536usize, |v| {
            int_in(v, 1, 64 * 1024 * 1024)
        });
        let max_concurrent_requests = p.parse("MAX_CONCURRENT_REQUESTS", 512usize, |v| {
            int_in(v, 1, 1_000_000)
        });
        let cors_allow_origins = p.parse("CORS_ALLOW_ORIGINS", Vec::new(), parse_origins);
        let shutdown_timeout = p.millis("SHUTDOWN_TIMEOUT_MS", 8000);
        let header_read_timeout = p.millis("HEADER_READ_TIMEOUT_MS", 5000);
        let connections = Connections::parse(&mut p, app_env, shutdown_timeout);
        let default_format = match app_env {
            AppEnv::Dev => LogFormat::Pretty,
            AppEnv::Prod => LogFormat::Json,
        };
        let log_format = p.parse("LOG_FORMAT", default_format, |v| match v {
            "pretty" => Ok(LogFormat::Pretty),
            "json" => Ok(LogFormat::Json),
            _ => Err("must be `pretty` or `json`".into()),
        });
        let log_level = p.parse("LOG_LEVEL", "info".to_owned(), |v| {
            let v = v.to_ascii_lowercase();
            match v.as_str() {
                "trace" | "debug" | "info" | "warn" | "error" | "off" => Ok(v),
                _ => Err("must be one of trace, debug, info, warn, error, off".into()),
            }
        });
        let log_filter = match lookup("RUST_LOG").filter(|v| !v.trim().is_empty()) {
            Some(filter) => {
                if let Err(e) = tracing_subscriber::EnvFilter::builder().parse(&filter) {
                    p.fail("RUST_LOG", format!("is not a valid filter ({e})"));
                }
                filter
            }
            None => log_level,
        };
        let migrate_on_start = p.parse("MIGRATE_ON_START", app_env == AppEnv::Dev, parse_bool);
        let auth = auth::parse(&mut p, app_env);
        let telemetry = Telemetry::parse(&mut p);
        let jobs = jobs::parse(&mut p, app_env);

        match (p.errors.is_empty(), database) {
            (true, Some(database)) => Ok(Self {
                app_env,
                bind: SocketAddr::new(host, port),
                database,
                pool_size,
                pool_timeout,
                connect_timeout,
                statement_timeout,
                statement_cache,
                migrate_lock_timeout,
                request_timeout,
                body_limit,
                max_concurrent_requests,
                cors_allow_origins,
                shutdown_timeout,
                header_read_timeout,
                connections,
                log_format,
                log_filter,
                migrate_on_start,
                auth,
                telemetry,
                jobs,
            }),
            _ => Err(SettingsError(p.errors)),
        }
    }

    /// Settings for tests and benches: defaults, with the given database.
    pub fn for_database(database: DatabaseUrl) -> Self {
        let mut settings = Self::from_lookup(|name| match name {
            "DATABASE_URL" => Some("postgres://localhost/unused".into()),
            _ => None,
        })
        .unwrap_or_else(|e| unreachable!("defaults are valid: {e}"));
        settings.database = database;
        settings
    }
}

/// Reads only `PORT`, for `backend healthcheck`, which must work without a
/// database URL.
pub fn port_from_env() -> Result<u16, SettingsError> {
    let _ = dotenvy::dotenv();
    let mut p = Parser {
        lookup: &|name: &str| std::env::var(name).ok(),
        errors: Vec::new(),
    };
    let port = p.parse("PORT", 8000u16, |v| {
        v.parse()
            .map_err(|_| "must be a port number (0-65535)".into())
    });
    if p.errors.is_empty() {
        Ok(port)
    } else {
        Err(SettingsError(p.errors))
    }
}

#[cfg(test)]
mod tests;
