//! The migration runner: versioned SQL files embedded at build time, applied
//! under an advisory lock, each in its own transaction with its
//! `schema_migrations` row.
//!
//! Refuses to run when an applied migration's file has changed (drift) or
//! when the database has a version this binary does not know (it was
//! migrated by a newer binary): both mean the schema is not what the code
//! expects, and guessing would be worse than stopping.
//!
//! Hand-written because the contract needs what the maintained runners for
//! tokio-postgres do not give together: `down` migrations (refinery has none,
//! by design), one advisory lock held for the whole run so replicas starting
//! at once apply each migration exactly once, a drift check that refuses a
//! changed file, and our own TLS connector; sqlx's runner would bring sqlx,
//! which this design excludes.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use tokio_postgres::Client;

use crate::timestamp::Timestamp;

mod error;
mod report;

pub use error::MigrateError;
pub use report::{Applied, Status};

/// One migration: its version (a UTC timestamp, `YYYYMMDDHHMMSS`), its name,
/// and its SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    /// The version, from the file name.
    pub version: i64,
    /// The name, from the file name.
    pub name: &'static str,
    /// The SQL that applies it.
    pub up: &'static str,
    /// The SQL that reverts it.
    pub down: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

impl Migration {
    /// SHA-256 of the `up` SQL, a NUL byte and the `down` SQL, hex; recorded
    /// when applied, compared after, so an edited `down.sql` is drift too.
    /// (SQL text cannot hold a NUL byte: the two parts cannot run together.)
    pub fn checksum(&self) -> String {
        let mut context = ring::digest::Context::new(&ring::digest::SHA256);
        context.update(self.up.as_bytes());
        context.update(b"\0");
        context.update(self.down.as_bytes());
        hex(context.finish().as_ref())
    }

    /// SHA-256 of the `up` SQL alone: what databases migrated before the
    /// checksum covered `down` recorded. Accepted, and rewritten to
    /// [`Migration::checksum`] by the next `up` or `down` run.
    pub fn legacy_checksum(&self) -> String {
        hex(ring::digest::digest(&ring::digest::SHA256, self.up.as_bytes()).as_ref())
    }

    /// Whether `recorded` is this migration's checksum, current or legacy.
    fn matches(&self, recorded: &str) -> bool {
        recorded == self.checksum() || recorded == self.legacy_checksum()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(64), |mut hex, b| {
        let _ = write!(hex, "{b:02x}");
        hex
    })
}

/// The advisory lock key held for a whole run ("backend migrations").
pub const LOCK_KEY: i64 = 0x6261_636b_656e_6431;

/// `MIGRATE_LOCK_TIMEOUT_MS`'s default, used by [`up`], [`down`] and
/// [`status`]; the `_within` forms take the setting.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(5);

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version     bigint      PRIMARY KEY,
    name        text        NOT NULL,
    checksum    text        NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now(),
    duration_ms bigint      NOT NULL
)";

struct Recorded {
    version: i64,
    name: String,
    checksum: String,
    applied_at: Timestamp,
}

/// Takes the lock (within `lock_timeout`), makes sure the bookkeeping table
/// exists, and reads it. These statements run under the session's own
/// statement timeout; only a migration's transaction lifts it.
async fn begin(client: &Client, lock_timeout: Duration) -> Result<Vec<Recorded>, MigrateError> {
    super::lock::acquire(client, LOCK_KEY, lock_timeout).await?;
    client.batch_execute(CREATE_TABLE).await?;
    let rows = client
        .query(
            "SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Recorded {
            version: r.get(0),
            name: r.get(1),
            checksum: r.get(2),
            applied_at: r.get(3),
        })
        .collect())
}

async fn end(client: &Client) -> Result<(), MigrateError> {
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY])
        .await?;
    Ok(())
}

