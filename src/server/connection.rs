//! One client connection: socket options, protocol detection under a
//! deadline, and the HTTP/1.1 or HTTP/2 connection with its protective
//! settings, watched by the drain.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::server::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use socket2::{SockRef, TcpKeepalive};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;

use super::App;
use super::conn_state::ConnState;
use super::drain::{Limits, Protocol, Watcher};
use super::glue::ConnectionService;
use crate::config::Settings;

/// The largest request head (request line and headers) accepted over
/// HTTP/1.1; larger ones get hyper's 431.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// The most streams an HTTP/2 client may have open at once. Each stream is
/// a request, admitted (or shed) by the same `MAX_CONCURRENT_REQUESTS`
/// budget as an HTTP/1.1 request.
pub const MAX_CONCURRENT_STREAMS: u32 = 100;

/// The HTTP/2 connection preface, which prior-knowledge clients send first.
const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// What every connection is served with, taken from the settings once.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionSettings {
    header_read_timeout: Duration,
    write_timeout: Duration,
    limits: Limits,
}

impl ConnectionSettings {
    /// The connection settings of `settings`.
    pub fn new(settings: &Settings) -> Self {
        Self {
            header_read_timeout: settings.header_read_timeout,
            write_timeout: settings.connections.write_timeout,
            limits: Limits {
                max_age: settings.connections.max_age,
                idle_timeout: settings.header_read_timeout,
            },
        }
    }
}

/// Serves `stream` with `app` until it closes; holds `permit` (one of
/// `MAX_CONNECTIONS`) and is counted by `watcher` until then.
pub async fn serve(
    stream: TcpStream,
    app: impl App,
    watcher: Watcher,
    permit: OwnedSemaphorePermit,
    settings: ConnectionSettings,
) {
    let _permit = permit;
    configure(&stream);
    let mut stream = stream;
    // Closed, failed or silent past the header timeout: drop it.
    let Ok(Ok(Some((protocol, prefix)))) =
        tokio::time::timeout(settings.header_read_timeout, detect(&mut stream)).await
    else {
        return;
    };
    let io = TokioIo::new(super::conn_io::ConnIo::new(
        stream,
        prefix,
        settings.write_timeout,
    ));
    let state = Arc::new(ConnState::default());
    let service = ConnectionService::new(app, Arc::clone(&state));
    let result = match protocol {
        Protocol::Http1 => {
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(settings.header_read_timeout)
                .keep_alive(true)
                .max_buf_size(MAX_HEADER_BYTES.max(8192))
                .serve_connection(io, service);
            watcher
                .watch(connection, protocol, state, settings.limits)
                .await
        }
        Protocol::Http2 => {
            let connection = http2::Builder::new(TokioExecutor::new())
                .timer(TokioTimer::new())
                .keep_alive_interval(Some(Duration::from_secs(20)))
                .keep_alive_timeout(Duration::from_secs(10))
                .max_header_list_size(u32::try_from(MAX_HEADER_BYTES).unwrap_or(u32::MAX))
                .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
                .serve_connection(io, service);
            watcher
                .watch(connection, protocol, state, settings.limits)
                .await
        }
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

/// `TCP_NODELAY` (responses are written whole), and TCP keepalive so a peer
/// that vanished without a FIN is noticed and its connection freed.
fn configure(stream: &TcpStream) {
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(error = %e, "could not set TCP_NODELAY");
    }
    let keepalive = TcpKeepalive::new()
        .with_time(Duration::from_secs(60))
        .with_interval(Duration::from_secs(10))
        .with_retries(3);
    if let Err(e) = SockRef::from(stream).set_tcp_keepalive(&keepalive) {
        tracing::debug!(error = %e, "could not set TCP keepalive");
    }
}

/// Reads just enough of the connection to tell an HTTP/2 preface from an
/// HTTP/1 request; returns the protocol and the bytes read (to be replayed),
/// or `None` if the peer closed first.
///
/// A read, not a peek: waiting for more of a partial preface is waiting for
/// the socket to become readable, which costs nothing (hyper-util's
/// automatic builder reads and replays the same way, but without a deadline
/// of its own; the caller bounds this one).
async fn detect(stream: &mut TcpStream) -> io::Result<Option<(Protocol, Bytes)>> {
    let mut buf = [0u8; H2_PREFACE.len()];
    let mut n = 0;
    loop {
        let read = stream.read(&mut buf[n..]).await?;
        if read == 0 {
            return Ok(None);
        }
        n += read;
        if buf[..n] != H2_PREFACE[..n] {
            return Ok(Some((Protocol::Http1, Bytes::copy_from_slice(&buf[..n]))));
        }
        if n == H2_PREFACE.len() {
            return Ok(Some((Protocol::Http2, Bytes::copy_from_slice(&buf))));
        }
    }
}
