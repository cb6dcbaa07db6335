//! The queue-depth gauge, `jobs.queue.depth`: the pending jobs (due now or
//! waiting for a retry), counted by the worker every [`INTERVAL`] (each
//! count bounded by the same interval) and kept in an atomic, so a scrape
//! or an export reads a number and never waits on the database.

use std::sync::Once;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use tokio::sync::watch;

use super::Broker;
use crate::telemetry::otel::metrics::instruments;

/// How often the worker counts the pending jobs.
pub const INTERVAL: Duration = Duration::from_secs(5);

/// The last count.
static DEPTH: AtomicI64 = AtomicI64::new(0);

/// The gauge is registered once per process, whatever runs the worker.
static REGISTER: Once = Once::new();

/// Counts the pending jobs through `broker` every [`INTERVAL`] until
/// `stop`; returns at once when metrics are off.
pub async fn run(broker: Broker, mut stop: watch::Receiver<bool>) {
    let Some(instruments) = instruments() else {
        return;
    };
    REGISTER.call_once(|| {
        instruments.gauge(
            "jobs.queue.depth",
            "Jobs waiting to run: due now or scheduled for a retry.",
            || DEPTH.load(Ordering::Relaxed),
        );
    });
    loop {
        match tokio::time::timeout(INTERVAL, broker.pending()).await {
            Ok(Ok(pending)) => DEPTH.store(pending, Ordering::Relaxed),
            Ok(Err(e)) => tracing::debug!(error = %e, "counting the pending jobs failed"),
            Err(_) => tracing::debug!("counting the pending jobs timed out"),
        }
        tokio::select! {
            () = tokio::time::sleep(INTERVAL) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}
