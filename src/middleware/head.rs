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

use super::future::{Finish, Finishing};
use crate::http::Response;

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
    type Future = Finishing<S::Future, StripHeadBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let is_head = req.method() == Method::HEAD;
        Finishing::new(self.inner.call(req), StripHeadBody(is_head))
    }
}

/// Drops the body of the response to a `HEAD` request (when `.0`), keeping
/// its length in `content-length`.
#[derive(Debug, Clone, Copy)]
pub struct StripHeadBody(bool);

impl Finish for StripHeadBody {
    fn finish(self, response: &mut Response) {
        if self.0 {
            let length = response.body().size_hint().exact().unwrap_or(0);
            response
                .headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(length));
            *response.body_mut() = Full::new(Bytes::new());
        }
    }
}
