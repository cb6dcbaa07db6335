//! The Redis broker (`JOBS_BROKER=redis`): the [`relay`](super::relay)
//! adds due jobs to the stream [`STREAM`]; workers read it in the consumer
//! group [`GROUP`] and take the job's lease in PostgreSQL before running
//! it, so the jobs' state (attempts, status, last error) is the same in
//! both modes.
//!
//! - Reads block (`XREADGROUP … BLOCK`) on a connection of their own with no
//!   response timeout: the multiplexed connection's default of 500 ms would
//!   cut every blocking read short. Other commands (`XACK`, `XAUTOCLAIM`,
//!   the relay's `XADD`) go through a [`ConnectionManager`], which
//!   reconnects by itself.
//! - An entry whose job is done, cancelled or scheduled for a retry is
//!   acknowledged at once; one whose job another worker holds a live lease
//!   on stays pending, so it is reclaimed (`XAUTOCLAIM`, after a lease's
//!   worth of idleness) if that worker dies.
//! - When the group is missing (first start, Redis restarted without
//!   persistence, the stream deleted), it is created again and every
//!   pending, unleased job is marked for relaying again: nothing the stream
//!   lost is lost.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use ::redis::streams::{
    StreamAutoClaimOptions, StreamAutoClaimReply, StreamId, StreamReadOptions, StreamReadReply,
};
use ::redis::{AsyncCommands, AsyncConnectionConfig, Client, RedisError, TlsCertificates};
use tokio::sync::{Mutex, Notify};
use uuid::Uuid;

use super::Job;
use super::postgres::PgBroker;
use crate::config::{RedisCa, RedisUrl};
use crate::error::BoxError;

/// The stream jobs are relayed to.
pub const STREAM: &str = "backend:jobs";
/// The consumer group every worker reads the stream in.
pub const GROUP: &str = "backend:workers";
/// The field of an entry that names its job.
pub const FIELD: &str = "job";

/// How long a non-blocking command may take before its connection is
/// deemed broken.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);

/// The longest a worker waits between two reclaims of dead consumers'
/// entries (shorter when the lease is).
const RECLAIM_INTERVAL: Duration = Duration::from_secs(5);

/// `step`, failed if it takes longer than [`COMMAND_TIMEOUT`] (a
/// connection being re-made waits for its connect timeout first).
async fn bounded<T>(
    step: &'static str,
    step_future: impl Future<Output = Result<T, BoxError>>,
) -> Result<T, BoxError> {
    tokio::time::timeout(COMMAND_TIMEOUT, step_future)
        .await
        .map_err(|_| format!("no answer to {step} within {COMMAND_TIMEOUT:?}"))?
}

/// Connections to one Redis server, shared by a worker's consumer and its
/// relay.
#[derive(Clone)]
pub struct Redis {
    client: Client,
    connect_timeout: Duration,
    commands: Arc<Mutex<Option<ConnectionManager>>>,
}

impl fmt::Debug for Redis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redis").finish_non_exhaustive()
    }
}

impl Redis {
    /// The server at `url` (its certificate checked against `ca` when
    /// given, otherwise Mozilla's roots); nothing is connected until first
    /// use.
    pub fn new(
        url: &RedisUrl,
        ca: Option<&RedisCa>,
        connect_timeout: Duration,
    ) -> Result<Self, BoxError> {
        let client = match ca {
            Some(ca) => Client::build_with_tls(
                url.as_str(),
                TlsCertificates {
                    client_tls: None,
                    root_cert: Some(ca.pem().to_vec()),
                },
            )?,
            None => Client::open(url.as_str())?,
        };
        Ok(Self {
            client,
            connect_timeout,
            commands: Arc::default(),
        })
    }

    /// The connection for non-blocking commands, made on first use.
    pub async fn commands(&self) -> Result<ConnectionManager, BoxError> {
        let mut slot = self.commands.lock().await;
        if let Some(manager) = &*slot {
            return Ok(manager.clone());
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.connect_timeout))
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            .set_number_of_retries(1);
        let manager = self
            .client
            .get_connection_manager_with_config(config)
            .await?;
        *slot = Some(manager.clone());
        Ok(manager)
    }

    /// A new connection for blocking reads: no response timeout.
    async fn blocking(&self) -> Result<MultiplexedConnection, RedisError> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.connect_timeout))
            .set_response_timeout(None);
        self.client
            .get_multiplexed_async_connection_with_config(&config)
            .await
    }
}

