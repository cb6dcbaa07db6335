//! The background-job settings: which broker carries jobs, how the worker
//! runs them, and how webhook deliveries behave.

use std::fmt;
use std::time::Duration;

use super::AppEnv;
use super::parse::{Parser, int_in, parse_bool};

/// Where jobs wait between being enqueued and being run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobsBroker {
    /// `JOBS_BROKER=postgres` (the default): the database is the queue;
    /// nothing else to run.
    Postgres,
    /// `JOBS_BROKER=redis`: outbox rows are relayed to a Redis stream at
    /// `REDIS_URL` (required), which the workers consume in a group.
    Redis {
        /// `REDIS_URL`.
        url: RedisUrl,
        /// `REDIS_CA_FILE`: the certificates that sign the server's, for a
        /// `rediss://` server with a private CA (otherwise Mozilla's roots).
        ca: Option<RedisCa>,
    },
}

/// The PEM certificates of `REDIS_CA_FILE`, read at start-up.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisCa(Vec<u8>);

impl RedisCa {
    /// Reads `path`; the error says why it cannot be used.
    pub fn read(path: &str) -> Result<Self, String> {
        let pem = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
        if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
            return Err(format!("{path} holds no PEM certificate"));
        }
        Ok(Self(pem))
    }

    /// The PEM bytes.
    pub fn pem(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for RedisCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedisCa({} bytes)", self.0.len())
    }
}

/// `REDIS_URL`, checked at start-up: `redis://` (TCP), `rediss://` (TLS)
/// or `redis+unix://` / `unix://` (a Unix socket), in the form the `redis`
/// crate reads. Its `Debug` shows no password.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl(String);

impl RedisUrl {
    /// Parses `url`; the error says what is wrong with it.
    pub fn parse(url: &str) -> Result<Self, String> {
        let known = ["redis://", "rediss://", "redis+unix://", "unix://"];
        if !known.iter().any(|scheme| url.starts_with(scheme)) {
            return Err("must start with redis://, rediss://, redis+unix:// or unix://".into());
        }
        redis::Client::open(url).map_err(|e| format!("is not a Redis URL: {e}"))?;
        Ok(Self(url.to_owned()))
    }

    /// The URL as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (scheme, rest) = self.0.split_once("://").unwrap_or(("", &self.0));
        let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
        write!(f, "RedisUrl({scheme}://{host})")
    }
}

impl JobsBroker {
    /// The broker's name, as `/readyz` and logs say it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::Redis { .. } => "redis",
        }
    }
}

/// How jobs are queued and run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jobs {
    /// `JOBS_BROKER` (default `postgres`) and `REDIS_URL`.
    pub broker: JobsBroker,
    /// `WORKER_IN_PROCESS` (default `true` in dev, `false` in prod):
    /// `backend serve` runs the job worker too.
    pub in_process: bool,
    /// `WORKER_CONCURRENCY` (default 8, 1 to 1024): jobs one worker runs at
    /// once. Deliveries mostly wait on the network, so a few per core. The
    /// worker has its own pool of `2 × WORKER_CONCURRENCY + 2` connections.
    pub concurrency: usize,
    /// `WORKER_LEASE_MS` (default 30000): how long a claim lasts without a
    /// heartbeat; a job whose worker died is run again after it.
    pub lease: Duration,
    /// `WEBHOOK_TIMEOUT_MS` (default 10000): one delivery attempt, connect
    /// to last body byte.
    pub webhook_timeout: Duration,
    /// `WEBHOOK_RETRY_BASE_MS` (default 5000): the first retry's delay; the
    /// n-th waits this × 2^(n−1), ±25 %.
    pub retry_base: Duration,
    /// `WEBHOOK_MAX_ATTEMPTS` (default 8, 1 to 100): attempts in all before
    /// a delivery is `failed`.
    pub max_attempts: u32,
    /// `WEBHOOK_ALLOW_PRIVATE_NETWORKS` (default `true` in dev, `false` in
    /// prod): allow webhook URLs that reach loopback, private, link-local …
    /// addresses.
    pub allow_private_networks: bool,
}

