//! The tower app as a hyper service, owned by one connection.
//!
//! hyper calls services through `&self`, tower through `&mut self`;
//! hyper-util's adapter bridges them by cloning the whole layer stack for
//! every request (three shared reference counts touched by every worker
//! thread) and driving it through a `Oneshot`. A connection calls its
//! service one request at a time from its own task, so here the connection
//! owns one copy of the app and borrows it for each call.

use std::cell::RefCell;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use pin_project_lite::pin_project;
use tower::ServiceExt;
use tower::util::Oneshot;

/// A connection's copy of the app, callable by hyper.
#[derive(Debug)]
pub struct ConnectionService<S> {
    app: RefCell<S>,
}

impl<S> ConnectionService<S> {
    /// Wraps the connection's copy of `app`.
    pub fn new(app: S) -> Self {
        Self {
            app: RefCell::new(app),
        }
    }
}

impl<S, R> hyper::service::Service<R> for ConnectionService<S>
where
    S: tower::Service<R, Error = Infallible> + Clone,
{
    type Response = S::Response;
    type Error = Infallible;
    type Future = ConnectionFuture<S, R>;

    fn call(&self, req: R) -> Self::Future {
        // Borrowed only for this synchronous call: hyper never calls again
        // from inside a call, so the borrow cannot conflict.
        let mut app = self.app.borrow_mut();
        let state = match app.poll_ready(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(Ok(())) => State::Called {
                inner: app.call(req),
            },
            // Not ready now: wait for it with the task's own waker, on a
            // copy, so the connection's next request is not held up.
            Poll::Ready(Err(never)) => match never {},
            Poll::Pending => State::Waiting {
                inner: Box::pin(app.clone().oneshot(req)),
            },
        };
        ConnectionFuture { state }
    }
}

pin_project! {
    /// The response of [`ConnectionService`].
    pub struct ConnectionFuture<S: tower::Service<R>, R> {
        #[pin]
        state: State<S, R>,
    }
}

pin_project! {
    #[project = StateProjection]
    enum State<S: tower::Service<R>, R> {
        Called { #[pin] inner: S::Future },
        Waiting { inner: Pin<Box<Oneshot<S, R>>> },
    }
}

impl<S, R> Future for ConnectionFuture<S, R>
where
    S: tower::Service<R>,
{
    type Output = Result<S::Response, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProjection::Called { inner } => inner.poll(cx),
            StateProjection::Waiting { inner } => inner.as_mut().poll(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use hyper::service::Service as _;

    use super::*;

    /// Ready on every other ask; answers with how often it was asked.
    #[derive(Clone, Default)]
    struct Flaky {
        asked: Arc<AtomicUsize>,
    }

    impl tower::Service<()> for Flaky {
        type Response = usize;
        type Error = Infallible;
        type Future = std::future::Ready<Result<usize, Infallible>>;

        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            if self.asked.fetch_add(1, Ordering::SeqCst) % 2 == 0 {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, (): ()) -> Self::Future {
            std::future::ready(Ok(self.asked.load(Ordering::SeqCst)))
        }
    }

    #[tokio::test]
    async fn ready_services_are_called_at_once_others_are_waited_for() {
        let service = ConnectionService::new(Flaky::default());
        // First ask: not ready, so the call waits and asks again.
        assert_eq!(service.call(()).await.unwrap(), 2);
        // Third ask: not ready either (every other one is).
        assert_eq!(service.call(()).await.unwrap(), 4);
    }
}
