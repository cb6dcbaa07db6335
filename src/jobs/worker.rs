//! [`Worker`]: claims jobs, runs up to `WORKER_CONCURRENCY` at once, renews
//! their leases, records their outcomes, and stops gracefully.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinSet;
use uuid::Uuid;

use super::postgres::PgBroker;
use super::redis::{Redis, RedisBroker};
use super::relay::Relay;
use super::{Broker, Handlers, Job, Outcome, backoff, depth, listen};
use crate::config::{JobsBroker, Settings};
use crate::db::Pool;

/// How often an idle worker looks for due jobs when no notification came
/// (retries fall due without one; a lost `LISTEN` connection is covered).
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// A job runner; see the [module docs](super).
#[derive(Debug)]
pub struct Worker {
    broker: Broker,
    handlers: Handlers,
    concurrency: usize,
    lease: Duration,
    shutdown_timeout: Duration,
}

/// Why a worker cannot start.
#[derive(Debug)]
pub struct StartError(pub String);

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartError {}

impl Worker {
    /// A worker on the broker `settings` name, with `handlers`. Its `LISTEN`
    /// connection (and with the Redis broker, its relay) runs until `stop`.
    pub fn start(
        settings: &Settings,
        pool: Pool,
        handlers: Handlers,
        stop: watch::Receiver<bool>,
    ) -> Result<Self, StartError> {
        let name = format!("{}-{}", std::process::id(), Uuid::new_v4().simple());
        let wake = Arc::new(Notify::new());
        tokio::spawn(listen::run(
            settings.clone(),
            Arc::clone(&wake),
            stop.clone(),
        ));
        let state = PgBroker::new(pool.clone(), name.clone(), settings.jobs.lease);
        let broker = match &settings.jobs.broker {
            JobsBroker::Postgres => Broker::Postgres { queue: state, wake },
            JobsBroker::Redis { url, ca } => {
                let redis = Redis::new(url, ca.as_ref(), settings.connect_timeout)
                    .map_err(|e| StartError(format!("REDIS_URL: {e}")))?;
                let relay = Relay::new(pool, redis.clone(), settings.jobs.lease);
                tokio::spawn(relay.run(Arc::clone(&wake), stop));
                Broker::Redis(Box::new(RedisBroker::new(
                    redis,
                    state,
                    name,
                    settings.jobs.lease,
                    wake,
                )))
            }
        };
        Ok(Self {
            broker,
            handlers,
            concurrency: settings.jobs.concurrency,
            lease: settings.jobs.lease,
            shutdown_timeout: settings.shutdown_timeout,
        })
    }

    /// The broker it takes jobs from (for `/readyz`).
    pub fn broker(&self) -> &Broker {
        &self.broker
    }

    /// Runs jobs until `stop` turns true; then waits up to
    /// `SHUTDOWN_TIMEOUT_MS` for the running ones and releases the rest.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let this = Arc::new(self);
        let permits = Arc::new(Semaphore::new(this.concurrency));
        let held: Arc<Mutex<HashMap<Uuid, Job>>> = Arc::default();
        let mut running = JoinSet::new();
        tracing::info!(
            broker = this.broker.name(),
            concurrency = this.concurrency,
            "worker started"
        );
        tokio::spawn(depth::run(this.broker.clone(), stop.clone()));
        let mut stopping = *stop.borrow();
        while !stopping {
            let free = permits.available_permits();
            if free == 0 {
                // Every place taken: wait for one to free up, not for work.
                tokio::select! {
                    _ = running.join_next() => {}
                    _ = stop.wait_for(|s| *s) => stopping = true,
                }
                continue;
            }
            let mut claimed = 0;
            let mut failed = false;
            match this.broker.claim(free, POLL_INTERVAL).await {
                Ok(jobs) => {
                    claimed = jobs.len();
                    for job in jobs {
                        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
                            break;
                        };
                        lock(&held).insert(job.id, job.clone());
                        let (this, held) = (Arc::clone(&this), Arc::clone(&held));
                        running.spawn(async move {
                            let id = job.id;
                            this.attempt(job).await;
                            lock(&held).remove(&id);
                            drop(permit);
                        });
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "claiming jobs failed");
                    failed = true;
                }
            }
            if claimed == free {
                // Probably more due: claim again as soon as a place frees up.
                continue;
            }
            let wait = async {
                if failed {
                    tokio::time::sleep(POLL_INTERVAL).await;
                } else {
                    this.broker.wait(POLL_INTERVAL).await;
                }
            };
            tokio::select! {
                () = wait => {}
                Some(_) = running.join_next(), if !running.is_empty() => {}
                _ = stop.wait_for(|s| *s) => stopping = true,
            }
        }
        let drained = tokio::time::timeout(this.shutdown_timeout, async {
            while running.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            running.abort_all();
            let jobs: Vec<Job> = lock(&held).drain().map(|(_, job)| job).collect();
            for job in jobs {
                if let Err(e) = this.broker.release(&job).await {
                    tracing::warn!(job = %job.id, error = %e, "releasing a job failed");
                }
            }
        }
        this.broker.close().await;
        tracing::info!("worker stopped");
    }

    /// One attempt at `job`, its lease renewed meanwhile, its outcome
    /// recorded.
    async fn attempt(&self, job: Job) {
        let Some(handler) = self.handlers.get(&job.kind) else {
            let error = format!("no handler for job kind {:?}", job.kind);
            self.record(&job, Outcome::Failed(error), true, Duration::ZERO)
                .await;
            return;
        };
        let policy = handler.retry();
        if job.attempt > policy.max_attempts {
            // Its worker died during the last attempt.
            let error = "the last attempt's worker stopped before it ended".to_owned();
            self.record(&job, Outcome::Failed(error), true, Duration::ZERO)
                .await;
            return;
        }
        let heartbeat = async {
            loop {
                tokio::time::sleep(self.lease / 3).await;
                match self.broker.heartbeat(&job).await {
                    Ok(true) => {}
                    Ok(false) => tracing::debug!(job = %job.id, "lease lost or job cancelled"),
                    Err(e) => tracing::warn!(job = %job.id, error = %e, "heartbeat failed"),
                }
            }
        };
        let outcome = tokio::select! {
            outcome = handler.run(job.clone()) => outcome,
            () = heartbeat => unreachable!("the heartbeat never ends"),
        };
        let last = job.attempt >= policy.max_attempts;
        let delay = backoff::delay(policy.base, job.attempt, backoff::unit());
        self.record(&job, outcome, last, delay).await;
    }

    async fn record(&self, job: &Job, outcome: Outcome, last: bool, delay: Duration) {
        let result = match &outcome {
            Outcome::Succeeded => self.broker.succeed(job).await,
            Outcome::Failed(error) => self.broker.fail(job, error, last, delay).await,
            Outcome::Cancelled => self.broker.cancel(job).await,
        };
        match result {
            Ok(()) => {
                tracing::debug!(job = %job.id, attempt = job.attempt, ?outcome, "job attempt ended");
            }
            // The lease will expire and the job run again: at least once.
            Err(e) => tracing::warn!(job = %job.id, error = %e, "recording a job's outcome failed"),
        }
    }
}

fn lock(held: &Mutex<HashMap<Uuid, Job>>) -> std::sync::MutexGuard<'_, HashMap<Uuid, Job>> {
    held.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
