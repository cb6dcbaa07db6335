//! The connection pool: deadpool over tokio-postgres, with every deadline
//! taken from settings.
//!
//! deadpool waits forever and tokio-postgres connects forever by default;
//! here a caller waits at most `DATABASE_POOL_TIMEOUT_MS` for a free
//! connection, a new connection gets `DATABASE_CONNECT_TIMEOUT_MS`, the
//! server cancels any statement after `DATABASE_STATEMENT_TIMEOUT_MS`, and a
//! socket whose sent data stays unacknowledged for the statement timeout
//! plus the connect timeout is closed by the kernel (`tcp_user_timeout`;
//! keepalives alone do not fire while data is in flight).
//!
//! No startup parameter beyond those poolers accept: the statement timeout
//! is a `SET` on each new connection ([`session`]), not `options=-c …`,
//! which PgBouncer refuses ("unsupported startup parameter").

use std::ops::Deref;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, PoolError, RecyclingMethod, Runtime};

use super::{Db, session};
use crate::config::Settings;

/// The pool of the service: deadpool's, plus the statement-cache choice
/// that every [`Db`] it hands out follows.
#[derive(Clone, Debug)]
pub struct Pool {
    inner: deadpool_postgres::Pool,
    statement_cache: bool,
}

impl Deref for Pool {
    type Target = deadpool_postgres::Pool;

    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl Pool {
    /// A connection for one request's queries, discarded rather than reused
    /// if a query of it did not finish (see [`Db`]).
    pub async fn db(&self) -> Result<Db, PoolError> {
        let mut span = crate::telemetry::otel::spans::pool_wait();
        let object = self.inner.get().await;
        if let (Some(span), Err(e)) = (&mut span, &object) {
            span.fail(match e {
                PoolError::Timeout(_) => "timeout",
                _ => "unavailable",
            });
        }
        drop(span);
        Ok(Db::new(object?, self.statement_cache))
    }
}

/// `tcp_user_timeout`: the statement timeout (the server answers or cancels
/// by then) plus the connect timeout (the network's allowance).
pub fn tcp_user_timeout(settings: &Settings) -> Duration {
    settings.statement_timeout + settings.connect_timeout
}

/// Builds the pool; connects lazily, so it succeeds with the database down.
///
/// Recycling is `Fast` (no round trip per checkout): a connection whose
/// server went away is noticed by its connection task and dropped at
/// checkout.
pub fn build_pool(settings: &Settings) -> Result<Pool, deadpool_postgres::BuildError> {
    super::tls::warn_if_downgradable(settings);
    let mut pg = settings.database.config.clone();
    pg.connect_timeout(settings.connect_timeout);
    pg.keepalives(true);
    pg.keepalives_idle(Duration::from_secs(30));
    pg.keepalives_interval(Duration::from_secs(10));
    pg.keepalives_retries(3);
    pg.tcp_user_timeout(tcp_user_timeout(settings));
    if pg.get_application_name().is_none() {
        pg.application_name("backend");
    }
    let manager = Manager::from_config(
        pg,
        super::tls::connector_for(&settings.database.tls),
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let inner = deadpool_postgres::Pool::builder(manager)
        .max_size(settings.pool_size)
        .wait_timeout(Some(settings.pool_timeout))
        .create_timeout(Some(settings.connect_timeout))
        .recycle_timeout(Some(settings.pool_timeout))
        .post_create(session::on_connect(settings))
        .runtime(Runtime::Tokio1)
        .build()?;
    Ok(Pool {
        inner,
        statement_cache: settings.statement_cache,
    })
}
