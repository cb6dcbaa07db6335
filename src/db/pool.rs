//! The connection pool: deadpool over tokio-postgres, with every deadline
//! taken from settings.
//!
//! deadpool waits forever and tokio-postgres connects forever by default;
//! here a caller waits at most `DATABASE_POOL_TIMEOUT_MS` for a free
//! connection, a new connection gets `DATABASE_CONNECT_TIMEOUT_MS`, and the
//! server cancels any statement after `DATABASE_STATEMENT_TIMEOUT_MS`.

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, RecyclingMethod, Runtime};

use crate::config::Settings;

/// The pool type used throughout the service.
pub type Pool = deadpool_postgres::Pool;

/// Builds the pool; connects lazily, so it succeeds with the database down.
///
/// Recycling is `Fast` (no round trip per checkout): a connection whose
/// server went away is noticed by its connection task and dropped at
/// checkout.
pub fn build_pool(settings: &Settings) -> Result<Pool, deadpool_postgres::BuildError> {
    let mut pg = settings.database.config.clone();
    pg.connect_timeout(settings.connect_timeout);
    pg.keepalives(true);
    pg.keepalives_idle(Duration::from_secs(30));
    pg.keepalives_interval(Duration::from_secs(10));
    pg.keepalives_retries(3);
    if pg.get_application_name().is_none() {
        pg.application_name("backend");
    }
    let statement_timeout = format!(
        "-c statement_timeout={}",
        settings.statement_timeout.as_millis()
    );
    let options = match pg.get_options() {
        Some(existing) if !existing.is_empty() => format!("{existing} {statement_timeout}"),
        _ => statement_timeout,
    };
    pg.options(&options);
    let manager = Manager::from_config(
        pg,
        super::tls::connector(),
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(settings.pool_size)
        .wait_timeout(Some(settings.pool_timeout))
        .create_timeout(Some(settings.connect_timeout))
        .recycle_timeout(Some(settings.pool_timeout))
        .runtime(Runtime::Tokio1)
        .build()
}
