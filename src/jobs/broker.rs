//! [`Broker`]: the one boundary between the runner and a queue. The worker
//! calls only these methods; each broker mode is a variant.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use uuid::Uuid;

use super::Job;
use super::postgres::PgBroker;
use crate::error::BoxError;

/// Where a worker gets its jobs from. A Redis mode is a second variant
/// here (see the [module docs](super)); the worker does not change.
#[derive(Debug, Clone)]
pub enum Broker {
    /// `JOBS_BROKER=postgres`: the `jobs` table, woken by `LISTEN/NOTIFY`.
    Postgres {
        /// The queue.
        queue: PgBroker,
        /// Signalled when a notification arrives.
        wake: Arc<Notify>,
    },
}

impl Broker {
    /// The broker's name, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Postgres { .. } => "postgres",
        }
    }

    /// Claims up to `limit` due jobs, each leased to this worker.
    pub async fn claim(&self, limit: usize) -> Result<Vec<Job>, BoxError> {
        match self {
            Self::Postgres { queue, .. } => queue.claim(limit).await,
        }
    }

    /// Waits until new work may be there, or `poll` passes.
    pub async fn wait(&self, poll: Duration) {
        match self {
            Self::Postgres { wake, .. } => {
                let _ = tokio::time::timeout(poll, wake.notified()).await;
            }
        }
    }

    /// Renews the lease on `id`; `false` if it was lost.
    pub async fn heartbeat(&self, id: Uuid) -> Result<bool, BoxError> {
        match self {
            Self::Postgres { queue, .. } => queue.heartbeat(id).await,
        }
    }

    /// Acknowledges `id` as done.
    pub async fn succeed(&self, id: Uuid) -> Result<(), BoxError> {
        match self {
            Self::Postgres { queue, .. } => queue.succeed(id).await,
        }
    }

    /// Records a failed attempt at `id`; `last`: dead-letter it, otherwise
    /// retry after `delay`.
    pub async fn fail(
        &self,
        id: Uuid,
        error: &str,
        last: bool,
        delay: Duration,
    ) -> Result<(), BoxError> {
        match self {
            Self::Postgres { queue, .. } => queue.fail(id, error, last, delay).await,
        }
    }

    /// Drops `id`: nothing is left to do.
    pub async fn cancel(&self, id: Uuid) -> Result<(), BoxError> {
        match self {
            Self::Postgres { queue, .. } => queue.cancel(id).await,
        }
    }

    /// How many jobs are pending (due now or waiting for a retry).
    pub async fn pending(&self) -> Result<i64, BoxError> {
        match self {
            Self::Postgres { queue, .. } => queue.pending().await,
        }
    }

    /// Closes the broker's connections (the worker has stopped).
    pub fn close(&self) {
        match self {
            Self::Postgres { queue, .. } => queue.close(),
        }
    }

    /// Gives `id` back unfinished, for another worker to run.
    pub async fn release(&self, id: Uuid) -> Result<(), BoxError> {
        match self {
            Self::Postgres { queue, .. } => queue.release(id).await,
        }
    }
}
