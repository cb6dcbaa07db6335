//! The database: the connection pool, TLS, and the schema's migrations.

pub mod migrate;
pub mod pool;
pub mod tls;

pub use pool::{Pool, build_pool};

use crate::config::Settings;

/// Gets the database ready before serving: applies pending migrations when
/// `MIGRATE_ON_START` is set, and says what it did.
pub async fn prepare(settings: &Settings) -> Result<(), migrate::MigrateError> {
    if !settings.migrate_on_start {
        return Ok(());
    }
    let mut client = migrate::connect(settings).await?;
    let applied = migrate::up(&mut client, migrate::MIGRATIONS).await?;
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
