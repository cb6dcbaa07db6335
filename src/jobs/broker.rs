//! [`Broker`]: the one boundary between the runner and a queue. The worker
//! calls only these methods; each broker mode is a variant.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use super::Job;
use super::postgres::PgBroker;
use super::redis::RedisBroker;
use crate::error::BoxError;

/// Where a worker gets its jobs from.
#[derive(Debug, Clone)]
pub enum Broker {
    /// `JOBS_BROKER=postgres`: the `jobs` table, woken by `LISTEN/NOTIFY`.
    Postgres {
        /// The queue.
        queue: PgBroker,
        /// Signalled when a notification arrives.
        wake: Arc<Notify>,
    },
    /// `JOBS_BROKER=redis`: a Redis stream read in a consumer group; the
    /// jobs' state stays in the `jobs` table.
    Redis(Box<RedisBroker>),
}

impl Broker {
    /// The broker's name, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Postgres { .. } => "postgres",
            Self::Redis(_) => "redis",
        }
    }

    /// Claims up to `limit` due jobs, each leased to this worker. The
    /// Redis broker blocks on its stream for up to `poll` first.
    pub async fn claim(&self, limit: usize, poll: Duration) -> Result<Vec<Job>, BoxError> {
        match self {
            Self::Postgres { queue, .. } => queue.claim(limit).await,
            Self::Redis(stream) => stream.claim(limit, poll).await,
        }
    }

    /// Waits until new work may be there, or `poll` passes. The Redis
    /// broker's claim has already waited on the stream; it only yields, so
    /// a claim that came back at once (an entry whose job was done) never
    /// makes the worker's loop hold the thread.
    pub async fn wait(&self, poll: Duration) {
        match self {
            Self::Postgres { wake, .. } => {
                let _ = tokio::time::timeout(poll, wake.notified()).await;
            }
            Self::Redis(_) => tokio::task::yield_now().await,
        }
    }

    fn state(&self) -> &PgBroker {
        match self {
            Self::Postgres { queue, .. } => queue,
            Self::Redis(stream) => stream.state(),
        }
    }

    /// Renews the lease on `job`; `false` if it was lost.
    pub async fn heartbeat(&self, job: &Job) -> Result<bool, BoxError> {
        self.state().heartbeat(job.id).await
    }

    /// Acknowledges `job` as done.
    pub async fn succeed(&self, job: &Job) -> Result<(), BoxError> {
        self.state().succeed(job.id).await?;
        self.acknowledge(job).await
    }

    /// Records a failed attempt at `job`; `last`: dead-letter it, otherwise
    /// retry after `delay`.
    pub async fn fail(
        &self,
        job: &Job,
        error: &str,
        last: bool,
        delay: Duration,
    ) -> Result<(), BoxError> {
        self.state().fail(job.id, error, last, delay).await?;
        self.acknowledge(job).await
    }

    /// Drops `job`: nothing is left to do.
    pub async fn cancel(&self, job: &Job) -> Result<(), BoxError> {
        self.state().cancel(job.id).await?;
        self.acknowledge(job).await
    }

    /// Gives `job` back unfinished, for another worker to run.
    pub async fn release(&self, job: &Job) -> Result<(), BoxError> {
        self.state().release(job.id).await?;
        self.acknowledge(job).await
    }

    /// The job's state is recorded: its stream entry is done with.
    async fn acknowledge(&self, job: &Job) -> Result<(), BoxError> {
        match (self, &job.entry) {
            (Self::Redis(stream), Some(entry)) => stream.acknowledge(entry).await,
            _ => Ok(()),
        }
    }

    /// How many jobs are pending (due now or waiting for a retry).
    pub async fn pending(&self) -> Result<i64, BoxError> {
        self.state().pending().await
    }

    /// Whether the broker answers, for `/readyz` (the PostgreSQL broker is
    /// the database, which the probe checks anyway).
    pub async fn check(&self) -> Result<(), BoxError> {
        match self {
            Self::Postgres { queue, .. } => queue.check().await,
            Self::Redis(stream) => stream.check().await,
        }
    }

    /// Closes the broker's connections (the worker has stopped); the Redis
    /// broker also leaves its consumer group if it holds no entries.
    pub async fn close(&self) {
        match self {
            Self::Postgres { queue, .. } => queue.close(),
            Self::Redis(stream) => stream.close().await,
        }
    }
}
