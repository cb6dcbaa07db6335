//! The accept loop: HTTP/1.1 (keep-alive) and HTTP/2 (prior knowledge) on one
//! port, at most `MAX_CONNECTIONS` connections at once, with the protective
//! timeouts hyper leaves off by default, and a lame-duck graceful shutdown.
//!
//! Shutdown order, as load balancers need it: `/readyz` turns 503 at once;
//! the server keeps accepting and serving for `SHUTDOWN_DELAY_MS` (so
//! balancers stop routing here while every request still gets an answer);
//! then it takes the connections already waiting in the kernel's queue and
//! stops accepting; every connection whose request has arrived is answered
//! (with `connection: close`) and idle ones close; the pool closes last.
//! All of it within `SHUTDOWN_TIMEOUT_MS`.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::http::Response;
use crate::state::AppState;

pub mod conn_io;
pub mod conn_state;
pub mod connection;
pub mod drain;
pub mod glue;

use connection::ConnectionSettings;
pub use connection::MAX_HEADER_BYTES;
use drain::Drain;

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
pub async fn serve_app(
    listener: TcpListener,
    state: AppState,
    app: impl App,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let drain = Drain::new();
    let settings = ConnectionSettings::new(&state.settings);
    let permits = Arc::new(Semaphore::new(state.settings.connections.max_connections));
    let delay = state.settings.connections.shutdown_delay;
    // The signal, then the lame-duck delay: readiness fails at once, but
    // the server keeps accepting until the delay is over.
    let stop = async {
        shutdown.await;
        state.begin_shutdown();
        tracing::info!(
            delay_ms = millis(delay),
            "shutdown requested: /readyz answers 503; still serving during the delay"
        );
        tokio::time::sleep(delay).await;
    };
    tokio::pin!(stop);
    loop {
        // At the cap, wait for a connection to close before accepting: the
        // kernel's backlog holds newcomers meanwhile.
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_closed) => break,
            },
            () = &mut stop => break,
        };
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    tokio::spawn(connection::serve(stream, app.clone(), drain.watcher(), permit, settings));
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off briefly
                    // instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            () = &mut stop => break,
        }
    }
    // Connections the kernel completed before we stop are clients that
    // believe they are connected: take and answer them too, then close.
    for stream in queued(listener) {
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            break;
        };
        tokio::spawn(connection::serve(
            stream,
            app.clone(),
            drain.watcher(),
            permit,
            settings,
        ));
    }
    let grace = state.settings.shutdown_timeout.saturating_sub(delay);
    tracing::info!(
        connections = drain.count(),
        grace_ms = millis(grace),
        "no longer accepting; draining"
    );
    match tokio::time::timeout(grace, drain.shutdown()).await {
        Ok(()) => tracing::info!("all connections drained"),
        Err(_) => tracing::warn!("grace period elapsed; abandoning remaining connections"),
    }
    state.pool.close();
    tracing::info!("shutdown complete");
    Ok(())
}

/// The connections waiting in `listener`'s accept queue, taken without
/// waiting; the listener is closed once they are.
///
/// Direct `accept` calls until the queue is empty, rather than tokio's,
/// which answers from readiness the reactor may not have seen yet.
fn queued(listener: TcpListener) -> Vec<tokio::net::TcpStream> {
    let Ok(listener) = listener.into_std() else {
        return Vec::new();
    };
    let mut streams = Vec::new();
    if listener.set_nonblocking(true).is_err() {
        return streams;
    }
    while let Ok((stream, _peer)) = listener.accept() {
        let adopted = stream
            .set_nonblocking(true)
            .and_then(|()| tokio::net::TcpStream::from_std(stream));
        match adopted {
            Ok(stream) => streams.push(stream),
            Err(e) => tracing::debug!(error = %e, "could not take a queued connection"),
        }
    }
    streams
}

/// What the server serves: the app as a tower Service of hyper's requests,
/// copied into each connection (see [`crate::app::app`]).
pub trait App:
    tower::Service<
        http::Request<Incoming>,
        Response = Response,
        Error = Infallible,
        Future: Send + 'static,
    > + Clone
    + Send
    + Sync
    + 'static
{
}

impl<S> App for S where
    S: tower::Service<
            http::Request<Incoming>,
            Response = Response,
            Error = Infallible,
            Future: Send + 'static,
        > + Clone
        + Send
        + Sync
        + 'static
{
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
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
