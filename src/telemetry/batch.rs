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
//! waited for; the count is reported once the output moves again.

use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// How often buffered lines are written out.
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(10);

/// The most bytes held while the output is stalled; beyond, lines are dropped.
pub const MAX_BUFFERED_BYTES: usize = 8 * 1024 * 1024;

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

/// Starts the flushing thread writing to `output`.
pub fn batch_writer<W: Write + Send + 'static>(mut output: W) -> (BatchWriter, BatchGuard) {
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
            loop {
                let last = !matches!(
                    stopped.recv_timeout(FLUSH_INTERVAL),
                    Err(RecvTimeoutError::Timeout)
                );
                flush(&shared, &mut spare, &mut output);
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

/// Swaps the shared buffer for `spare` and writes it out.
fn flush(shared: &Shared, spare: &mut Vec<u8>, output: &mut impl Write) {
    if let Ok(mut buffer) = shared.buffer.lock() {
        std::mem::swap(&mut *buffer, spare);
    }
    let dropped = shared.dropped.swap(0, Ordering::Relaxed);
    if dropped > 0 {
        let _ = writeln!(
            spare,
            "{{\"level\":\"WARN\",\"target\":\"backend::telemetry\",\"message\":\"log output stalled: {dropped} lines dropped\"}}"
        );
    }
    if !spare.is_empty() {
        let _ = output.write_all(spare);
        let _ = output.flush();
        spare.clear();
        // Keep a steady-state allocation, not the peak of a burst.
        spare.shrink_to(64 * 1024);
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
mod tests {
    use super::*;
    use crate::telemetry::MemoryWriter;

    #[test]
    fn lines_are_written_in_order_and_flushed_on_drop() {
        let sink = MemoryWriter::default();
        let (mut writer, guard) = batch_writer(sink.clone());
        for i in 0..1000 {
            writer.write_all(format!("line {i}\n").as_bytes()).unwrap();
        }
        drop(guard);
        let text = sink.contents();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 1000);
        assert_eq!(lines[999], "line 999");
    }

    #[test]
    fn lines_arrive_within_the_flush_interval() {
        let sink = MemoryWriter::default();
        let (mut writer, _guard) = batch_writer(sink.clone());
        writer.write_all(b"hello\n").unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while sink.contents().is_empty() && std::time::Instant::now() < deadline {
            std::thread::yield_now();
        }
        assert_eq!(sink.contents(), "hello\n");
    }

    /// An output that never accepts a byte, like a pipe nobody reads.
    struct Stuck;

    impl Write for Stuck {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            std::thread::park();
            Ok(0)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_blocked_output_does_not_hold_up_the_exit() {
        let (mut writer, guard) = batch_writer(Stuck);
        writer.write_all(b"never written\n").unwrap();
        let started = std::time::Instant::now();
        drop(guard);
        assert!(started.elapsed() < FINAL_FLUSH_TIMEOUT + Duration::from_millis(500));
    }

    #[test]
    fn a_stalled_output_drops_and_counts_instead_of_growing() {
        let (mut writer, guard) = batch_writer(io::sink());
        // Fill past the bound before the thread can flush: hold the lock.
        let line = vec![b'x'; 1024 * 1024];
        let held = writer.shared.buffer.lock().unwrap();
        drop(held);
        for _ in 0..(MAX_BUFFERED_BYTES / line.len() + 4) {
            writer.write_all(&line).unwrap();
        }
        let len = writer.shared.buffer.lock().unwrap().len();
        assert!(len <= MAX_BUFFERED_BYTES);
        drop(guard);
    }
}