/// Where the reclaim of dead consumers' entries stands.
struct Reclaim {
    next: Instant,
    cursor: String,
}

/// The Redis queue, as seen by one worker.
#[derive(Clone)]
pub struct RedisBroker {
    redis: Redis,
    state: PgBroker,
    consumer: String,
    lease: Duration,
    reader: Arc<Mutex<Option<MultiplexedConnection>>>,
    reclaim: Arc<Mutex<Reclaim>>,
    relay: Arc<Notify>,
}

impl fmt::Debug for RedisBroker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisBroker")
            .field("consumer", &self.consumer)
            .finish_non_exhaustive()
    }
}

impl RedisBroker {
    /// The consumer `consumer` of the stream on `redis`, keeping the jobs'
    /// state through `state` (leases of `lease`); `relay` is woken when
    /// jobs must be relayed again.
    pub fn new(
        redis: Redis,
        state: PgBroker,
        consumer: String,
        lease: Duration,
        relay: Arc<Notify>,
    ) -> Self {
        Self {
            redis,
            state,
            consumer,
            lease,
            reader: Arc::default(),
            reclaim: Arc::new(Mutex::new(Reclaim {
                next: Instant::now(),
                cursor: "0-0".into(),
            })),
            relay,
        }
    }

    /// The jobs' state in PostgreSQL.
    pub fn state(&self) -> &PgBroker {
        &self.state
    }

    /// Claims up to `limit` jobs: entries of dead consumers first (now and
    /// then), otherwise new entries, waiting up to `block` for them.
    pub async fn claim(&self, limit: usize, block: Duration) -> Result<Vec<Job>, BoxError> {
        let mut entries = bounded("XAUTOCLAIM", self.reclaim(limit)).await?;
        if entries.is_empty() {
            entries = self.read(limit, block).await?;
        }
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        self.lease(entries).await
    }

    /// `XAUTOCLAIM`, when due: entries idle for a lease (their consumer
    /// died, or left them while another worker ran the job).
    async fn reclaim(&self, limit: usize) -> Result<Vec<StreamId>, BoxError> {
        let mut reclaim = self.reclaim.lock().await;
        if Instant::now() < reclaim.next {
            return Ok(Vec::new());
        }
        reclaim.next = Instant::now() + RECLAIM_INTERVAL.min(self.lease / 2);
        let mut commands = self.redis.commands().await?;
        let idle = u64::try_from(self.lease.as_millis()).unwrap_or(u64::MAX);
        let reply: Result<StreamAutoClaimReply, RedisError> = commands
            .xautoclaim_options(
                STREAM,
                GROUP,
                &self.consumer,
                idle,
                &reclaim.cursor,
                StreamAutoClaimOptions::default().count(limit),
            )
            .await;
        match reply {
            Ok(reply) => {
                reclaim.cursor = reply.next_stream_id;
                Ok(reply.claimed)
            }
            Err(e) if e.code() == Some("NOGROUP") => Ok(Vec::new()),
            Err(e) => Err(e.into()),
        }
    }

    /// `XREADGROUP … BLOCK` on the reading connection (made again after a
    /// failure).
    async fn read(&self, limit: usize, block: Duration) -> Result<Vec<StreamId>, BoxError> {
        let mut slot = self.reader.lock().await;
        let mut reader = match &*slot {
            Some(reader) => reader.clone(),
            None => {
                let reader = self.redis.blocking().await?;
                *slot = Some(reader.clone());
                reader
            }
        };
        let options = StreamReadOptions::default()
            .group(GROUP, &self.consumer)
            .count(limit)
            .block(usize::try_from(block.as_millis()).unwrap_or(usize::MAX));
        let reading =
            reader.xread_options::<_, _, Option<StreamReadReply>>(&[STREAM], &[">"], &options);
        match tokio::time::timeout(block + COMMAND_TIMEOUT, reading).await {
            Ok(Ok(reply)) => Ok(reply
                .into_iter()
                .flat_map(|reply| reply.keys)
                .flat_map(|key| key.ids)
                .collect()),
            Ok(Err(e)) if e.code() == Some("NOGROUP") => {
                drop(slot);
                bounded("XGROUP CREATE", self.create_group()).await?;
                Ok(Vec::new())
            }
            Ok(Err(e)) => {
                *slot = None;
                Err(e.into())
            }
            Err(_) => {
                *slot = None;
                Err(format!("no answer to XREADGROUP within {COMMAND_TIMEOUT:?}").into())
            }
        }
    }

