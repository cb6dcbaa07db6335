//! The database: the connection pool, the per-request connection, TLS, and
//! the schema's migrations.

pub mod client;
mod lock;
pub mod migrate;
pub mod pool;
pub mod session;
pub mod tls;
pub mod transaction;

pub use client::{Db, Param};
pub use pool::{Pool, build_pool};
pub use transaction::Transaction;

use crate::config::Settings;

/// How long the server waits between start-up migration attempts while the
/// database is unreachable.
pub const MIGRATION_RETRY_INTERVAL: std::time::Duration = std::time::Duration::from_secs(2);

/// Gets the database ready before serving: applies pending migrations when
/// `MIGRATE_ON_START` is set, and says what it did.
pub async fn prepare(settings: &Settings) -> Result<(), migrate::MigrateError> {
    if !settings.migrate_on_start {
        return Ok(());
    }
    let mut client = migrate::connect(settings).await?;
    let applied = migrate::up_within(
        &mut client,
        migrate::MIGRATIONS,
        settings.migrate_lock_timeout,
    )
    .await?;
    for m in &applied {
        tracing::info!(
            version = m.version,
            name = m.name,
            duration_ms = m.duration_ms,
            "migration applied"
        );
    }
    if applied.is_empty() {
        tracing::info!("database schema is up to date");
    }
    Ok(())
}