/// Reads the job settings, recording every problem in `p`.
pub(super) fn parse(p: &mut Parser<'_>, app_env: AppEnv) -> Jobs {
    let dev = app_env == AppEnv::Dev;
    let broker = p.parse("JOBS_BROKER", "postgres".to_owned(), |v| match v {
        "postgres" | "redis" => Ok(v.to_owned()),
        _ => Err("must be `postgres` or `redis`".into()),
    });
    let redis_url = (p.lookup)("REDIS_URL")
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty());
    let ca = (p.lookup)("REDIS_CA_FILE")
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty());
    let broker = match (broker.as_str(), redis_url) {
        ("redis", Some(url)) => match RedisUrl::parse(&url) {
            Ok(url) => {
                let ca = ca.and_then(|path| {
                    if !url.as_str().starts_with("rediss://") {
                        p.fail("REDIS_CA_FILE", "needs a rediss:// REDIS_URL".into());
                        return None;
                    }
                    RedisCa::read(&path)
                        .map_err(|e| p.fail("REDIS_CA_FILE", e))
                        .ok()
                });
                JobsBroker::Redis { url, ca }
            }
            Err(e) => {
                p.fail("REDIS_URL", e);
                JobsBroker::Postgres
            }
        },
        ("redis", None) => {
            p.fail("REDIS_URL", "is required with JOBS_BROKER=redis".into());
            JobsBroker::Postgres
        }
        _ => JobsBroker::Postgres,
    };
    Jobs {
        broker,
        in_process: p.parse("WORKER_IN_PROCESS", dev, parse_bool),
        concurrency: p.parse("WORKER_CONCURRENCY", 8usize, |v| int_in(v, 1, 1024)),
        lease: p.millis("WORKER_LEASE_MS", 30_000),
        webhook_timeout: p.millis("WEBHOOK_TIMEOUT_MS", 10_000),
        retry_base: p.millis("WEBHOOK_RETRY_BASE_MS", 5000),
        max_attempts: p.parse("WEBHOOK_MAX_ATTEMPTS", 8u32, |v| int_in(v, 1, 100)),
        allow_private_networks: p.parse("WEBHOOK_ALLOW_PRIVATE_NETWORKS", dev, parse_bool),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use super::*;
    use crate::config::{Settings, SettingsError};

    fn jobs(vars: &[(&str, &str)]) -> Result<Jobs, SettingsError> {
        let mut map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        map.insert("DATABASE_URL".into(), "postgres://app@db/backend".into());
        map.insert("AUTH_MODE".into(), "none".into());
        Settings::from_lookup(|name| map.get(name).cloned()).map(|s| s.jobs)
    }

    #[test]
    fn defaults_follow_the_environment() {
        let dev = jobs(&[]).unwrap();
        assert_eq!(dev.broker, JobsBroker::Postgres);
        assert!(dev.in_process && dev.allow_private_networks);
        assert_eq!(dev.concurrency, 8);
        assert_eq!(dev.lease, Duration::from_secs(30));
        assert_eq!(dev.webhook_timeout, Duration::from_secs(10));
        assert_eq!(dev.retry_base, Duration::from_secs(5));
        assert_eq!(dev.max_attempts, 8);
        let prod = jobs(&[("APP_ENV", "prod")]).unwrap();
        assert!(!prod.in_process && !prod.allow_private_networks);
    }

    #[test]
    fn redis_needs_its_url_and_every_problem_is_reported() {
        let redis = jobs(&[
            ("JOBS_BROKER", "redis"),
            ("REDIS_URL", "redis://cache:6379"),
        ])
        .unwrap();
        assert_eq!(redis.broker.name(), "redis");
        let secret = jobs(&[
            ("JOBS_BROKER", "redis"),
            ("REDIS_URL", "rediss://user:hunter2@cache:6380/1"),
        ]);
        let shown = format!("{:?}", secret.unwrap().broker);
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("rediss://cache:6380/1"), "{shown}");
        let errors = jobs(&[
            ("JOBS_BROKER", "redis"),
            ("WORKER_CONCURRENCY", "0"),
            ("WEBHOOK_MAX_ATTEMPTS", "x"),
            ("WEBHOOK_ALLOW_PRIVATE_NETWORKS", "maybe"),
        ])
        .unwrap_err();
        let variables: Vec<&str> = errors.0.iter().map(|e| e.variable).collect();
        assert_eq!(
            variables,
            [
                "REDIS_URL",
                "WORKER_CONCURRENCY",
                "WEBHOOK_MAX_ATTEMPTS",
                "WEBHOOK_ALLOW_PRIVATE_NETWORKS"
            ]
        );
        let bad_scheme = jobs(&[("JOBS_BROKER", "redis"), ("REDIS_URL", "http://x")]).unwrap_err();
        assert_eq!(bad_scheme.0[0].variable, "REDIS_URL");
        let plain_with_ca = jobs(&[
            ("JOBS_BROKER", "redis"),
            ("REDIS_URL", "redis://cache"),
            ("REDIS_CA_FILE", "/etc/hostname"),
        ]);
        assert_eq!(plain_with_ca.unwrap_err().0[0].variable, "REDIS_CA_FILE");
        let not_pem = jobs(&[
            ("JOBS_BROKER", "redis"),
            ("REDIS_URL", "rediss://cache"),
            ("REDIS_CA_FILE", "Cargo.toml"),
        ]);
        let not_pem = not_pem.unwrap_err();
        assert!(
            not_pem.0[0].reason.contains("no PEM certificate"),
            "{not_pem:?}"
        );
        let bad_port = jobs(&[("JOBS_BROKER", "redis"), ("REDIS_URL", "redis://cache:x")]);
        assert_eq!(bad_port.unwrap_err().0[0].variable, "REDIS_URL");
        let socket = jobs(&[
            ("JOBS_BROKER", "redis"),
            ("REDIS_URL", "redis+unix:///run/redis.sock"),
        ]);
        assert_eq!(socket.unwrap().broker.name(), "redis");
        assert_eq!(
            jobs(&[("JOBS_BROKER", "kafka")]).unwrap_err().0[0].variable,
            "JOBS_BROKER"
        );
    }
}
