//! Typed settings from the environment (and `.env` in development).
//!
//! [`Settings::from_lookup`] reads every variable, collects every problem and
//! reports them all at once, so an operator fixes a bad deployment in one go.
//! The database password is kept out of every message and `Debug` output.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use http::HeaderValue;

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
    /// `DATABASE_URL` (required), parsed.
    pub database: DatabaseUrl,
    /// `DATABASE_POOL_SIZE` (default 16).
    pub pool_size: usize,
    /// `DATABASE_POOL_TIMEOUT_MS` (default 2000): wait for a pooled connection.
    pub pool_timeout: Duration,
    /// `DATABASE_CONNECT_TIMEOUT_MS` (default 3000): TCP + startup of a connection.
    pub connect_timeout: Duration,
    /// `DATABASE_STATEMENT_TIMEOUT_MS` (default 5000): server-side `statement_timeout`.
    pub statement_timeout: Duration,
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
    /// headers, or its next request on a kept-alive connection, within this.
    pub header_read_timeout: Duration,
    /// `LOG_FORMAT` (default `pretty` in dev, `json` in prod).
    pub log_format: LogFormat,
    /// `RUST_LOG` if set, otherwise `LOG_LEVEL` (default `info`): a filter.
    pub log_filter: String,
    /// `MIGRATE_ON_START` (default `true` in dev, `false` in prod).
    pub migrate_on_start: bool,
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
            .field("request_timeout", &self.request_timeout)
            .field("body_limit", &self.body_limit)
            .field("max_concurrent_requests", &self.max_concurrent_requests)
            .field("cors_allow_origins", &self.cors_allow_origins)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .field("header_read_timeout", &self.header_read_timeout)
            .field("log_format", &self.log_format)
            .field("log_filter", &self.log_filter)
            .field("migrate_on_start", &self.migrate_on_start)
            .finish()
    }
}

/// A parsed `DATABASE_URL`: the driver config plus a redacted form for logs.
#[derive(Clone)]
pub struct DatabaseUrl {
    /// The connection settings for `tokio-postgres`.
    pub config: tokio_postgres::Config,
    redacted: String,
}

