//! The two job brokers, for tests that run once per broker: the same test
//! body with `JOBS_BROKER=postgres` and with `JOBS_BROKER=redis` (on a
//! Redis of the test's own).

use backend::config::{JobsBroker, RedisUrl, Settings};

use super::redis::RedisServer;

/// Which broker a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `JOBS_BROKER=postgres`.
    Postgres,
    /// `JOBS_BROKER=redis`.
    Redis,
}

/// The broker of one test: nothing to run for PostgreSQL, a Redis server
/// for Redis (stopped when this is dropped).
pub struct Broker {
    /// The Redis server, in the Redis mode.
    pub redis: Option<RedisServer>,
}

impl Broker {
    /// Starts what `mode` needs; `None` (the test skips, saying why) when
    /// Redis is not installed outside CI.
    pub async fn start(mode: Mode) -> Option<Self> {
        let redis = match mode {
            Mode::Postgres => None,
            Mode::Redis => Some(RedisServer::start_or_skip().await?),
        };
        Some(Self { redis })
    }

    /// Points `settings` at this broker.
    pub fn configure(&self, settings: &mut Settings) {
        if let Some(redis) = &self.redis {
            settings.jobs.broker = JobsBroker::Redis {
                url: RedisUrl::parse(&redis.url()).expect("a Redis URL"),
                ca: None,
            };
        }
    }

    /// The environment a `backend` process needs for this broker.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        match &self.redis {
            Some(redis) => vec![("JOBS_BROKER", "redis".into()), ("REDIS_URL", redis.url())],
            None => vec![("JOBS_BROKER", "postgres".into())],
        }
    }
}

/// Declares, for each `async fn name(mode: Mode)`, a module `name` with the
/// tests `postgres` and `redis` that run it on each broker.
macro_rules! in_both_modes {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn postgres() {
                super::$name($crate::common::broker::Mode::Postgres).await;
            }

            #[tokio::test]
            async fn redis() {
                super::$name($crate::common::broker::Mode::Redis).await;
            }
        }
    )*};
}

pub(crate) use in_both_modes;
