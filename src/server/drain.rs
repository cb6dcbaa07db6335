//! Graceful shutdown for connections: tell each to finish, then wait until
//! all have; and the retirement of single connections that grew too old or,
//! over HTTP/2, sat idle.
//!
//! Finishing is not the same for every connection. One with a request in
//! flight answers it (with `connection: close`) and closes. An idle
//! HTTP/1.1 connection kept alive after earlier requests lingers for
//! [`LINGER`] first, answering (and then closing) if its client's next
//! request was already on the way, and otherwise closes. An HTTP/1.1 connection
//! that was accepted but has not yet sent its first request is *not* closed:
//! its request may already be on the wire, and closing would drop it
//! unanswered. It answers that first request with `connection: close`; the
//! header-read timeout bounds the wait for one that never comes. HTTP/2
//! connections get GOAWAY, which tells the client which streams were not
//! processed and may be retried.
//!
//! hyper-util's `GracefulShutdown` does the same with a watch channel whose
//! `changed()` future every connection polls on every wake-up (~350
//! instructions per request under callgrind). Here a connection registers
//! for the signal once, and afterwards each poll reads one atomic flag.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use hyper_util::server::graceful::GracefulConnection;
use pin_project_lite::pin_project;
use tokio::sync::Notify;
use tokio::sync::futures::OwnedNotified;
use tokio::time::{Instant, Sleep};

use super::conn_state::ConnState;

/// How long an idle HTTP/1.1 keep-alive connection stays open once it is
/// asked to close, for a request its client sent just before: that request
/// is answered (with `connection: close`) instead of lost.
pub const LINGER: Duration = Duration::from_millis(250);

/// The HTTP version a connection speaks: they close differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// HTTP/1.1 (keep-alive).
    Http1,
    /// HTTP/2 (prior knowledge).
    Http2,
}

/// When a connection is retired without a drain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Retire it once it is this old.
    pub max_age: Duration,
    /// Over HTTP/2, retire it once no request has run for between one and
    /// two of these (HTTP/1.1 idleness is hyper's header-read timeout).
    pub idle_timeout: Duration,
}

#[derive(Debug, Default)]
struct Shared {
    draining: AtomicBool,
    begin: Arc<Notify>,
    open: AtomicUsize,
    all_closed: Notify,
}

/// Hands out watched connections; [`Drain::shutdown`] drains them.
#[derive(Debug, Default)]
pub struct Drain {
    shared: Arc<Shared>,
}

impl Drain {
    /// A drain with no connections.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one more open connection until the returned watcher (or the
    /// connection it watches) is dropped; take it when the connection is
    /// accepted, so the drain waits for it from then on.
    pub fn watcher(&self) -> Watcher {
        self.shared.open.fetch_add(1, Ordering::AcqRel);
        Watcher {
            begin: Arc::clone(&self.shared.begin).notified_owned(),
            open: Open(Arc::clone(&self.shared)),
        }
    }

    /// How many watched connections are still open.
    pub fn count(&self) -> usize {
        self.shared.open.load(Ordering::Acquire)
    }

    /// Asks every watched connection to finish its in-flight requests and
    /// close, and completes once all have.
    pub async fn shutdown(self) {
        // The flag first: a connection that registers after the
        // notification below still sees it.
        self.shared.draining.store(true, Ordering::Release);
        self.shared.begin.notify_waiters();
        loop {
            let closed = self.shared.all_closed.notified();
            tokio::pin!(closed);
            closed.as_mut().enable();
            if self.count() == 0 {
                return;
            }
            closed.await;
        }
    }
}

/// One accepted connection, counted by its [`Drain`].
#[derive(Debug)]
pub struct Watcher {
    begin: OwnedNotified,
    open: Open,
}

impl Watcher {
    /// Wraps `conn`, speaking `protocol` and counting its requests in
    /// `state`, so that it shuts down gracefully when the drain begins or a
    /// limit is reached.
    pub fn watch<C: GracefulConnection>(
        self,
        conn: C,
        protocol: Protocol,
        state: Arc<ConnState>,
        limits: Limits,
    ) -> Watched<C> {
        let born = Instant::now();
        let first_check = match protocol {
            Protocol::Http1 => limits.max_age,
            Protocol::Http2 => limits.idle_timeout.min(limits.max_age),
        };
        Watched {
            conn,
            begin: self.begin,
            registered: None,
            shutting_down: false,
            open: self.open,
            protocol,
            state,
            limits,
            born,
            timer: Box::pin(tokio::time::sleep_until(born + first_check)),
            served_at_check: 0,
            lingering: false,
        }
    }
}

