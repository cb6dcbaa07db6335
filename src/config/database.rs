//! `DATABASE_URL`: the driver's config, libpq's TLS options, and a
//! redacted form for logs.

use std::fmt;
use std::str::FromStr;

use super::tls::{DbTls, Roots, SslMode, split};

/// A parsed `DATABASE_URL`: the driver config, libpq's TLS options, and a
/// redacted form for logs.
#[derive(Clone)]
pub struct DatabaseUrl {
    /// The connection settings for `tokio-postgres` (with `sslmode`
    /// `require` standing for `verify-ca` and `verify-full`).
    pub config: tokio_postgres::Config,
    /// `sslmode` and `sslrootcert` with libpq's meanings.
    pub tls: DbTls,
    redacted: String,
}

impl DatabaseUrl {
    /// Parses a `postgres://` URL (or key=value string); errors never echo
    /// the value, which may hold a password.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let (rest, tls) = split(raw)?;
        let mut config = tokio_postgres::Config::from_str(&rest)
            .map_err(|e| format!("not a valid PostgreSQL connection string ({e})"))?;
        if config.get_hosts().is_empty() {
            return Err("names no host".into());
        }
        config.ssl_mode(match tls.mode {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                tokio_postgres::config::SslMode::Require
            }
        });
        let redacted = redact(&config);
        Ok(Self {
            config,
            tls,
            redacted,
        })
    }

    /// Wraps a driver config built in code (tests, tools): its `sslmode`
    /// as the driver has it, no certificate checked.
    pub fn from_config(config: tokio_postgres::Config) -> Self {
        let mode = match config.get_ssl_mode() {
            tokio_postgres::config::SslMode::Disable => SslMode::Disable,
            tokio_postgres::config::SslMode::Require => SslMode::Require,
            _ => SslMode::Prefer,
        };
        let redacted = redact(&config);
        Self {
            config,
            tls: DbTls {
                mode,
                roots: Roots::System,
            },
            redacted,
        }
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
