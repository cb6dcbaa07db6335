//! The access-log layer: a `request` span carrying the request id around
//! everything inside it, and one INFO line per request when it completes.
//!
//! The line names the matched route template (not the raw path, which would
//! leak ids and explode cardinality), the status and the latency. A 5xx's
//! underlying cause is logged here, at ERROR, in the same span. A request
//! with a verified token (a 403 included) also names its `subject` and
//! `client_id`; never the token.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use http::{Method, Request};
use pin_project_lite::pin_project;
use tower::{Layer, Service};
use tracing::Span;

use super::request_id::RequestId;
use crate::auth::Caller;
use crate::error::ErrorSlot;
use crate::http::Response;
use crate::router::MatchedRoute;

/// Applies [`AccessLogService`].
#[derive(Debug, Clone, Copy, Default)]
pub struct AccessLogLayer;

impl<S> Layer<S> for AccessLogLayer {
    type Service = AccessLogService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AccessLogService { inner }
    }
}

/// Wraps each request in a span and logs its outcome.
#[derive(Debug, Clone)]
pub struct AccessLogService<S> {
    inner: S,
}

impl<S, B> Service<Request<B>> for AccessLogService<S>
where
    S: Service<Request<B>, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = AccessLogFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let start = Instant::now();
        let request_id = req
            .extensions()
            .get::<RequestId>()
            .map_or("", RequestId::as_str);
        let span = tracing::info_span!("request", request_id = request_id);
        let method = req.method().clone();
        let inner = span.in_scope(|| self.inner.call(req));
        AccessLogFuture {
            inner,
            span,
            start,
            method,
        }
    }
}

pin_project! {
    /// The response of [`AccessLogService`]: polled inside the request's
    /// span, logged when it is ready.
    pub struct AccessLogFuture<F> {
        #[pin]
        inner: F,
        span: Span,
        start: Instant,
        method: Method,
    }
}

impl<F> Future for AccessLogFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _entered = this.span.enter();
        let response = ready!(this.inner.poll(cx))?;
        let status = response.status();
        if status.is_server_error()
            && let Some(slot) = response.extensions().get::<ErrorSlot>()
            && let Some(Some(cause)) = slot.inspect(crate::error::AppError::source_chain)
        {
            tracing::error!(error = %cause, "request failed");
        }
        let route = response
            .extensions()
            .get::<MatchedRoute>()
            .map_or("-", |r| r.0);
        let latency = this.start.elapsed();
        let caller = response.extensions().get::<Caller>().map(|c| &c.0);
        let subject = caller.and_then(|c| c.subject.as_deref());
        let client_id = caller.and_then(|c| c.client_id.as_deref());
        tracing::info!(
            method = this.method.as_str(),
            route,
            status = status.as_u16(),
            latency_us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
            subject,
            client_id,
            "request"
        );
        Poll::Ready(Ok(response))
    }
}
