//! The accept loop: HTTP/1.1 (keep-alive) and HTTP/2 (prior knowledge) on one
//! port, with the protective timeouts hyper leaves off by default, and a
//! graceful shutdown bounded by `SHUTDOWN_TIMEOUT_MS`.
//!
//! Shutdown order: stop accepting, flip `/readyz` to 503, let in-flight
//! requests finish (idle connections close at once), close the pool.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};

use crate::http::Response;
use crate::state::AppState;

pub mod drain;
pub mod glue;

use drain::{Drain, Watcher};
use glue::ConnectionService;

/// The largest request head (request line and headers) accepted over
/// HTTP/1.1; larger ones get hyper's 431.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// The HTTP/2 connection preface, which prior-knowledge clients send first.
const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Serves the standard app ([`crate::app::app`] around
/// [`crate::app::routes`]) on `listener` until `shutdown` completes, then
/// drains gracefully.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let app = crate::app::app(&state, crate::app::routes(&state));
    serve_app(listener, state, app, shutdown).await
}

/// Serves any app (e.g. one built with extra routes) on `listener`.
pub async fn serve_app<S>(
    listener: TcpListener,
    state: AppState,
    app: S,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()>
where
    S: tower::Service<http::Request<Incoming>, Response = Response, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    let graceful = Drain::new();
    let header_timeout = state.settings.header_read_timeout;
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    let watcher = graceful.watcher();
                    tokio::spawn(serve_connection(stream, app.clone(), watcher, header_timeout));
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off briefly
                    // instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    state.begin_shutdown();
    let grace = state.settings.shutdown_timeout;
    tracing::info!(
        connections = graceful.count(),
        grace_ms = u64::try_from(grace.as_millis()).unwrap_or(u64::MAX),
        "shutdown started: no longer accepting; draining"
    );
    match tokio::time::timeout(grace, graceful.shutdown()).await {
        Ok(()) => tracing::info!("all connections drained"),
        Err(_) => tracing::warn!("grace period elapsed; abandoning remaining connections"),
    }
    state.pool.close();
    tracing::info!("shutdown complete");
    Ok(())
}

enum Protocol {
    Http1,
    Http2,
}

async fn serve_connection<S>(stream: TcpStream, app: S, watcher: Watcher, header_timeout: Duration)
where
    S: tower::Service<http::Request<Incoming>, Response = Response, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(error = %e, "could not set TCP_NODELAY");
    }
    // Closed, failed or silent past the header timeout: drop it.
    let Ok(Ok(Some(protocol))) = tokio::time::timeout(header_timeout, sniff(&stream)).await else {
        return;
    };
    let io = TokioIo::new(stream);
    let service = ConnectionService::new(app);
    let result = match protocol {
        Protocol::Http1 => {
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .keep_alive(true)
                .max_buf_size(MAX_HEADER_BYTES.max(8192))
                .serve_connection(io, service);
            watcher.watch(connection).await
        }
        Protocol::Http2 => {
            let connection = http2::Builder::new(TokioExecutor::new())
                .timer(TokioTimer::new())
                .keep_alive_interval(Some(Duration::from_secs(20)))
                .keep_alive_timeout(Duration::from_secs(10))
                .max_header_list_size(u32::try_from(MAX_HEADER_BYTES).unwrap_or(u32::MAX))
                .max_concurrent_streams(256)
                .serve_connection(io, service);
            watcher.watch(connection).await
        }
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

/// Reads (without consuming) just enough of the connection to tell an
/// HTTP/2 preface from an HTTP/1 request; `None` if the peer closed first.
///
/// hyper-util's automatic builder does this with no deadline of its own, so
/// a silent client would hold a task forever; here the caller bounds it.
async fn sniff(stream: &TcpStream) -> io::Result<Option<Protocol>> {
    let mut buf = [0u8; 24];
    loop {
        let n = stream.peek(&mut buf).await?;
        if n == 0 {
            return Ok(None);
        }
        if buf[..n] != H2_PREFACE[..n] {
            return Ok(Some(Protocol::Http1));
        }
        if n == H2_PREFACE.len() {
            return Ok(Some(Protocol::Http2));
        }
        // A partial preface: wait for the rest without spinning.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// Completes on SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!(signal = "SIGINT", "shutdown requested"),
        () = terminate => tracing::info!(signal = "SIGTERM", "shutdown requested"),
    }
}
