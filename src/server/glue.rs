//! The tower app as a hyper service, owned by one connection.
//!
//! hyper calls services through `&self`, tower through `&mut self`;
//! hyper-util's adapter bridges them by cloning the whole layer stack for
//! every request (three shared reference counts touched by every worker
//! thread) and driving it through a `Oneshot`. A connection calls its
//! service one request at a time from its own task, so here the connection
//! owns one copy of the app and borrows it for each call.
//!
//! It also counts the connection's requests in flight and answered
//! ([`ConnState`]), which graceful shutdown needs to tell a connection whose
//! first request is on its way from an idle one, and adds
//! `connection: close` to answers once the connection is closing.

use std::cell::RefCell;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker, ready};

use http::{HeaderValue, header};
use pin_project_lite::pin_project;
use tower::ServiceExt;
use tower::util::Oneshot;

use super::conn_state::ConnState;
use crate::http::Response;

/// A connection's copy of the app, callable by hyper.
#[derive(Debug)]
pub struct ConnectionService<S> {
    app: RefCell<S>,
    conn: Arc<ConnState>,
}

impl<S> ConnectionService<S> {
    /// Wraps the connection's copy of `app`, counting requests in `conn`.
    pub fn new(app: S, conn: Arc<ConnState>) -> Self {
        Self {
            app: RefCell::new(app),
            conn,
        }
    }
}

impl<S, R> hyper::service::Service<R> for ConnectionService<S>
where
    S: tower::Service<R, Response = Response, Error = Infallible> + Clone,
{
    type Response = Response;
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
        self.conn.started();
        ConnectionFuture {
            state,
            request: InFlight(Arc::clone(&self.conn)),
        }
    }
}

/// One request in flight on its connection; counted as answered when
/// dropped (answered or abandoned).
#[derive(Debug)]
struct InFlight(Arc<ConnState>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.finished();
    }
}

static CLOSE: HeaderValue = HeaderValue::from_static("close");

pin_project! {
    /// The response of [`ConnectionService`].
    pub struct ConnectionFuture<S: tower::Service<R>, R> {
        #[pin]
        state: State<S, R>,
        request: InFlight,
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
    S: tower::Service<R, Response = Response>,
{
    type Output = Result<Response, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(match this.state.project() {
            StateProjection::Called { inner } => inner.poll(cx),
            StateProjection::Waiting { inner } => inner.as_mut().poll(cx),
        })?;
        if this.request.0.is_closing() {
            response
                .headers_mut()
                .insert(header::CONNECTION, CLOSE.clone());
        }
        Poll::Ready(Ok(response))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use hyper::service::Service as _;

    use super::*;

    /// Ready on every other ask; answers with how often it was asked, as
    /// its status code (200 + asks).
    #[derive(Clone, Default)]
    struct Flaky {
        asked: Arc<AtomicUsize>,
    }

    fn answer(asked: usize) -> Response {
        let mut response = Response::default();
        *response.status_mut() =
            http::StatusCode::from_u16(200 + u16::try_from(asked).unwrap()).unwrap();
        response
    }

    impl tower::Service<()> for Flaky {
        type Response = Response;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Response, Infallible>>;

        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            if self.asked.fetch_add(1, Ordering::SeqCst).is_multiple_of(2) {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, (): ()) -> Self::Future {
            std::future::ready(Ok(answer(self.asked.load(Ordering::SeqCst))))
        }
    }

    #[tokio::test]
    async fn ready_services_are_called_at_once_others_are_waited_for() {
        let conn = Arc::new(ConnState::default());
        let service = ConnectionService::new(Flaky::default(), Arc::clone(&conn));
        // First ask: not ready, so the call waits and asks again.
        assert_eq!(service.call(()).await.unwrap().status(), 202);
        // Third ask: not ready either (every other one is).
        assert_eq!(service.call(()).await.unwrap().status(), 204);
        assert_eq!((conn.in_flight(), conn.served()), (0, 2));
    }

    #[tokio::test]
    async fn requests_are_counted_and_closing_connections_say_so() {
        let conn = Arc::new(ConnState::default());
        let service = ConnectionService::new(Flaky::default(), Arc::clone(&conn));
        let pending = service.call(());
        assert_eq!((conn.in_flight(), conn.served()), (1, 0));
        drop(pending);
        assert_eq!(
            (conn.in_flight(), conn.served()),
            (0, 1),
            "abandoned counts"
        );
        let response = service.call(()).await.unwrap();
        assert!(response.headers().get(header::CONNECTION).is_none());
        conn.close_after_next();
        let response = service.call(()).await.unwrap();
        assert_eq!(response.headers()[header::CONNECTION], "close");
    }
}
