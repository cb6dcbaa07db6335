//! The generic job runner: jobs are claimed from a broker, run by the
//! [`Handler`] of their kind, and acknowledged, retried with exponential
//! backoff, or dead-lettered (`failed`) after their last attempt.
//!
//! - [`Broker`] is the boundary to the queue: claim (with a lease), succeed,
//!   fail (retry or dead letter), heartbeat, release, and waiting for work.
//!   Today it is PostgreSQL ([`postgres`]): `FOR UPDATE SKIP LOCKED` in a
//!   short transaction sets a lease (`locked_until`) instead of holding row
//!   locks while the job runs, `LISTEN/NOTIFY` wakes idle workers, and a
//!   poll every [`worker::POLL_INTERVAL`] is the fallback.
//! - With `JOBS_BROKER=redis` ([`redis`]) a [`relay`] adds the due jobs
//!   of the same table to a Redis stream, and workers read it in a consumer
//!   group (`XREADGROUP … BLOCK` on a connection of their own, reclaiming
//!   dead consumers' entries with `XAUTOCLAIM`). A worker then takes the
//!   same lease on the job's row, so attempts, status and errors live in
//!   PostgreSQL in both modes, and acknowledges the entry (`XACK`) once the
//!   outcome is recorded. PostgreSQL stays the truth: an entry lost with a
//!   Redis restart is relayed again.
//! - [`worker::Worker`] runs up to `WORKER_CONCURRENCY` jobs at once,
//!   renews each lease while its job runs, and on shutdown finishes or
//!   releases what it holds within `SHUTDOWN_TIMEOUT_MS`. When metrics
//!   are on it also counts the pending jobs for the queue-depth gauge
//!   ([`depth`]).
//!
//! Jobs live in one generic `jobs` table (state, attempts, schedule, lease,
//! last error); what a kind needs beyond that lives in its own table keyed
//! by the job's id (webhook deliveries: `webhook_deliveries`). The claim
//! query then never changes when a kind is added, and the delivery log the
//! API shows is a join.

pub mod backoff;
pub mod broker;
pub mod depth;
pub mod listen;
pub mod postgres;
pub mod redis;
pub mod relay;
pub mod worker;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use uuid::Uuid;

pub use broker::Broker;

use crate::http::BoxFuture;

/// A claimed job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// The job's id (for a delivery, the `webhook-id`).
    pub id: Uuid,
    /// Which [`Handler`] runs it.
    pub kind: String,
    /// This attempt's number, from 1.
    pub attempt: u32,
    /// The Redis stream entry that carried it (Redis mode), acknowledged
    /// once the attempt's outcome is recorded.
    pub entry: Option<String>,
}

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Done; never run again.
    Succeeded,
    /// Failed with this reason; retried unless it was the last attempt.
    Failed(String),
    /// Nothing left to do (e.g. its subscription was deleted): the job is
    /// removed.
    Cancelled,
}

/// How a kind's failures are retried: the n-th retry waits
/// `base × 2^(n−1)` ±25 %, up to `max_attempts` attempts in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The first retry's delay.
    pub base: std::time::Duration,
    /// Attempts in all before the job is `failed`.
    pub max_attempts: u32,
}

/// Runs the jobs of one kind.
pub trait Handler: Send + Sync + 'static {
    /// Makes one attempt at `job`. Must end on its own (deliveries bound
    /// each attempt by `WEBHOOK_TIMEOUT_MS`).
    fn run(&self, job: Job) -> BoxFuture<Outcome>;

    /// How failures of this kind are retried.
    fn retry(&self) -> RetryPolicy;
}

/// The handlers by job kind.
#[derive(Clone, Default)]
pub struct Handlers(HashMap<&'static str, Arc<dyn Handler>>);

impl Handlers {
    /// Adds the handler of `kind`.
    #[must_use]
    pub fn with(mut self, kind: &'static str, handler: impl Handler) -> Self {
        self.0.insert(kind, Arc::new(handler));
        self
    }

    /// These handlers and `other`'s (a kind in both: `other`'s).
    #[must_use]
    pub fn merge(mut self, other: Self) -> Self {
        self.0.extend(other.0);
        self
    }

    /// The handler of `kind`, if any.
    pub fn get(&self, kind: &str) -> Option<Arc<dyn Handler>> {
        self.0.get(kind).cloned()
    }
}

impl fmt::Debug for Handlers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}
