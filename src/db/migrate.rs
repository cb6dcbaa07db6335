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

use std::fmt::{self, Write as _};
use std::time::{Duration, Instant};

use tokio_postgres::Client;

use crate::timestamp::Timestamp;

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

/// Why a run stopped.
#[derive(Debug)]
pub enum MigrateError {
    /// The database failed or could not be reached.
    Database(tokio_postgres::Error),
    /// No connection within `DATABASE_CONNECT_TIMEOUT_MS`.
    ConnectTimeout,
    /// An applied migration's SQL differs from this binary's.
    Drift {
        /// The drifted version.
        version: i64,
        /// Its name.
        name: String,
    },
    /// The database has a version this binary does not know.
    UnknownVersion {
        /// The unknown version.
        version: i64,
        /// Its recorded name.
        name: String,
    },
    /// Another run held the migration lock past `MIGRATE_LOCK_TIMEOUT_MS`.
    LockTimeout {
        /// How long this run waited.
        waited_ms: u64,
        /// The backend pid holding the lock, when it could be found.
        holder: Option<i32>,
    },
}

impl fmt::Display for MigrateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Database(e) => write!(f, "database error: {}", crate::error::error_chain(e)),
            Self::ConnectTimeout => f.write_str("could not connect to the database in time"),
            Self::Drift { version, name } => write!(
                f,
                "migration {version}_{name} was changed after it was applied (checksum mismatch); \
                 restore its file and add a new migration instead"
            ),
            Self::UnknownVersion { version, name } => write!(
                f,
                "the database has migration {version}_{name}, which this binary does not know; \
                 it was migrated by a newer version"
            ),
            Self::LockTimeout { waited_ms, holder } => {
                write!(
                    f,
                    "another migration run holds the migration lock (advisory lock {LOCK_KEY}"
                )?;
                if let Some(pid) = holder {
                    write!(f, ", held by backend pid {pid}")?;
                }
                write!(
                    f,
                    "); gave up after {waited_ms} ms (MIGRATE_LOCK_TIMEOUT_MS): let it finish and retry"
                )?;
                if let Some(pid) = holder {
                    write!(f, ", or end it with SELECT pg_terminate_backend({pid})")?;
                }
                Ok(())
            }
        }
    }
}

impl MigrateError {
    /// Whether the database could not be reached (worth retrying), as
    /// opposed to a schema or SQL problem (not worth it).
    pub fn is_unreachable(&self) -> bool {
        match self {
            Self::Database(e) => match e.as_db_error() {
                None => true,
                Some(db) => crate::error::postgres::is_transient(db.code()),
            },
            Self::ConnectTimeout => true,
            _ => false,
        }
    }
}

impl std::error::Error for MigrateError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Database(e) => Some(e),
            _ => None,
        }
    }
}

impl From<tokio_postgres::Error> for MigrateError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Database(e)
    }
}

/// What a run did to one migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The version.
    pub version: i64,
    /// The name.
    pub name: &'static str,
    /// How long its SQL took.
    pub duration_ms: i64,
}

/// One line of `migrate status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The version.
    pub version: i64,
    /// The name.
    pub name: String,
    /// When it was applied, if it was.
    pub applied_at: Option<Timestamp>,
    /// Known to this binary.
    pub known: bool,
    /// Applied with SQL other than this binary's.
    pub drifted: bool,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match (&self.applied_at, self.known, self.drifted) {
            (_, false, _) => "UNKNOWN (applied by a newer binary)".to_owned(),
            (Some(_), _, true) => "DRIFTED (file changed after it was applied)".to_owned(),
            (Some(at), _, false) => format!("applied {at}"),
            (None, _, _) => "pending".to_owned(),
        };
        write!(f, "{} {:<32} {state}", self.version, self.name)
    }
}

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
mod tests {
    use super::*;

    #[test]
    fn embedded_migrations_are_ordered_and_complete() {
        assert!(!MIGRATIONS.is_empty());
        assert!(MIGRATIONS.windows(2).all(|w| w[0].version < w[1].version));
        let first = MIGRATIONS[0];
        assert_eq!(first.name, "create_users");
        assert!(first.up.contains("CREATE TABLE users"));
        assert!(first.down.contains("DROP TABLE users"));
        assert_eq!(first.checksum().len(), 64);
    }

    fn recorded(version: i64, checksum: &str) -> Recorded {
        Recorded {
            version,
            name: "x".into(),
            checksum: checksum.into(),
            applied_at: Timestamp::from_unix_micros(0),
        }
    }

    #[test]
    fn verify_detects_drift_and_unknown_versions() {
        let m = MIGRATIONS[0];
        assert!(verify(&[recorded(m.version, &m.checksum())], MIGRATIONS).is_ok());
        assert!(matches!(
            verify(&[recorded(m.version, "changed")], MIGRATIONS),
            Err(MigrateError::Drift { .. })
        ));
        assert!(matches!(
            verify(&[recorded(99_991_231_000_000, "x")], MIGRATIONS),
            Err(MigrateError::UnknownVersion {
                version: 99_991_231_000_000,
                ..
            })
        ));
        assert!(verify(&[], MIGRATIONS).is_ok());
    }