/// Checks every applied migration against `migrations`: drift or an unknown
/// version is an error.
fn verify(recorded: &[Recorded], migrations: &[Migration]) -> Result<(), MigrateError> {
    for r in recorded {
        match migrations.iter().find(|m| m.version == r.version) {
            None => {
                return Err(MigrateError::UnknownVersion {
                    version: r.version,
                    name: r.name.clone(),
                });
            }
            Some(m) if !m.matches(&r.checksum) => {
                return Err(MigrateError::Drift {
                    version: r.version,
                    name: r.name.clone(),
                });
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Applies every pending migration, in version order; returns what it did.
pub async fn up(
    client: &mut Client,
    migrations: &[Migration],
) -> Result<Vec<Applied>, MigrateError> {
    up_within(client, migrations, DEFAULT_LOCK_TIMEOUT).await
}

/// [`up`], waiting at most `lock_timeout` for the migration lock and for
/// each DDL statement's table locks (`MIGRATE_LOCK_TIMEOUT_MS`).
pub async fn up_within(
    client: &mut Client,
    migrations: &[Migration],
    lock_timeout: Duration,
) -> Result<Vec<Applied>, MigrateError> {
    let recorded = begin(client, lock_timeout).await?;
    let result = match upgrade_legacy(client, &recorded, migrations).await {
        Ok(()) => apply_pending(client, &recorded, migrations, lock_timeout).await,
        Err(e) => Err(e),
    };
    end(client).await?;
    result
}

/// Bounds a migration's transaction: its DDL gives up after `lock_timeout`
/// waiting for a table lock (rather than queueing behind a long query while
/// every later query on the table queues behind it), and once it holds its
/// locks it may run as long as it needs (`statement_timeout` 0: an index
/// build on a large table is legitimate work, and the waiting that blocks
/// traffic is what `lock_timeout` bounds). `SET LOCAL`: gone at commit.
async fn bound(
    tx: &tokio_postgres::Transaction<'_>,
    lock_timeout: Duration,
) -> Result<(), MigrateError> {
    tx.batch_execute(&format!(
        "SET LOCAL lock_timeout = {}; SET LOCAL statement_timeout = 0",
        lock_timeout.as_millis().max(1)
    ))
    .await?;
    Ok(())
}

/// Rewrites every recorded legacy (up-only) checksum to the current one,
/// under the run's advisory lock; a row that matches neither is left for
/// [`verify`] to report as drift.
async fn upgrade_legacy(
    client: &Client,
    recorded: &[Recorded],
    migrations: &[Migration],
) -> Result<(), MigrateError> {
    for r in recorded {
        let Some(m) = migrations.iter().find(|m| m.version == r.version) else {
            continue;
        };
        if r.checksum == m.legacy_checksum() {
            client
                .execute(
                    "UPDATE schema_migrations SET checksum = $1 WHERE version = $2",
                    &[&m.checksum(), &m.version],
                )
                .await?;
        }
    }
    Ok(())
}

async fn apply_pending(
    client: &mut Client,
    recorded: &[Recorded],
    migrations: &[Migration],
    lock_timeout: Duration,
) -> Result<Vec<Applied>, MigrateError> {
    verify(recorded, migrations)?;
    let mut applied = Vec::new();
    for m in migrations {
        if recorded.iter().any(|r| r.version == m.version) {
            continue;
        }
        let started = Instant::now();
        let tx = client.transaction().await?;
        bound(&tx, lock_timeout).await?;
        tx.batch_execute(m.up).await?;
        let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        tx.execute(
            "INSERT INTO schema_migrations (version, name, checksum, duration_ms) VALUES ($1, $2, $3, $4)",
            &[&m.version, &m.name, &m.checksum(), &duration_ms],
        )
        .await?;
        tx.commit().await?;
        applied.push(Applied {
            version: m.version,
            name: m.name,
            duration_ms,
        });
    }
    Ok(applied)
}

/// Reverts the most recently applied migration; `None` if none is applied.
pub async fn down(
    client: &mut Client,
    migrations: &[Migration],
) -> Result<Option<Applied>, MigrateError> {
    down_within(client, migrations, DEFAULT_LOCK_TIMEOUT).await
}

/// [`down`], with [`up_within`]'s bounds.
pub async fn down_within(
    client: &mut Client,
    migrations: &[Migration],
    lock_timeout: Duration,
) -> Result<Option<Applied>, MigrateError> {
    let recorded = begin(client, lock_timeout).await?;
    let result = match upgrade_legacy(client, &recorded, migrations).await {
        Ok(()) => revert_last(client, &recorded, migrations, lock_timeout).await,
        Err(e) => Err(e),
    };
    end(client).await?;
    result
}

async fn revert_last(
    client: &mut Client,
    recorded: &[Recorded],
    migrations: &[Migration],
    lock_timeout: Duration,
) -> Result<Option<Applied>, MigrateError> {
    verify(recorded, migrations)?;
    let Some(last) = recorded.last() else {
        return Ok(None);
    };
    let Some(m) = migrations.iter().find(|m| m.version == last.version) else {
        return Ok(None);
    };
    let started = Instant::now();
    let tx = client.transaction().await?;
    bound(&tx, lock_timeout).await?;
    tx.batch_execute(m.down).await?;
    tx.execute(
        "DELETE FROM schema_migrations WHERE version = $1",
        &[&m.version],
    )
    .await?;
    tx.commit().await?;
    Ok(Some(Applied {
        version: m.version,
        name: m.name,
        duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
    }))
}

/// Every known and every recorded migration, with its state.
pub async fn status(
    client: &mut Client,
    migrations: &[Migration],
) -> Result<Vec<Status>, MigrateError> {
    status_within(client, migrations, DEFAULT_LOCK_TIMEOUT).await
}

/// [`status`], waiting at most `lock_timeout` for the migration lock.
pub async fn status_within(
    client: &mut Client,
    migrations: &[Migration],
    lock_timeout: Duration,
) -> Result<Vec<Status>, MigrateError> {
    let recorded = begin(client, lock_timeout).await?;
    end(client).await?;
    let mut lines: Vec<Status> = migrations
        .iter()
        .map(|m| {
            let r = recorded.iter().find(|r| r.version == m.version);
            Status {
                version: m.version,
                name: m.name.to_owned(),
                applied_at: r.map(|r| r.applied_at),
                known: true,
                drifted: r.is_some_and(|r| !m.matches(&r.checksum)),
            }
        })
        .collect();
    for r in &recorded {
        if !migrations.iter().any(|m| m.version == r.version) {
            lines.push(Status {
                version: r.version,
                name: r.name.clone(),
                applied_at: Some(r.applied_at),
                known: false,
                drifted: false,
            });
        }
    }
    lines.sort_by_key(|s| s.version);
    Ok(lines)
}

/// A dedicated connection for a migration run, with the pool's connection
/// settings; the advisory lock dies with it if the run is interrupted.
pub async fn connect(settings: &crate::config::Settings) -> Result<Client, MigrateError> {
    let mut config = settings.database.config.clone();
    config.connect_timeout(settings.connect_timeout);
    // The driver's connect timeout covers the TCP connect only; a server that
    // accepts and then says nothing must not hang the run.
    let connecting = config.connect(super::tls::connector_for(&settings.database.tls));
    let (client, connection) = tokio::time::timeout(settings.connect_timeout, connecting)
        .await
        .map_err(|_| MigrateError::ConnectTimeout)??;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %e, "migration connection ended with an error");
        }
    });
    Ok(client)
}

#[cfg(test)]
mod tests;