    /// Creates the group (and the stream, if missing), reading from the
    /// stream's start, and has every pending, unleased job relayed again:
    /// what the stream held before is unknown. Another worker may have
    /// created it first. An entry both read and relayed again finds its
    /// job leased or done the second time.
    async fn create_group(&self) -> Result<(), BoxError> {
        let mut commands = self.redis.commands().await?;
        let created: Result<(), RedisError> =
            commands.xgroup_create_mkstream(STREAM, GROUP, "0").await;
        match created {
            Ok(()) => {
                let marked = self.state.relay_again().await?;
                tracing::info!(
                    stream = STREAM,
                    group = GROUP,
                    jobs = marked,
                    "created the consumer group; relaying pending jobs again"
                );
                self.relay.notify_one();
                Ok(())
            }
            Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Leases the jobs `entries` name; acknowledges the entries whose job
    /// is done with, keeps those whose job another worker runs.
    async fn lease(&self, entries: Vec<StreamId>) -> Result<Vec<Job>, BoxError> {
        let mut named = Vec::with_capacity(entries.len());
        let mut stale = Vec::new();
        for entry in entries {
            match entry
                .get::<String>(FIELD)
                .and_then(|v| v.parse::<Uuid>().ok())
            {
                Some(id) => named.push((entry.id, id)),
                None => {
                    tracing::warn!(entry = %entry.id, "a stream entry names no job; dropped");
                    stale.push(entry.id);
                }
            }
        }
        let ids: Vec<Uuid> = named.iter().map(|(_, id)| *id).collect();
        let (leased, busy) = self.state.lease(&ids).await?;
        let mut leased: HashMap<Uuid, Job> = leased.into_iter().map(|job| (job.id, job)).collect();
        let mut jobs = Vec::with_capacity(leased.len());
        for (entry, id) in named {
            if let Some(mut job) = leased.remove(&id) {
                job.entry = Some(entry);
                jobs.push(job);
            } else if !busy.contains(&id) {
                // Done, cancelled, due later, or a second entry of a job
                // leased just now (its first entry covers it).
                stale.push(entry);
            }
        }
        if !stale.is_empty() {
            bounded("XACK", self.acknowledge_all(&stale)).await?;
        }
        Ok(jobs)
    }

    /// `XACK`s `entry`.
    pub async fn acknowledge(&self, entry: &str) -> Result<(), BoxError> {
        bounded("XACK", self.acknowledge_all(&[entry])).await
    }

    async fn acknowledge_all<E: ::redis::ToRedisArgs + Send + Sync>(
        &self,
        entries: &[E],
    ) -> Result<(), BoxError> {
        let mut commands = self.redis.commands().await?;
        let _: usize = commands.xack(STREAM, GROUP, entries).await?;
        Ok(())
    }

    /// `PING`, for `/readyz`.
    pub async fn check(&self) -> Result<(), BoxError> {
        let mut commands = self.redis.commands().await?;
        let _: String = ::redis::cmd("PING").query_async(&mut commands).await?;
        Ok(())
    }

    /// Closes the connections; leaves the group when this consumer holds
    /// no entries (otherwise they wait to be reclaimed).
    pub async fn close(&self) {
        self.state.close();
        *self.reader.lock().await = None;
        let leave = async {
            let mut commands = self.redis.commands().await?;
            let held: ::redis::streams::StreamPendingCountReply = commands
                .xpending_consumer_count(STREAM, GROUP, "-", "+", 1, &self.consumer)
                .await?;
            if held.ids.is_empty() {
                let _: usize = commands
                    .xgroup_delconsumer(STREAM, GROUP, &self.consumer)
                    .await?;
            }
            Ok::<_, BoxError>(())
        };
        match tokio::time::timeout(COMMAND_TIMEOUT, leave).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::debug!(error = %e, "leaving the consumer group failed"),
            Err(_) => tracing::debug!("leaving the consumer group timed out"),
        }
    }
}