/// Counts one open connection; the last one out tells the drain.
#[derive(Debug)]
struct Open(Arc<Shared>);

impl Drop for Open {
    fn drop(&mut self) {
        if self.0.open.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.all_closed.notify_waiters();
        }
    }
}

pin_project! {
    /// A connection watched by a [`Drain`] and its own [`Limits`].
    pub struct Watched<C> {
        #[pin]
        conn: C,
        #[pin]
        begin: OwnedNotified,
        registered: Option<Waker>,
        shutting_down: bool,
        open: Open,
        protocol: Protocol,
        state: Arc<ConnState>,
        limits: Limits,
        born: Instant,
        // The next moment to check the age (and, over HTTP/2, idleness).
        timer: Pin<Box<Sleep>>,
        served_at_check: usize,
        lingering: bool,
    }
}

/// Whether a connection should be retired now, checked when its timer
/// fires; otherwise sets the timer for the next check.
fn past_a_limit(
    protocol: Protocol,
    state: &ConnState,
    limits: Limits,
    born: Instant,
    timer: &mut Pin<Box<Sleep>>,
    served_at_check: &mut usize,
) -> bool {
    let now = Instant::now();
    let retire_at = born + limits.max_age;
    if now >= retire_at {
        return true;
    }
    let next = match protocol {
        Protocol::Http1 => retire_at,
        Protocol::Http2 => {
            let served = state.served();
            let busy = state.in_flight() > 0 || served != *served_at_check;
            if !busy {
                return true;
            }
            *served_at_check = served;
            (now + limits.idle_timeout).min(retire_at)
        }
    };
    timer.as_mut().reset(next);
    false
}

impl<C: GracefulConnection> Future for Watched<C> {
    type Output = C::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if !*this.shutting_down {
            // Register (again only if this task's waker changed), then read
            // the flag: a drain that began in between is seen either way.
            let stale = this
                .registered
                .as_ref()
                .is_none_or(|waker| !waker.will_wake(cx.waker()));
            if stale {
                // The timer too: it keeps this waker until it fires, so it
                // is polled again only when the waker changes or it fired.
                let _ = this.begin.as_mut().poll(cx);
                let _ = this.timer.as_mut().poll(cx);
                *this.registered = Some(cx.waker().clone());
            }
            let mut retire = this.open.0.draining.load(Ordering::Acquire);
            while !retire && this.timer.is_elapsed() {
                retire = past_a_limit(
                    *this.protocol,
                    this.state,
                    *this.limits,
                    *this.born,
                    this.timer,
                    this.served_at_check,
                );
                if !retire {
                    // Register the next deadline (ready at once if it passed).
                    let _ = this.timer.as_mut().poll(cx);
                }
            }
            if retire {
                *this.shutting_down = true;
                let idle = this.state.in_flight() == 0;
                if *this.protocol == Protocol::Http1 && idle {
                    // A request may be on the wire: answer it, with
                    // `connection: close`. A connection that never had one
                    // waits for it (the header-read timeout bounds that);
                    // one kept alive after earlier requests closes after a
                    // short linger if none comes.
                    this.state.close_after_next();
                    if this.state.served() > 0 {
                        *this.lingering = true;
                        this.timer.as_mut().reset(Instant::now() + LINGER);
                        let _ = this.timer.as_mut().poll(cx);
                    }
                } else {
                    this.conn.as_mut().graceful_shutdown();
                }
            }
        } else if *this.lingering && this.timer.is_elapsed() {
            *this.lingering = false;
            // An answer in flight closes the connection itself.
            if this.state.in_flight() == 0 {
                this.conn.as_mut().graceful_shutdown();
            }
        }
        this.conn.poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    async fn settle() {
        tokio::time::sleep(Duration::from_millis(30)).await;
    }

    #[tokio::test]
    async fn shutdown_waits_for_every_accepted_connection() {
        let drain = Drain::new();
        let first = drain.watcher();
        let second = drain.watcher();
        assert_eq!(drain.count(), 2);
        let shutdown = tokio::spawn(drain.shutdown());
        settle().await;
        assert!(!shutdown.is_finished());
        drop(first);
        settle().await;
        assert!(!shutdown.is_finished(), "one is still open");
        drop(second);
        tokio::time::timeout(Duration::from_secs(1), shutdown)
            .await
            .expect("done once the last closed")
            .unwrap();
    }

    #[tokio::test]
    async fn shutdown_with_nothing_open_is_immediate() {
        let drain = Drain::new();
        drop(drain.watcher());
        assert_eq!(drain.count(), 0);
        tokio::time::timeout(Duration::from_millis(100), drain.shutdown())
            .await
            .unwrap();
    }
}
