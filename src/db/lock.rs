//! The migration lock: a session-level advisory lock, taken within a
//! deadline.
//!
//! `pg_advisory_lock` waits without bound; polling `pg_try_advisory_lock`
//! until `MIGRATE_LOCK_TIMEOUT_MS` lets a run that finds another one in
//! progress fail with a message naming the holder instead of hanging a
//! deployment.

use std::time::{Duration, Instant};

use tokio_postgres::Client;

use super::migrate::MigrateError;

/// How often a waiting run asks again.
const POLL: Duration = Duration::from_millis(50);

/// Takes the advisory lock `key`, or fails with
/// [`MigrateError::LockTimeout`] once `timeout` has passed.
pub(super) async fn acquire(
    client: &Client,
    key: i64,
    timeout: Duration,
) -> Result<(), MigrateError> {
    let started = Instant::now();
    loop {
        let taken: bool = client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
            .await?
            .get(0);
        if taken {
            return Ok(());
        }
        let waited = started.elapsed();
        if waited >= timeout {
            return Err(MigrateError::LockTimeout {
                waited_ms: u64::try_from(waited.as_millis()).unwrap_or(u64::MAX),
                holder: holder(client, key).await?,
            });
        }
        tokio::time::sleep(POLL.min(timeout.saturating_sub(waited))).await;
    }
}

/// The backend pid holding the advisory lock `key` in this database, if
/// one does (a bigint key is split into classid and objid, objsubid 1).
async fn holder(client: &Client, key: i64) -> Result<Option<i32>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
             AND classid::bigint = ($1::bigint >> 32) AND objid::bigint = ($1::bigint & 4294967295) \
             AND objsubid = 1 LIMIT 1",
            &[&key],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}
