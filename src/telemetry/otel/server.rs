//! The outermost layer: one server span per request (continuing the
//! caller's W3C `traceparent`/`tracestate`) and the request-duration
//! histogram.
//!
//! Outermost so every answer is seen, the 401s, 413s and 503s of the
//! layers inside included. The span is named `{method} {route}` with the
//! route template (never the raw path) once the router has matched; the
//! request's context is current while its future is polled, so child spans
//! and log lines find it. With telemetry off the layer holds nothing and
//! hands the request straight on.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll, ready};
use std::time::Instant;

use http::{Method, Request};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{SpanKind, Status, TraceContextExt, Tracer as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_http::HeaderExtractor;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use super::{Installed, installed};
use crate::http::Response;
use crate::router::MatchedRoute;

/// Applies [`ServerSpanService`].
#[derive(Debug, Clone, Copy)]
pub struct ServerSpanLayer {
    installed: Option<&'static Installed>,
}

impl ServerSpanLayer {
    /// The layer for the routes `templates` (the app's table): a
    /// pass-through when telemetry is off.
    pub fn new(templates: impl IntoIterator<Item = &'static str>) -> Self {
        let installed = installed();
        if let Some(metrics) = installed.and_then(|i| i.metrics.as_ref()) {
            metrics.set_routes(templates);
        }
        Self { installed }
    }
}

impl<S> Layer<S> for ServerSpanLayer {
    type Service = ServerSpanService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ServerSpanService {
            inner,
            installed: self.installed,
        }
    }
}

/// Traces and measures each request; see the module docs.
#[derive(Debug, Clone)]
pub struct ServerSpanService<S> {
    inner: S,
    installed: Option<&'static Installed>,
}

/// What a traced or measured request carries until it is answered.
#[derive(Debug)]
pub struct Watch {
    installed: &'static Installed,
    start: Instant,
    method: Method,
    cx: Option<Context>,
}

impl<S, B> Service<Request<B>> for ServerSpanService<S>
where
    S: Service<Request<B>, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = ServerSpanFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let Some(installed) = self.installed else {
            return ServerSpanFuture {
                inner: self.inner.call(req),
                watch: None,
            };
        };
        let start = Instant::now();
        let cx = installed.tracer.as_ref().map(|tracer| {
            let parent = TraceContextPropagator::new().extract(&HeaderExtractor(req.headers()));
            let mut attributes = vec![
                KeyValue::new("http.request.method", req.method().as_str().to_owned()),
                KeyValue::new("url.scheme", "http"),
            ];
            let host = req
                .uri()
                .authority()
                .map(http::uri::Authority::as_str)
                .or_else(|| req.headers().get(http::header::HOST)?.to_str().ok());
            if let Some(host) = host {
                let (address, port) = split_host(host);
                attributes.push(KeyValue::new("server.address", address.to_owned()));
                if let Some(port) = port {
                    attributes.push(KeyValue::new("server.port", i64::from(port)));
                }
            }
            let builder = tracer
                .span_builder(req.method().as_str().to_owned())
                .with_kind(SpanKind::Server)
                .with_attributes(attributes);
            let span = tracer.build_with_context(builder, &parent);
            parent.with_span(span)
        });
        let method = req.method().clone();
        let inner = {
            let _current = cx.clone().map(Context::attach);
            self.inner.call(req)
        };
        ServerSpanFuture {
            inner,
            watch: Some(Watch {
                installed,
                start,
                method,
                cx,
            }),
        }
    }
}

pin_project! {
    /// The response of [`ServerSpanService`].
    pub struct ServerSpanFuture<F> {
        #[pin]
        inner: F,
        watch: Option<Watch>,
    }
}

impl<F> Future for ServerSpanFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Some(watch) = this.watch.as_ref() else {
            return this.inner.poll(task);
        };
        let response = {
            let _current = watch.cx.clone().map(Context::attach);
            ready!(this.inner.poll(task))?
        };
        if let Some(watch) = this.watch.take() {
            watch.finish(&response);
        }
        Poll::Ready(Ok(response))
    }
}

impl Watch {
    /// Ends the span and records the duration.
    fn finish(self, response: &Response) {
        let status = response.status();
        let route = response.extensions().get::<MatchedRoute>().map(|r| r.0);
        if let Some(metrics) = &self.installed.metrics {
            metrics.record(
                &self.method,
                route,
                status.as_u16(),
                self.start.elapsed().as_secs_f64(),
            );
        }
        let Some(cx) = self.cx else { return };
        let span = cx.span();
        if !span.is_recording() {
            return;
        }
        if let Some(route) = route {
            span.update_name(format!("{} {route}", self.method));
            span.set_attribute(KeyValue::new("http.route", route));
        }
        span.set_attribute(KeyValue::new(
            "http.response.status_code",
            i64::from(status.as_u16()),
        ));
        if let Some(id) = response
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
        {
            span.set_attribute(KeyValue::new("request.id", id.to_owned()));
        }
        if status.is_server_error() {
            span.set_attribute(KeyValue::new("error.type", status.as_str().to_owned()));
            span.set_status(Status::error(status.as_str().to_owned()));
        }
        span.end();
    }
}

/// `host[:port]` split; IPv6 literals keep their brackets off.
fn split_host(host: &str) -> (&str, Option<u16>) {
    if let Some(rest) = host.strip_prefix('[') {
        let (address, tail) = rest.split_once(']').unwrap_or((rest, ""));
        return (address, tail.strip_prefix(':').and_then(|p| p.parse().ok()));
    }
    match host.rsplit_once(':') {
        Some((address, port)) => (address, port.parse().ok()),
        None => (host, None),
    }
}

#[cfg(test)]
mod tests {
    use super::split_host;

    #[test]
    fn hosts_are_split_from_their_ports() {
        assert_eq!(split_host("127.0.0.1:8000"), ("127.0.0.1", Some(8000)));
        assert_eq!(split_host("api.example.com"), ("api.example.com", None));
        assert_eq!(split_host("[::1]:8000"), ("::1", Some(8000)));
        assert_eq!(split_host("[::1]"), ("::1", None));
    }
}
