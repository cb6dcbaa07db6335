//! Why a migration run stopped, and whether it is worth retrying.

use super::LOCK_KEY;
use std::fmt;

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
