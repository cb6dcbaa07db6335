//! A client connection's byte stream as hyper sees it: the bytes read while
//! telling HTTP/1 from HTTP/2 are replayed first, and a write the client
//! does not take within the write deadline fails the connection.
//!
//! Reading the first bytes (rather than peeking at them) is what lets
//! protocol detection wait without polling: a partial HTTP/2 preface costs
//! nothing until more bytes arrive. The write deadline closes connections
//! whose client stopped reading a response (a full socket buffer), which
//! hyper alone would hold forever.

use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{Buf, Bytes};
use pin_project_lite::pin_project;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

pin_project! {
    /// The stream `inner`, preceded by `prefix`, with a write deadline.
    #[derive(Debug)]
    pub struct ConnIo<T> {
        #[pin]
        inner: T,
        prefix: Bytes,
        write_timeout: Duration,
        // Armed while a write is blocked; kept to be reset, not reallocated.
        deadline: Option<Pin<Box<Sleep>>>,
        armed: bool,
    }
}

impl<T> ConnIo<T> {
    /// `inner` after `prefix` (already read from it), whose blocked writes
    /// fail after `write_timeout`.
    pub fn new(inner: T, prefix: Bytes, write_timeout: Duration) -> Self {
        Self {
            inner,
            prefix,
            write_timeout,
            deadline: None,
            armed: false,
        }
    }
}

impl<T: AsyncRead> AsyncRead for ConnIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        if !this.prefix.is_empty() {
            let n = this.prefix.len().min(buf.remaining());
            buf.put_slice(&this.prefix[..n]);
            this.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        this.inner.poll_read(cx, buf)
    }
}

/// Passes a write's outcome through, arming the deadline while it is
/// blocked and failing it with `TimedOut` once the deadline passes.
fn guard<R>(
    cx: &mut Context<'_>,
    outcome: Poll<io::Result<R>>,
    timeout: Duration,
    deadline: &mut Option<Pin<Box<Sleep>>>,
    armed: &mut bool,
) -> Poll<io::Result<R>> {
    if outcome.is_ready() {
        *armed = false;
        return outcome;
    }
    let sleep = deadline.get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
    if !*armed {
        sleep.as_mut().reset(Instant::now() + timeout);
        *armed = true;
    }
    ready!(sleep.as_mut().poll(cx));
    Poll::Ready(Err(io::Error::new(
        io::ErrorKind::TimedOut,
        "the client did not read the response within the write deadline",
    )))
}

impl<T: AsyncWrite> AsyncWrite for ConnIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        let outcome = this.inner.poll_write(cx, buf);
        guard(cx, outcome, *this.write_timeout, this.deadline, this.armed)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        let outcome = this.inner.poll_write_vectored(cx, bufs);
        guard(cx, outcome, *this.write_timeout, this.deadline, this.armed)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.project();
        let outcome = this.inner.poll_flush(cx);
        guard(cx, outcome, *this.write_timeout, this.deadline, this.armed)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test]
    async fn the_prefix_is_read_first_then_the_stream() {
        let (client, mut server) = tokio::io::duplex(64);
        server.write_all(b" world").await.unwrap();
        drop(server);
        let mut io = ConnIo::new(client, Bytes::from_static(b"hello"), Duration::from_secs(1));
        let mut out = String::new();
        io.read_to_string(&mut out).await.unwrap();
        assert_eq!(out, "hello world");
    }

    #[tokio::test]
    async fn a_prefix_larger_than_the_buffer_comes_in_pieces() {
        let (client, _server) = tokio::io::duplex(64);
        let mut io = ConnIo::new(
            client,
            Bytes::from_static(b"abcdef"),
            Duration::from_secs(1),
        );
        let mut two = [0u8; 2];
        io.read_exact(&mut two).await.unwrap();
        assert_eq!(&two, b"ab");
        io.read_exact(&mut two).await.unwrap();
        assert_eq!(&two, b"cd");
    }

    #[tokio::test]
    async fn a_shutdown_reaches_the_peer_as_the_end_of_the_stream() {
        // The server half-closes after its last answer: the client must see
        // the end of the stream while the connection is still held open.
        let (client, mut server) = tokio::io::duplex(64);
        let mut io = ConnIo::new(client, Bytes::new(), Duration::from_secs(1));
        io.write_all(b"bye").await.unwrap();
        io.shutdown().await.unwrap();
        let mut out = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), server.read_to_end(&mut out))
            .await
            .expect("no end of stream after shutdown")
            .unwrap();
        assert_eq!(out, b"bye");
        drop(io);
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_nobody_reads_fails_at_the_deadline() {
        // A pipe with room for 8 bytes and no reader draining it.
        let (client, _server) = tokio::io::duplex(8);
        let mut io = ConnIo::new(client, Bytes::new(), Duration::from_secs(10));
        let started = Instant::now();
        let error = io.write_all(&[0u8; 64]).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), Duration::from_secs(10));
    }

    #[tokio::test(start_paused = true)]
    async fn progress_restarts_the_deadline() {
        let (client, mut server) = tokio::io::duplex(8);
        let mut io = ConnIo::new(client, Bytes::new(), Duration::from_secs(10));
        let reader = tokio::spawn(async move {
            let mut sink = [0u8; 8];
            for _ in 0..8 {
                tokio::time::sleep(Duration::from_secs(6)).await;
                server.read_exact(&mut sink).await.unwrap();
            }
        });
        // 64 bytes taken 8 every 6 s: 48 s in all, never 10 s without progress.
        io.write_all(&[0u8; 64]).await.unwrap();
        reader.await.unwrap();
    }
}
