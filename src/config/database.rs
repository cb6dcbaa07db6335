//! `DATABASE_URL`: the driver's config, and a redacted form for logs.

use std::fmt;
use std::str::FromStr;

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