impl DatabaseUrl {
    /// Parses a `postgres://` URL (or key=value string); errors never echo
    /// the value, which may hold a password.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let config = tokio_postgres::Config::from_str(raw)
            .map_err(|e| format!("not a valid PostgreSQL connection string ({e})"))?;
        if config.get_hosts().is_empty() {
            return Err("names no host".into());
        }
        let redacted = redact(&config);
        Ok(Self { config, redacted })
    }

    /// Wraps a driver config built in code (tests, tools).
    pub fn from_config(config: tokio_postgres::Config) -> Self {
        let redacted = redact(&config);
        Self { config, redacted }
    }

    /// The URL without its password, fit for a log line.
    pub fn redacted(&self) -> &str {
        &self.redacted
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

fn redact(config: &tokio_postgres::Config) -> String {
    use tokio_postgres::config::Host;
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(Host::Unix(p)) => p.display().to_string(),
        None => String::new(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or("");
    let db = config.get_dbname().unwrap_or("");
    let password = if config.get_password().is_some() {
        ":***"
    } else {
        ""
    };
    format!("postgres://{user}{password}@{host}:{port}/{db}")
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
        if let Err(e) = dotenvy::dotenv() {
            if !e.not_found() {
                return Err(SettingsError(vec![SettingError {
                    variable: ".env",
                    reason: format!("could not be read: {e}"),
                }]));
            }
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

        match (p.errors.is_empty(), database) {
            (true, Some(database)) => Ok(Self {
                app_env,
                bind: SocketAddr::new(host, port),
                database,
                pool_size,
                pool_timeout,
                connect_timeout,
                statement_timeout,
                request_timeout,
                body_limit,
                max_concurrent_requests,
                cors_allow_origins,
                shutdown_timeout,
                header_read_timeout,
                log_format,
                log_filter,
                migrate_on_start,
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

struct Parser<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    errors: Vec<SettingError>,
}

impl Parser<'_> {
    fn fail(&mut self, variable: &'static str, reason: String) {
        self.errors.push(SettingError { variable, reason });
    }

    /// Parses `variable` with `parse`, or returns `default` when it is unset
    /// or empty; records the problem and returns `default` when invalid.
    fn parse<T>(
        &mut self,
        variable: &'static str,
        default: T,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> T {
        let Some(raw) = (self.lookup)(variable) else {
            return default;
        };
        let value = raw.trim();
        if value.is_empty() {
            return default;
        }
        match parse(value) {
            Ok(v) => v,
            Err(reason) => {
                self.fail(variable, format!("{reason}, got {value:?}"));
                default
            }
        }
    }

    fn millis(&mut self, variable: &'static str, default_ms: u64) -> Duration {
        self.parse(variable, Duration::from_millis(default_ms), |v| {
            int_in::<u64>(v, 1, 24 * 60 * 60 * 1000).map(Duration::from_millis)
        })
    }
}

fn int_in<T>(value: &str, min: T, max: T) -> Result<T, String>
where
    T: FromStr + PartialOrd + fmt::Display + Copy,
{
    match value.parse::<T>() {
        Ok(n) if n >= min && n <= max => Ok(n),
        _ => Err(format!("must be an integer from {min} to {max}")),
    }
}

fn parse_bool(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err("must be `true` or `false`".into()),
    }
}

/// Parses a comma-separated list of exact origins (`scheme://host[:port]`).
fn parse_origins(value: &str) -> Result<Vec<HeaderValue>, String> {
    let mut origins = Vec::new();
    for origin in value.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        let rest = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"));
        let valid = rest.is_some_and(|host| {
            !host.is_empty()
                && !host.contains('/')
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
        });
        if !valid {
            return Err(format!(
                "must list exact origins like https://app.example.com, separated by commas; {origin:?} is not one"
            ));
        }
        origins.push(HeaderValue::from_str(origin).map_err(|e| e.to_string())?);
    }
    Ok(origins)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_lookup(|name| map.get(name).cloned())
    }

    const URL: (&str, &str) = (
        "DATABASE_URL",
        "postgres://app:s3cret@db.internal:5433/backend",
    );

    #[test]
    fn defaults_apply_when_only_the_database_is_set() {
        let s = settings(&[URL]).unwrap();
        assert_eq!(s.app_env, AppEnv::Dev);
        assert_eq!(s.bind, "127.0.0.1:8000".parse().unwrap());
        assert_eq!(s.pool_timeout, Duration::from_secs(2));
        assert_eq!(s.connect_timeout, Duration::from_secs(3));
        assert_eq!(s.statement_timeout, Duration::from_secs(5));
        assert_eq!(s.request_timeout, Duration::from_secs(10));
        assert_eq!(s.body_limit, 65_536);
        assert_eq!(s.shutdown_timeout, Duration::from_secs(8));
        assert!(s.cors_allow_origins.is_empty());
        assert_eq!(s.log_format, LogFormat::Pretty);
        assert_eq!(s.log_filter, "info");
        assert!(s.migrate_on_start);
    }

    #[test]
    fn prod_switches_log_format_and_migrations() {
        let s = settings(&[URL, ("APP_ENV", "prod")]).unwrap();
        assert_eq!(s.log_format, LogFormat::Json);
        assert!(!s.migrate_on_start);
        let s = settings(&[
            URL,
            ("APP_ENV", "prod"),
            ("LOG_FORMAT", "pretty"),
            ("MIGRATE_ON_START", "true"),
        ])
        .unwrap();
        assert_eq!(s.log_format, LogFormat::Pretty);
        assert!(s.migrate_on_start);
    }

    #[test]
    fn every_bad_variable_is_reported_at_once() {
        let err = settings(&[
            ("APP_ENV", "staging"),
            ("PORT", "99999"),
            ("DATABASE_POOL_SIZE", "0"),
            ("REQUEST_TIMEOUT_MS", "soon"),
            ("CORS_ALLOW_ORIGINS", "*"),
            ("LOG_LEVEL", "loud"),
            ("MIGRATE_ON_START", "maybe"),
            ("HOST", "example.com"),
        ])
        .unwrap_err();
        let vars: Vec<_> = err.0.iter().map(|e| e.variable).collect();
        assert_eq!(
            vars,
            [
                "APP_ENV",
                "HOST",
                "PORT",
                "DATABASE_URL",
                "DATABASE_POOL_SIZE",
                "REQUEST_TIMEOUT_MS",
                "CORS_ALLOW_ORIGINS",
                "LOG_LEVEL",
                "MIGRATE_ON_START"
            ]
        );
        let text = err.to_string();
        assert!(text.contains("PORT must be a port number"), "{text}");
    }

    #[test]
    fn the_password_never_appears_in_errors_or_debug() {
        let err = settings(&[("DATABASE_URL", "postgres://u:hunter2@host/db?sslmode=bogus")])
            .unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        let s = settings(&[URL]).unwrap();
        let debug = format!("{s:?}");
        assert!(!debug.contains("s3cret"), "{debug}");
        assert!(
            debug.contains("postgres://app:***@db.internal:5433/backend"),
            "{debug}"
        );
    }

    #[test]
    fn origins_are_exact() {
        let s = settings(&[
            URL,
            (
                "CORS_ALLOW_ORIGINS",
                "https://a.example, http://localhost:3000",
            ),
        ])
        .unwrap();
        assert_eq!(
            s.cors_allow_origins,
            ["https://a.example", "http://localhost:3000"]
        );
        for bad in ["https://a.example/path", "a.example", "https://"] {
            assert!(
                settings(&[URL, ("CORS_ALLOW_ORIGINS", bad)]).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn rust_log_overrides_log_level_and_is_checked() {
        let s = settings(&[
            URL,
            ("LOG_LEVEL", "warn"),
            ("RUST_LOG", "backend=debug,info"),
        ])
        .unwrap();
        assert_eq!(s.log_filter, "backend=debug,info");
        let err = settings(&[URL, ("RUST_LOG", "backend=[")]).unwrap_err();
        assert_eq!(err.0[0].variable, "RUST_LOG");
    }

    #[test]
    fn bounds_are_enforced() {
        assert!(settings(&[URL, ("DATABASE_POOL_SIZE", "1001")]).is_err());
        assert!(settings(&[URL, ("REQUEST_BODY_LIMIT_BYTES", "0")]).is_err());
        assert!(settings(&[URL, ("DATABASE_POOL_TIMEOUT_MS", "0")]).is_err());
        assert_eq!(
            settings(&[URL, ("DATABASE_POOL_SIZE", "1000")])
                .unwrap()
                .pool_size,
            1000
        );
        assert_eq!(
            settings(&[URL, ("REQUEST_TIMEOUT_MS", "1")])
                .unwrap()
                .request_timeout,
            Duration::from_millis(1)
        );
    }

    #[test]
    fn the_message_lists_each_variable_once_in_order() {
        let err = settings(&[("PORT", "x"), ("APP_ENV", "test")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid settings: APP_ENV must be `dev` or `prod`, got \"test\"; \
             PORT must be a port number (0-65535), got \"x\"; \
             DATABASE_URL is required (e.g. postgres://user:password@localhost:5432/backend)"
        );
    }

    #[test]
    fn a_database_url_must_parse_and_name_a_host() {
        let err =
            settings(&[("DATABASE_URL", "dbname=backend user=app password=hunter2")]).unwrap_err();
        assert_eq!(err.0[0].variable, "DATABASE_URL");
        assert_eq!(err.0[0].reason, "names no host");
        let err = settings(&[("DATABASE_URL", "postgres://app:hunter2@host:port/db")]).unwrap_err();
        assert!(
            err.0[0]
                .reason
                .starts_with("not a valid PostgreSQL connection string"),
            "{err}"
        );
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn redaction_keeps_what_identifies_the_server() {
        let url = DatabaseUrl::parse("postgres://app@db.internal/backend").unwrap();
        assert_eq!(url.redacted(), "postgres://app@db.internal:5432/backend");
        assert_eq!(format!("{url:?}"), url.redacted());
        let mut config = tokio_postgres::Config::new();
        config.host_path("/run/postgresql").password("hunter2");
        assert_eq!(
            DatabaseUrl::from_config(config).redacted(),
            "postgres://:***@/run/postgresql:5432/"
        );
        assert_eq!(
            DatabaseUrl::from_config(tokio_postgres::Config::new()).redacted(),
            "postgres://@:5432/"
        );
    }

    #[test]
    fn blank_values_mean_the_default() {
        let s = settings(&[URL, ("PORT", "  "), ("APP_ENV", ""), ("LOG_LEVEL", " ")]).unwrap();
        assert_eq!(s.bind.port(), 8000);
        assert_eq!(s.app_env, AppEnv::Dev);
        assert_eq!(s.log_filter, "info");
        let s = settings(&[URL, ("RUST_LOG", "  "), ("LOG_LEVEL", "debug")]).unwrap();
        assert_eq!(s.log_filter, "debug", "a blank RUST_LOG does not override");
    }

    #[test]
    fn values_are_trimmed_and_host_accepts_localhost() {
        let s = settings(&[
            URL,
            ("HOST", "localhost"),
            ("PORT", " 9000 "),
            ("LOG_LEVEL", "WARN"),
        ])
        .unwrap();
        assert_eq!(s.bind, "127.0.0.1:9000".parse().unwrap());
        assert_eq!(s.log_filter, "warn");
        let s = settings(&[URL, ("HOST", "::"), ("PORT", "0")]).unwrap();
        assert_eq!(s.bind, "[::]:0".parse().unwrap());
    }

    #[test]
    fn app_env_and_log_format_take_exactly_their_values() {
        let s = settings(&[URL, ("APP_ENV", "dev"), ("LOG_FORMAT", "json")]).unwrap();
        assert_eq!((s.app_env, s.log_format), (AppEnv::Dev, LogFormat::Json));
        let s = settings(&[URL, ("APP_ENV", "prod")]).unwrap();
        assert_eq!(s.app_env, AppEnv::Prod);
        let err = settings(&[URL, ("LOG_FORMAT", "text"), ("APP_ENV", "Prod")]).unwrap_err();
        let reasons: Vec<_> = err
            .0
            .iter()
            .map(|e| (e.variable, e.reason.as_str()))
            .collect();
        assert_eq!(
            reasons,
            [
                ("APP_ENV", "must be `dev` or `prod`, got \"Prod\""),
                ("LOG_FORMAT", "must be `pretty` or `json`, got \"text\""),
            ]
        );
    }

    #[test]
    fn booleans_have_four_spellings_each() {
        for yes in ["true", "1", "yes", "on", "TRUE", "On"] {
            let s = settings(&[URL, ("APP_ENV", "prod"), ("MIGRATE_ON_START", yes)]).unwrap();
            assert!(s.migrate_on_start, "{yes}");
        }
        for no in ["false", "0", "no", "off", "False", "OFF"] {
            let s = settings(&[URL, ("MIGRATE_ON_START", no)]).unwrap();
            assert!(!s.migrate_on_start, "{no}");
        }
        let err = settings(&[URL, ("MIGRATE_ON_START", "y")]).unwrap_err();
        assert_eq!(err.0[0].reason, "must be `true` or `false`, got \"y\"");
    }

    #[test]
    fn every_bound_is_inclusive() {
        let ok = |name: &str, value: &str| settings(&[URL, (name, value)]).is_ok();
        let cases = [
            ("DATABASE_POOL_SIZE", "1", "1000"),
            ("REQUEST_BODY_LIMIT_BYTES", "1", "67108864"),
            ("MAX_CONCURRENT_REQUESTS", "1", "1000000"),
            ("DATABASE_POOL_TIMEOUT_MS", "1", "86400000"),
            ("DATABASE_CONNECT_TIMEOUT_MS", "1", "86400000"),
            ("DATABASE_STATEMENT_TIMEOUT_MS", "1", "86400000"),
            ("REQUEST_TIMEOUT_MS", "1", "86400000"),
            ("SHUTDOWN_TIMEOUT_MS", "1", "86400000"),
            ("HEADER_READ_TIMEOUT_MS", "1", "86400000"),
        ];
        for (name, min, max) in cases {
            assert!(ok(name, min) && ok(name, max), "{name}: {min} and {max}");
            let below = (min.parse::<u64>().unwrap() - 1).to_string();
            let above = (max.parse::<u64>().unwrap() + 1).to_string();
            assert!(!ok(name, &below) && !ok(name, &above), "{name}");
            let err = settings(&[URL, (name, &above)]).unwrap_err();
            assert_eq!(
                err.0[0].reason,
                format!("must be an integer from {min} to {max}, got \"{above}\"")
            );
        }
        let s = settings(&[
            URL,
            ("REQUEST_BODY_LIMIT_BYTES", "67108864"),
            ("MAX_CONCURRENT_REQUESTS", "7"),
            ("HEADER_READ_TIMEOUT_MS", "86400000"),
            ("DATABASE_CONNECT_TIMEOUT_MS", "250"),
            ("DATABASE_STATEMENT_TIMEOUT_MS", "750"),
            ("SHUTDOWN_TIMEOUT_MS", "100"),
        ])
        .unwrap();
        assert_eq!(s.body_limit, 64 * 1024 * 1024);
        assert_eq!(s.max_concurrent_requests, 7);
        assert_eq!(s.header_read_timeout, Duration::from_secs(24 * 60 * 60));
        assert_eq!(s.connect_timeout, Duration::from_millis(250));
        assert_eq!(s.statement_timeout, Duration::from_millis(750));
        assert_eq!(s.shutdown_timeout, Duration::from_millis(100));
    }

    #[test]
    fn origin_lists_skip_empty_entries_and_refuse_anything_inexact() {
        let s = settings(&[
            URL,
            (
                "CORS_ALLOW_ORIGINS",
                ",https://a.example,, http://[::1]:8080 ,",
            ),
        ])
        .unwrap();
        assert_eq!(
            s.cors_allow_origins,
            ["https://a.example", "http://[::1]:8080"]
        );
        for bad in [
            "ftp://a.example",
            "https://a_b.example",
            "https://a.example?x=1",
            "http://",
            "https://a.example, *",
        ] {
            let err = settings(&[URL, ("CORS_ALLOW_ORIGINS", bad)]).unwrap_err();
            assert!(
                err.0[0].reason.starts_with("must list exact origins"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn settings_for_a_database_are_the_defaults() {
        let url = DatabaseUrl::parse("postgres://app:s3cret@h/db").unwrap();
        let s = Settings::for_database(url);
        assert_eq!(s.database.redacted(), "postgres://app:***@h:5432/db");
        assert_eq!(s.pool_size, 16);
        assert_eq!(s.max_concurrent_requests, 512);
        assert_eq!(s.header_read_timeout, Duration::from_secs(5));
    }
}
