//! The error-mapping layer: renders every [`AppError`](crate::error::AppError)
//! carried by a response as `application/problem+json`, with the request's
//! path as `instance` and its id as `request_id`.
//!
//! Inner layers and endpoints only say *what* went wrong
//! ([`AppError::into_response`](crate::error::AppError::into_response)); this
//! is the one place that decides how it looks on the wire.

use std::convert::Infallible;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderValue, Request, Uri, header};
use http_body_util::Full;
use tower::{Layer, Service};

use super::future::{Finish, Finishing};
use super::request_id::RequestId;
use crate::error::ErrorSlot;
use crate::http::Response;

/// `application/problem+json`.
pub static PROBLEM_JSON: HeaderValue = HeaderValue::from_static("application/problem+json");

/// Applies [`ProblemService`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ProblemLayer;

impl<S> Layer<S> for ProblemLayer {
    type Service = ProblemService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ProblemService { inner }
    }
}

/// Renders problem bodies for responses that carry an error.
#[derive(Debug, Clone)]
pub struct ProblemService<S> {
    inner: S,
}

impl<S, B> Service<Request<B>> for ProblemService<S>
where
    S: Service<Request<B>, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Finishing<S::Future, RenderProblem>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        // The raw path as received, not percent-decoded; the Uri shares its
        // bytes, so keeping it costs no copy.
        let uri = req.uri().clone();
        let id = req.extensions().get::<RequestId>().cloned();
        Finishing::new(self.inner.call(req), RenderProblem { uri, id })
    }
}

/// Renders the error a response carries, if any, as its problem body.
#[derive(Debug, Clone)]
pub struct RenderProblem {
    uri: Uri,
    id: Option<RequestId>,
}

impl Finish for RenderProblem {
    fn finish(self, response: &mut Response) {
        let Some(error) = response
            .extensions_mut()
            .remove::<ErrorSlot>()
            .and_then(|slot| slot.take())
        else {
            return;
        };
        let request_id = self.id.as_ref().map_or("", RequestId::as_str);
        let body = error.problem_body(self.uri.path(), request_id);
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, PROBLEM_JSON.clone());
        *response.body_mut() = Full::new(Bytes::from(body));
    }
}
