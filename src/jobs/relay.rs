//! The relay (`JOBS_BROKER=redis`): adds due jobs from the `jobs` table —
//! the outbox the change's transaction wrote — to the Redis stream.
//!
//! One batch is one short transaction: the due, unleased jobs not relayed
//! yet are locked (`FOR UPDATE SKIP LOCKED`, so the relays of several
//! workers share the work), added to the stream (`XADD … MAXLEN ~`, the
//! job's id as the entry's field), then marked `relayed_at`. If Redis fails
//! the transaction rolls back and the batch is tried again; if the commit
//! fails after the `XADD`, the job is in the stream twice, and the second
//! entry finds it leased or done. A job still pending and unleased a lease
//! after it was relayed is relayed again (its entry was trimmed, or lost
//! with a Redis restart), so the stream may lose entries but the queue
//! loses no job.
//!
//! It wakes on the workers' `NOTIFY` (a change committed events) and polls
//! every [`super::worker::POLL_INTERVAL`] for retries falling due.

use std::sync::Arc;
use std::time::Duration;

use ::redis::streams::StreamMaxlen;
use tokio::sync::{Notify, watch};
use tokio_postgres::types::Type;
use uuid::Uuid;

use super::redis::{COMMAND_TIMEOUT, FIELD, Redis, STREAM};
use super::worker::POLL_INTERVAL;
use crate::db::Pool;
use crate::error::BoxError;

/// Jobs relayed per transaction.
pub const BATCH: usize = 256;

/// The stream's approximate length cap (`MAXLEN ~`): far more than a
/// healthy queue holds; an entry trimmed unread is relayed again.
pub const MAX_LEN: usize = 100_000;

/// `$1`: the lease in milliseconds; `$2`: the batch size.
const DUE: &str = "SELECT id FROM jobs WHERE state = 'pending' AND run_at <= clock_timestamp() \
     AND (locked_until IS NULL OR locked_until < clock_timestamp()) \
     AND (relayed_at IS NULL OR relayed_at < clock_timestamp() - $1 * interval '1 millisecond') \
     ORDER BY run_at LIMIT $2 FOR UPDATE SKIP LOCKED";

const MARK: &str = "UPDATE jobs SET relayed_at = clock_timestamp() WHERE id = ANY ($1)";

/// Moves due jobs from `pool`'s `jobs` table to the stream on `redis`.
#[derive(Debug, Clone)]
pub struct Relay {
    pool: Pool,
    redis: Redis,
    lease: Duration,
}

impl Relay {
    /// The relay of `pool`'s jobs to `redis`; `lease` is how long a relayed
    /// job may wait unclaimed before it is relayed again.
    pub fn new(pool: Pool, redis: Redis, lease: Duration) -> Self {
        Self { pool, redis, lease }
    }

    /// Relays until `stop`, woken by `wake` or every poll interval.
    pub async fn run(self, wake: Arc<Notify>, mut stop: watch::Receiver<bool>) {
        loop {
            let relayed = match self.relay_batch().await {
                Ok(relayed) => relayed,
                Err(e) => {
                    tracing::warn!(error = %crate::error::error_chain(&*e), "relaying jobs failed");
                    0
                }
            };
            if *stop.borrow() {
                return;
            }
            if relayed == BATCH {
                continue;
            }
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep(POLL_INTERVAL) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    }

    /// Relays one batch; returns how many jobs it held.
    pub async fn relay_batch(&self) -> Result<usize, BoxError> {
        let db = self.pool.db().await?;
        let tx = db.begin().await?;
        let result = async {
            let lease = self.lease.as_secs_f64() * 1000.0;
            let batch = i64::try_from(BATCH).unwrap_or(i64::MAX);
            let rows = tx
                .query(DUE, &[(&lease, Type::FLOAT8), (&batch, Type::INT8)])
                .await?;
            let ids = rows
                .iter()
                .map(|row| row.try_get(0))
                .collect::<Result<Vec<Uuid>, _>>()?;
            if ids.is_empty() {
                return Ok(0);
            }
            let mut pipe = ::redis::pipe();
            for id in &ids {
                pipe.xadd_maxlen(
                    STREAM,
                    StreamMaxlen::Approx(MAX_LEN),
                    "*",
                    &[(FIELD, id.to_string())],
                )
                .ignore();
            }
            let adding = async {
                let mut commands = self.redis.commands().await?;
                pipe.query_async::<()>(&mut commands).await?;
                Ok::<_, BoxError>(())
            };
            tokio::time::timeout(COMMAND_TIMEOUT, adding)
                .await
                .map_err(|_| format!("no answer to XADD within {COMMAND_TIMEOUT:?}"))??;
            tx.execute(MARK, &[(&ids, Type::UUID_ARRAY)]).await?;
            Ok::<_, BoxError>(ids.len())
        }
        .await;
        tx.finish(result).await
    }
}
