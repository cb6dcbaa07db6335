//! A log writer that never makes a request wait and never wakes a thread per
//! line: lines are appended to a shared buffer, and a background thread
//! writes the buffer out every few milliseconds, in one system call.
//!
//! tracing-appender's non-blocking writer wakes its worker through a channel
//! for nearly every line under load: a futex and two context switches each,
//! which measured as a large share of the server's CPU per request
//! (`make loadtest`). Batching by time removes them; a line reaches stdout
//! at most [`FLUSH_INTERVAL`] later.
//!
//! If the output stalls (a blocked pipe) the buffer stops growing at
//! [`MAX_BUFFERED_BYTES`] and further lines are dropped and counted, never
//! waited for. The count is reported in a warning line of the configured
//! format (JSON or pretty, with a timestamp like every other line): the
//! first drops at once, then at most once per [`DROP_REPORT_INTERVAL`]
//! while drops continue, so the report cannot itself become a flood; what
//! is still unreported when the writer stops is reported then.

use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tracing_subscriber::fmt::MakeWriter;

use crate::config::LogFormat;
use crate::timestamp::Timestamp;

/// How often buffered lines are written out.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(10);

/// The most bytes held while the output is stalled; beyond, lines are dropped.
pub const MAX_BUFFERED_BYTES: usize = 8 * 1024 * 1024;

/// The shortest time between two reports of dropped lines.
pub const DROP_REPORT_INTERVAL: Duration = Duration::from_secs(10);

#[derive(Debug, Default)]
struct Shared {
    buffer: Mutex<Vec<u8>>,
    dropped: AtomicU64,
}

/// The writing side, handed to the tracing layers; cheap to clone.
#[derive(Debug, Clone)]
pub struct BatchWriter {
    shared: Arc<Shared>,
}

/// How long dropping the guard waits for the last flush: a stdout nobody
/// reads (a full pipe) must not hold up the process's exit.
pub const FINAL_FLUSH_TIMEOUT: Duration = Duration::from_secs(1);

/// Owns the flushing thread; dropping it writes out what is left (waiting at
/// most [`FINAL_FLUSH_TIMEOUT`]) and stops.
#[derive(Debug)]
pub struct BatchGuard {
    stop: Option<mpsc::Sender<()>>,
    done: mpsc::Receiver<()>,
    thread: Option<JoinHandle<()>>,
}

/// Starts the flushing thread writing to `output`; reports of dropped lines
/// are written in `format`.
pub fn batch_writer<W: Write + Send + 'static>(
    mut output: W,
    format: LogFormat,
) -> (BatchWriter, BatchGuard) {
    let shared = Arc::new(Shared::default());
    let writer = BatchWriter {
        shared: Arc::clone(&shared),
    };
    let (stop, stopped) = mpsc::channel::<()>();
    let (finished, done) = mpsc::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("log-writer".into())
        .spawn(move || {
            let mut spare = Vec::new();
            let mut drops = DropReport::new(format, DROP_REPORT_INTERVAL);
            loop {
                let last = !matches!(
                    stopped.recv_timeout(FLUSH_INTERVAL),
                    Err(RecvTimeoutError::Timeout)
                );
                flush(&shared, &mut spare, &mut output, &mut drops, last);
                if last {
                    let _ = finished.send(());
                    return;
                }
            }
        })
        .ok();
    let guard = BatchGuard {
        stop: Some(stop),
        done,
        thread,
    };
    (writer, guard)
}

/// Swaps the shared buffer for `spare` and writes it out, with a report of
/// dropped lines when one is due (always on the `last` flush).
fn flush(
    shared: &Shared,
    spare: &mut Vec<u8>,
    output: &mut impl Write,
    drops: &mut DropReport,
    last: bool,
) {
    if let Ok(mut buffer) = shared.buffer.lock() {
        std::mem::swap(&mut *buffer, spare);
    }
    let dropped = shared.dropped.swap(0, Ordering::Relaxed);
    if let Some(count) = drops.count(dropped, Instant::now(), last) {
        spare.extend_from_slice(drops.line(count, Timestamp::now()).as_bytes());
    }
    if !spare.is_empty() {
        let _ = output.write_all(spare);
        let _ = output.flush();
        spare.clear();
        // Keep a steady-state allocation, not the peak of a burst.
        spare.shrink_to(64 * 1024);
    }
}

/// Counts dropped lines between reports and writes the report.
#[derive(Debug)]
struct DropReport {
    format: LogFormat,
    interval: Duration,
    pending: u64,
    last_report: Option<Instant>,
}

impl DropReport {
    fn new(format: LogFormat, interval: Duration) -> Self {
        Self {
            format,
            interval,
            pending: 0,
            last_report: None,
        }
    }

    /// Adds `dropped` lines; returns the count to report now, if a report is
    /// due: some lines are unreported and none was made within the
    /// interval, or this is the `last` chance.
    fn count(&mut self, dropped: u64, now: Instant, last: bool) -> Option<u64> {
        self.pending += dropped;
        let due = self
            .last_report
            .is_none_or(|at| now.duration_since(at) >= self.interval);
        if self.pending == 0 || !(due || last) {
            return None;
        }
        self.last_report = Some(now);
        Some(std::mem::take(&mut self.pending))
    }

    /// The warning line for `dropped` lines, stamped `at`.
    fn line(&self, dropped: u64, at: Timestamp) -> String {
        const TARGET: &str = "backend::telemetry";
        const MESSAGE: &str = "log lines dropped: the log output could not keep up";
        let at = at.to_rfc3339();
        match self.format {
            LogFormat::Json => format!(
                "{{\"timestamp\":\"{}\",\"level\":\"WARN\",\"target\":\"{TARGET}\",\"message\":\"{MESSAGE}\",\"dropped\":{dropped}}}\n",
                at.as_str()
            ),
            LogFormat::Pretty => {
                format!(
                    "{}  WARN {TARGET}: {MESSAGE} dropped={dropped}\n",
                    at.as_str()
                )
            }
        }
    }
}

impl Drop for BatchGuard {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            // Join only once the thread said it is done: a write blocked on
            // a full pipe would otherwise hold up the exit forever.
            if self.done.recv_timeout(FINAL_FLUSH_TIMEOUT).is_ok() {
                let _ = thread.join();
            }
        }
    }
}

impl Write for BatchWriter {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        match self.shared.buffer.lock() {
            Ok(mut buffer) if buffer.len() + line.len() <= MAX_BUFFERED_BYTES => {
                buffer.extend_from_slice(line);
            }
            _ => {
                self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BatchWriter {
    type Writer = Self;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[cfg(test)]
mod tests;
