//! The PostgreSQL broker: the `jobs` table is the queue.
//!
//! A claim is one short statement: `FOR UPDATE SKIP LOCKED` picks due,
//! unleased jobs no other worker is claiming, and the same statement sets
//! the lease (`locked_by`, `locked_until`), counts the attempt and commits,
//! so no row lock is held while the job runs. Every later change names the
//! worker (`locked_by`), so a worker that lost its lease (it stalled past
//! `WORKER_LEASE_MS` and another took over) changes nothing.

use std::time::Duration;

use tokio_postgres::types::Type;
use uuid::Uuid;

use super::Job;
use crate::db::{Db, Pool};

/// The channel `NOTIFY` wakes workers on.
pub const CHANNEL: &str = "backend_jobs";

const CLAIM: &str = "WITH due AS (\
        SELECT id FROM jobs WHERE state = 'pending' AND run_at <= clock_timestamp() \
        AND (locked_until IS NULL OR locked_until < clock_timestamp()) \
        ORDER BY run_at LIMIT $2 FOR UPDATE SKIP LOCKED) \
     UPDATE jobs j SET locked_by = $1, \
        locked_until = clock_timestamp() + $3 * interval '1 millisecond', \
        attempts = j.attempts + 1, last_attempt_at = clock_timestamp() \
     FROM due WHERE j.id = due.id RETURNING j.id, j.kind, j.attempts";

const HEARTBEAT: &str = "UPDATE jobs SET locked_until = clock_timestamp() + $3 * interval '1 millisecond' \
     WHERE id = $1 AND locked_by = $2";

const SUCCEED: &str = "UPDATE jobs SET state = 'succeeded', last_error = NULL, \
     locked_by = NULL, locked_until = NULL WHERE id = $1 AND locked_by = $2";

/// `$3`: whether that was the last attempt; `$4`: the retry delay. A retry
/// is relayed again when it falls due (Redis mode).
const FAIL: &str = "UPDATE jobs SET state = CASE WHEN $3 THEN 'failed' ELSE 'pending' END, \
     run_at = clock_timestamp() + $4 * interval '1 millisecond', last_error = $5, \
     locked_by = NULL, locked_until = NULL, relayed_at = NULL \
     WHERE id = $1 AND locked_by = $2";

const PENDING: &str = "SELECT count(*) FROM jobs WHERE state = 'pending'";

const CANCEL: &str = "DELETE FROM jobs WHERE id = $1 AND locked_by = $2";

const RELEASE: &str = "UPDATE jobs SET locked_by = NULL, locked_until = NULL, relayed_at = NULL, \
     last_error = 'the worker shut down during the attempt' \
     WHERE id = $1 AND locked_by = $2";

/// The claim of jobs a stream delivered (Redis mode): the same lease as
/// [`CLAIM`], on the named jobs that are still pending, due and unleased.
/// The conditions are on the row itself, so a concurrent lease of the same
/// job is re-checked after its lock wait and only one wins.
const LEASE: &str = "UPDATE jobs SET locked_by = $1, \
        locked_until = clock_timestamp() + $3 * interval '1 millisecond', \
        attempts = attempts + 1, last_attempt_at = clock_timestamp() \
     WHERE id = ANY ($2) AND state = 'pending' AND run_at <= clock_timestamp() \
        AND (locked_until IS NULL OR locked_until < clock_timestamp()) \
     RETURNING id, kind, attempts";

/// Every pending, unleased job is to be relayed again (the stream was lost).
const RELAY_AGAIN: &str = "UPDATE jobs SET relayed_at = NULL WHERE state = 'pending' \
     AND relayed_at IS NOT NULL AND (locked_until IS NULL OR locked_until < clock_timestamp())";

/// Of the named jobs, those another worker holds a live lease on.
const BUSY: &str = "SELECT id FROM jobs WHERE id = ANY ($1) AND state = 'pending' \
     AND locked_until >= clock_timestamp()";

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// The job in a row of `id, kind, attempts`.
fn job(row: &tokio_postgres::Row) -> Result<Job, tokio_postgres::Error> {
    let attempts: i32 = row.try_get(2)?;
    Ok(Job {
        id: row.try_get(0)?,
        kind: row.try_get(1)?,
        attempt: u32::try_from(attempts).unwrap_or(0),
        entry: None,
    })
}

/// The PostgreSQL queue, as seen by one worker.
#[derive(Debug, Clone)]
pub struct PgBroker {
    pool: Pool,
    worker: String,
    lease: Duration,
}

impl PgBroker {
    /// The queue in `pool`, for the worker named `worker`, with leases of
    /// `lease`.
    pub fn new(pool: Pool, worker: String, lease: Duration) -> Self {
        Self {
            pool,
            worker,
            lease,
        }
    }

