//! The request timeout: a request not answered within `REQUEST_TIMEOUT_MS`
//! (reading its body included) gets a `timeout` problem.
//!
//! tower-http's timeout answers with an empty body; this one answers with the
//! problem of API.md. The deadline is also put in the request's extensions
//! ([`RequestDeadline`]) so the body reader can tell a client that never
//! finished its upload (408) from a slow server (504).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use http::Request;
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::error::AppError;
use crate::http::Response;

/// When the request must be answered by; in request extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestDeadline(pub tokio::time::Instant);

/// Applies [`TimeoutService`] with a deadline.
#[derive(Debug, Clone, Copy)]
pub struct TimeoutLayer {
    timeout: Duration,
}

impl TimeoutLayer {
    /// A layer that abandons requests after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        Self { timeout }
    }
}

impl<S> Layer<S> for TimeoutLayer {
    type Service = TimeoutService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TimeoutService {
            inner,
            timeout: self.timeout,
        }
    }
}

/// Races the inner service against a deadline.
#[derive(Debug, Clone)]
pub struct TimeoutService<S> {
    inner: S,
    timeout: Duration,
}

impl<S, B> Service<Request<B>> for TimeoutService<S>
where
    S: Service<Request<B>, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = TimeoutFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let deadline = tokio::time::Instant::now() + self.timeout;
        req.extensions_mut().insert(RequestDeadline(deadline));
        // Timeout polls the inner future first: an inner answer due at the
        // same instant (the body reader's 408) wins over this 504.
        TimeoutFuture {
            inner: tokio::time::timeout_at(deadline, self.inner.call(req)),
        }
    }
}

pin_project! {
    /// The response of [`TimeoutService`]: the inner one, or a `timeout`
    /// problem at the deadline.
    pub struct TimeoutFuture<F> {
        #[pin]
        inner: tokio::time::Timeout<F>,
    }
}

impl<F> Future for TimeoutFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match ready!(self.project().inner.poll(cx)) {
            Ok(result) => Poll::Ready(result),
            Err(_elapsed) => Poll::Ready(Ok(AppError::Timeout.into_response())),
        }
    }
}
