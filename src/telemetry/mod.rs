//! Logging: human-readable lines in development, one JSON object per line in
//! production, written off the request path by a background thread
//! ([`batch`]).
//!
//! This module starts logging and decides what is logged (the filter);
//! [`json`] writes the production line.

use std::io::{self, IsTerminal, Write};

use tracing_subscriber::filter::{EnvFilter, Targets};
#[cfg(test)]
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Layer, SubscriberExt};
use tracing_subscriber::registry::Registry;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::LogFormat;

pub mod batch;
pub mod json;
pub mod otel;

pub use json::JsonLayer;

/// Keeps the background writer alive; dropping it flushes pending lines.
#[must_use = "dropping the guard stops the log writer"]
#[derive(Debug)]
pub struct LogGuard(#[allow(dead_code)] batch::BatchGuard);

/// Installs the global subscriber writing to stdout through the batching
/// writer (lines are dropped, never waited for, if stdout cannot keep up),
/// and routes panics and `log` records through it.
pub fn init(format: LogFormat, filter: &str) -> LogGuard {
    init_with_writer(format, filter, io::stdout())
}

/// [`init`] writing to `writer` instead of stdout, through the same batching
/// writer (benches measure the production path into a sink).
pub fn init_with_writer<W: Write + Send + 'static>(
    format: LogFormat,
    filter: &str,
    writer: W,
) -> LogGuard {
    let (writer, guard) = batch::batch_writer(writer, format);
    install(format, filter, writer);
    install_panic_hook();
    LogGuard(guard)
}

fn install(format: LogFormat, filter: &str, writer: batch::BatchWriter) {
    let registry = tracing_subscriber::registry().with(filter_layer(filter));
    let result = match format {
        LogFormat::Json => registry.with(JsonLayer::new(writer)).try_init(),
        LogFormat::Pretty => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(io::stdout().is_terminal())
                    .with_writer(writer),
            )
            .try_init(),
    };
    if let Err(e) = result {
        eprintln!("logging was already initialised: {e}");
    }
}

/// The filter for `spec` (`RUST_LOG` syntax).
///
/// Plain `target=level` lists become a [`Targets`] filter, which is decided
/// once per call site; only specs that filter on spans or fields (`[`, `{`)
/// need an [`EnvFilter`], which also takes a lock on every span entered,
/// exited, opened and closed (~1,000 instructions per request under
/// callgrind, and a cache line shared by every worker thread).
fn filter_layer(spec: &str) -> Box<dyn Layer<Registry> + Send + Sync> {
    if !spec.contains(['[', '{'])
        && let Ok(targets) = spec.parse::<Targets>()
    {
        return Box::new(targets);
    }
    Box::new(
        EnvFilter::builder()
            .parse(spec)
            .unwrap_or_else(|_| EnvFilter::new("info")),
    )
}

/// Logs panics as ERROR events (so in production they are JSON lines too)
/// instead of printing them to stderr.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let payload = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        tracing::error!(panic = %payload, location = %location, "panic");
    }));
}

#[cfg(test)]
/// A writer that forwards to a shared, cloneable sink; for tests that
/// capture log lines.
#[derive(Clone, Debug, Default)]
pub struct MemoryWriter(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

#[cfg(test)]
impl MemoryWriter {
    /// Everything written so far, as text.
    pub fn contents(&self) -> String {
        let bytes = self.0.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

#[cfg(test)]
impl Write for MemoryWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Ok(mut bytes) = self.0.lock() {
            bytes.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
impl<'a> MakeWriter<'a> for MemoryWriter {
    type Writer = Self;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    /// The messages of the events `spec` lets through, from `backend` and
    /// `other` targets, inside and outside a span named `request`.
    fn passed(spec: &str) -> Vec<String> {
        let sink = MemoryWriter::default();
        let subscriber = tracing_subscriber::registry()
            .with(filter_layer(spec))
            .with(JsonLayer::new(sink.clone()));
        tracing::subscriber::with_default(subscriber, || {
            tracing::debug!(target: "backend::users", "backend debug");
            tracing::info!(target: "backend::users", "backend info");
            tracing::info!(target: "other", "other info");
            tracing::warn!(target: "other", "other warn");
            let span = tracing::info_span!("request", request_id = "r-1");
            let _entered = span.enter();
            tracing::debug!(target: "other", "other debug in request");
        });
        sink.contents()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["message"].to_string())
            .map(|m| m.trim_matches('"').to_owned())
            .collect()
    }

    #[test]
    fn filters_follow_rust_log_syntax_whichever_filter_serves_them() {
        assert_eq!(passed("info"), ["backend info", "other info", "other warn"]);
        assert_eq!(passed("warn"), ["other warn"]);
        assert_eq!(
            passed("backend=debug,warn"),
            ["backend debug", "backend info", "other warn"]
        );
        assert_eq!(passed("other=off,backend=info"), ["backend info"]);
        // Span filters need the EnvFilter: debug only inside `request`.
        assert_eq!(
            passed("warn,[request]=debug"),
            ["other warn", "other debug in request"]
        );
        // A spec no filter understands falls back to `info`.
        assert_eq!(
            passed("=bogus=["),
            ["backend info", "other info", "other warn"]
        );
    }
}
