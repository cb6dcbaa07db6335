//! `HEAD` responses: the headers a `GET` would have, `content-length`
//! included, and no body — on HTTP/1.1 and HTTP/2 alike.
//!
//! The router serves `HEAD` with the `GET` endpoint; this outermost layer
//! drops the body after every other layer has had its say.

use std::convert::Infallible;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, header};
use http_body::Body;
use http_body_util::Full;
use tower::{Layer, Service};

use crate::{BoxFuture, Response};

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
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let is_head = req.method() == Method::HEAD;
        let future = self.inner.call(req);
        Box::pin(async move {
            let mut response = future.await?;
            if !is_head {
                return Ok(response);
            }
            let length = response.body().size_hint().exact().unwrap_or(0);
            response
                .headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(length));
            *response.body_mut() = Full::new(Bytes::new());
            Ok(response)
        })
    }
}