    const ONE: Migration = Migration {
        version: 20_260_101_000_000,
        name: "one",
        up: "CREATE TABLE one ()",
        down: "DROP TABLE one",
    };
    const TWO: Migration = Migration {
        version: 20_260_102_000_000,
        name: "two",
        up: "CREATE TABLE two ()",
        down: "DROP TABLE two",
    };

    #[test]
    fn checksums_cover_the_up_and_the_down_sql() {
        // printf 'CREATE TABLE one ()\0DROP TABLE one' | sha256sum
        assert_eq!(
            ONE.checksum(),
            "38270f72932f219bf38d318941149d22846f6faa86ec380a2773e57c73ccaf6c"
        );
        // printf 'CREATE TABLE one ()' | sha256sum
        assert_eq!(
            ONE.legacy_checksum(),
            "76e852aa2c0d3e8ab391d64e77a455fbb5a93569534a1dbab343d47f42b1ef3a"
        );
        assert_ne!(ONE.checksum(), TWO.checksum());
        let down_changed = Migration {
            down: "something else",
            ..ONE
        };
        assert_ne!(down_changed.checksum(), ONE.checksum(), "`down` counts");
        assert_eq!(down_changed.legacy_checksum(), ONE.legacy_checksum());
        // The NUL between the parts: moving text across it changes the sum.
        let moved = Migration {
            up: "CREATE TABLE one ()DROP TABLE one",
            down: "",
            ..ONE
        };
        assert_ne!(moved.checksum(), ONE.checksum());
    }

    #[test]
    fn verify_accepts_a_legacy_checksum_and_nothing_else_old() {
        assert!(verify(&[recorded(ONE.version, &ONE.legacy_checksum())], &[ONE]).is_ok());
        let down_changed = Migration {
            down: "DROP TABLE one CASCADE",
            ..ONE
        };
        // Recorded with the old down SQL: the current file's down differs.
        assert!(matches!(
            verify(&[recorded(ONE.version, &ONE.checksum())], &[down_changed]),
            Err(MigrateError::Drift { version, .. }) if version == ONE.version
        ));
        // TWO's legacy checksum is not ONE's.
        assert!(matches!(
            verify(&[recorded(ONE.version, &TWO.legacy_checksum())], &[ONE]),
            Err(MigrateError::Drift { .. })
        ));
    }

    #[test]
    fn verify_checks_every_recorded_migration_against_its_own_file() {
        let both = [ONE, TWO];
        let good = [
            recorded(ONE.version, &ONE.checksum()),
            recorded(TWO.version, &TWO.checksum()),
        ];
        assert!(verify(&good, &both).is_ok());
        assert!(verify(&good[..1], &both).is_ok(), "pending ones are fine");
        // TWO recorded with ONE's checksum: drift, even though the checksum
        // is one this binary knows.
        let swapped = [
            recorded(ONE.version, &ONE.checksum()),
            recorded(TWO.version, &ONE.checksum()),
        ];
        assert!(matches!(
            verify(&swapped, &both),
            Err(MigrateError::Drift { version, .. }) if version == TWO.version
        ));
        assert!(matches!(
            verify(&good, &[ONE]),
            Err(MigrateError::UnknownVersion { version, .. }) if version == TWO.version
        ));
    }

    #[test]
    fn errors_say_what_to_do_and_whether_to_retry() {
        let drift = MigrateError::Drift {
            version: 20_260_101_000_000,
            name: "one".into(),
        };
        assert_eq!(
            drift.to_string(),
            "migration 20260101000000_one was changed after it was applied (checksum mismatch); \
             restore its file and add a new migration instead"
        );
        let unknown = MigrateError::UnknownVersion {
            version: 20_991_231_000_000,
            name: "future".into(),
        };
        assert_eq!(
            unknown.to_string(),
            "the database has migration 20991231000000_future, which this binary does not know; \
             it was migrated by a newer version"
        );
        assert_eq!(
            MigrateError::ConnectTimeout.to_string(),
            "could not connect to the database in time"
        );
        assert!(MigrateError::ConnectTimeout.is_unreachable());
        assert!(!drift.is_unreachable());
        assert!(!unknown.is_unreachable());
        for error in [&drift, &unknown, &MigrateError::ConnectTimeout] {
            assert!(std::error::Error::source(error).is_none());
        }
    }

    #[test]
    fn status_lines_name_the_state() {
        let at = Timestamp::from_unix_micros(1_795_949_599_123_456);
        let line = |applied_at, known, drifted| {
            Status {
                version: 20_260_101_000_000,
                name: "one".into(),
                applied_at,
                known,
                drifted,
            }
            .to_string()
        };
        let name = format!("{:<32}", "one");
        assert_eq!(
            line(Some(at), true, false),
            format!("20260101000000 {name} applied 2026-11-29T10:53:19.123456Z")
        );
        assert_eq!(
            line(None, true, false),
            format!("20260101000000 {name} pending")
        );
        assert_eq!(
            line(Some(at), true, true),
            format!("20260101000000 {name} DRIFTED (file changed after it was applied)")
        );
        assert_eq!(
            line(Some(at), false, false),
            format!("20260101000000 {name} UNKNOWN (applied by a newer binary)")
        );
    }
}
