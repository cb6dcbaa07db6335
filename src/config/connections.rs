//! Settings that protect the server from hostile clients and networks, and
//! pace its shutdown: connection caps and ages, write deadlines, the minimum
//! upload rate, and the lame-duck delay.

use std::time::Duration;

use super::AppEnv;
use super::parse::{Parser, int_in};

/// How connections are admitted, paced and retired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connections {
    /// `MAX_CONNECTIONS` (default 1000): open client connections at most;
    /// at the cap the server stops accepting (the kernel's backlog holds the
    /// next ones) instead of failing for everyone when descriptors run out.
    pub max_connections: usize,
    /// `WRITE_TIMEOUT_MS` (default 10000): a response the client does not
    /// read for this long (a blocked write) closes its connection.
    pub write_timeout: Duration,
    /// `CONNECTION_MAX_AGE_MS` (default 300000, five minutes): a connection
    /// this old is asked to close gracefully (HTTP/1.1 after its current
    /// request, HTTP/2 with GOAWAY), so load spreads over new replicas.
    pub max_age: Duration,
    /// `REQUEST_BODY_MIN_RATE` (default 240 bytes per second, 0 disables):
    /// after the grace period a body must keep arriving at this average
    /// rate, else the request ends with 408.
    pub body_min_rate: u64,
    /// `REQUEST_BODY_GRACE_MS` (default 5000): how long a body may arrive at
    /// any rate before the minimum rate applies.
    pub body_grace: Duration,
    /// `SHUTDOWN_DELAY_MS` (default 0 in dev; in prod 3000, or half of
    /// `SHUTDOWN_TIMEOUT_MS` when that is shorter than 6000): after SIGTERM,
    /// keep accepting and serving this long with `/readyz` answering 503, so
    /// load balancers stop routing here first; part of `SHUTDOWN_TIMEOUT_MS`.
    pub shutdown_delay: Duration,
}

/// The longest any of these durations may be: a day.
const MAX_MS: u64 = 24 * 60 * 60 * 1000;

impl Connections {
    /// Reads the variables through `p`; `shutdown_timeout` is the drain
    /// deadline the lame-duck delay must fit in.
    pub(super) fn parse(p: &mut Parser<'_>, app_env: AppEnv, shutdown_timeout: Duration) -> Self {
        let max_connections = p.parse("MAX_CONNECTIONS", 1000usize, |v| int_in(v, 1, 1_000_000));
        let write_timeout = p.millis("WRITE_TIMEOUT_MS", 10_000);
        let max_age = p.millis("CONNECTION_MAX_AGE_MS", 300_000);
        let body_min_rate = p.parse("REQUEST_BODY_MIN_RATE", 240u64, |v| {
            int_in(v, 0, 1024 * 1024 * 1024)
        });
        let body_grace = p.millis("REQUEST_BODY_GRACE_MS", 5000);
        let default_delay = match app_env {
            AppEnv::Dev => Duration::ZERO,
            AppEnv::Prod => Duration::from_secs(3).min(shutdown_timeout / 2),
        };
        let shutdown_delay = p.parse("SHUTDOWN_DELAY_MS", default_delay, |v| {
            int_in::<u64>(v, 0, MAX_MS).map(Duration::from_millis)
        });
        if shutdown_delay >= shutdown_timeout {
            p.fail(
                "SHUTDOWN_DELAY_MS",
                format!(
                    "must be shorter than SHUTDOWN_TIMEOUT_MS ({} ms), which it is part of, got {}",
                    shutdown_timeout.as_millis(),
                    shutdown_delay.as_millis()
                ),
            );
        }
        Self {
            max_connections,
            write_timeout,
            max_age,
            body_min_rate,
            body_grace,
            shutdown_delay,
        }
    }
}
