//! Graceful shutdown for connections: tell each to finish, then wait until
//! all have.
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

use hyper_util::server::graceful::GracefulConnection;
use pin_project_lite::pin_project;
use tokio::sync::Notify;
use tokio::sync::futures::OwnedNotified;

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
    /// Wraps `conn` so that it shuts down gracefully when the drain begins.
    pub fn watch<C: GracefulConnection>(self, conn: C) -> Watched<C> {
        Watched {
            conn,
            begin: self.begin,
            registered: None,
            shutting_down: false,
            open: self.open,
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
    /// A connection watched by a [`Drain`].
    pub struct Watched<C> {
        #[pin]
        conn: C,
        #[pin]
        begin: OwnedNotified,
        registered: Option<Waker>,
        shutting_down: bool,
        open: Open,
    }
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
                let _ = this.begin.as_mut().poll(cx);
                *this.registered = Some(cx.waker().clone());
            }
            if this.open.0.draining.load(Ordering::Acquire) {
                *this.shutting_down = true;
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