    async fn db(&self) -> Result<Db, crate::error::BoxError> {
        Ok(self.pool.db().await?)
    }

    /// Closes the pool.
    pub fn close(&self) {
        self.pool.close();
    }

    /// One round trip to the database.
    pub async fn check(&self) -> Result<(), crate::error::BoxError> {
        Ok(self.db().await?.ping().await?)
    }

    /// Claims up to `limit` due jobs.
    pub async fn claim(&self, limit: usize) -> Result<Vec<Job>, crate::error::BoxError> {
        let db = self.db().await?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = db
            .query(
                CLAIM,
                &[
                    (&self.worker, Type::TEXT),
                    (&limit, Type::INT8),
                    (&millis(self.lease), Type::FLOAT8),
                ],
            )
            .await?;
        Ok(rows.iter().map(job).collect::<Result<_, _>>()?)
    }

    /// Leases those of `ids` that are pending, due and unleased (a stream
    /// delivered them); returns them, and which of the others are leased
    /// by another worker right now (their stream entries must stay
    /// pending: that worker may die). The rest are done, cancelled or
    /// scheduled for a retry.
    pub async fn lease(
        &self,
        ids: &[Uuid],
    ) -> Result<(Vec<Job>, Vec<Uuid>), crate::error::BoxError> {
        let db = self.db().await?;
        let rows = db
            .query(
                LEASE,
                &[
                    (&self.worker, Type::TEXT),
                    (&ids, Type::UUID_ARRAY),
                    (&millis(self.lease), Type::FLOAT8),
                ],
            )
            .await?;
        let leased = rows.iter().map(job).collect::<Result<Vec<_>, _>>()?;
        if leased.len() == ids.len() {
            return Ok((leased, Vec::new()));
        }
        let rest: Vec<Uuid> = ids
            .iter()
            .filter(|id| !leased.iter().any(|job| job.id == **id))
            .copied()
            .collect();
        let busy = db.query(BUSY, &[(&rest, Type::UUID_ARRAY)]).await?;
        let busy = busy
            .iter()
            .map(|row| row.try_get(0))
            .collect::<Result<Vec<Uuid>, _>>()?;
        Ok((leased, busy))
    }

    /// Marks every pending, unleased job for relaying again (Redis mode,
    /// after the stream or its group was lost); returns how many.
    pub async fn relay_again(&self) -> Result<u64, crate::error::BoxError> {
        let db = self.db().await?;
        Ok(db.execute(RELAY_AGAIN, &[]).await?)
    }

    /// Renews the lease on `id`; `false` if this worker no longer holds it.
    pub async fn heartbeat(&self, id: Uuid) -> Result<bool, crate::error::BoxError> {
        let db = self.db().await?;
        let changed = db
            .execute(
                HEARTBEAT,
                &[
                    (&id, Type::UUID),
                    (&self.worker, Type::TEXT),
                    (&millis(self.lease), Type::FLOAT8),
                ],
            )
            .await?;
        Ok(changed == 1)
    }

    /// Marks `id` succeeded.
    pub async fn succeed(&self, id: Uuid) -> Result<(), crate::error::BoxError> {
        let db = self.db().await?;
        db.execute(SUCCEED, &[(&id, Type::UUID), (&self.worker, Type::TEXT)])
            .await?;
        Ok(())
    }

    /// Records a failed attempt: `failed` for good when `last`, otherwise
    /// due again `delay` from now.
    pub async fn fail(
        &self,
        id: Uuid,
        error: &str,
        last: bool,
        delay: Duration,
    ) -> Result<(), crate::error::BoxError> {
        let db = self.db().await?;
        db.execute(
            FAIL,
            &[
                (&id, Type::UUID),
                (&self.worker, Type::TEXT),
                (&last, Type::BOOL),
                (&millis(delay), Type::FLOAT8),
                (&error, Type::TEXT),
            ],
        )
        .await?;
        Ok(())
    }

    /// How many jobs are pending (read through the partial index of due
    /// jobs).
    pub async fn pending(&self) -> Result<i64, crate::error::BoxError> {
        let db = self.db().await?;
        Ok(db.query_one(PENDING, &[]).await?.try_get(0)?)
    }

    /// Removes `id`: there is nothing left to do.
    pub async fn cancel(&self, id: Uuid) -> Result<(), crate::error::BoxError> {
        let db = self.db().await?;
        db.execute(CANCEL, &[(&id, Type::UUID), (&self.worker, Type::TEXT)])
            .await?;
        Ok(())
    }

    /// Gives `id` back unfinished (shutdown): due again at once.
    pub async fn release(&self, id: Uuid) -> Result<(), crate::error::BoxError> {
        let db = self.db().await?;
        db.execute(RELEASE, &[(&id, Type::UUID), (&self.worker, Type::TEXT)])
            .await?;
        Ok(())
    }
}
