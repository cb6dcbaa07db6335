//! `HEAD` responses: the headers a `GET` would have, `content-length`
//! included, and no body — on HTTP/1.1 and HTTP/2 alike.
//!
//! The router serves `HEAD` with the `GET` endpoint; this outermost layer
//! drops the body after every other layer has had its say.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, header};
use http_body::Body;
use http_body_util::Full;
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::Response;

/// Applies [`HeadService`].
#[derive(Debug, Clone, Copy, Default)]
pub struct HeadLayer;

impl<S> Layer<S> for HeadLayer {
    type Service = HeadService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HeadService { inner }
    }
}

/// Strips the body of responses to `HEAD`.
#[derive(Debug, Clone)]
pub struct HeadService<S> {
    inner: S,
}

impl<S, B> Service<Request<B>> for HeadService<S>
where
    S: Service<Request<B>, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = HeadFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        HeadFuture {
            is_head: req.method() == Method::HEAD,
            inner: self.inner.call(req),
        }
    }
}

pin_project! {
    /// The response of [`HeadService`]: the inner one, bodiless for `HEAD`.
    pub struct HeadFuture<F> {
        #[pin]
        inner: F,
        is_head: bool,
    }
}

impl<F> Future for HeadFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.inner.poll(cx))?;
        if *this.is_head {
            let length = response.body().size_hint().exact().unwrap_or(0);
            response
                .headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(length));
            *response.body_mut() = Full::new(Bytes::new());
        }
        Poll::Ready(Ok(response))
    }
}
