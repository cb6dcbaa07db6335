//! CORS for an exact list of origins, closed when the list is empty.
//!
//! Our own rather than tower-http's: that layer answers *every* `OPTIONS`
//! request as a preflight, on any path, even with no origin allowed, where
//! API.md wants a 404 or a 405 + `Allow`. Here, only a real preflight
//! (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) from an
//! allowed origin is answered by the layer; everything else goes on to the
//! router untouched.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{HeaderValue, Method, Request, StatusCode, header};
use tower::{Layer, Service};

use super::future::{AnswerOr, Finish, Finishing};
use crate::http::Response;

static ALLOW_HEADERS: HeaderValue = HeaderValue::from_static("content-type, x-request-id");
static EXPOSE_HEADERS: HeaderValue =
    HeaderValue::from_static("x-request-id, location, retry-after");
static MAX_AGE: HeaderValue = HeaderValue::from_static("600");
static VARY: HeaderValue = HeaderValue::from_static("origin");

/// Applies [`CorsService`] for `origins` (exact `scheme://host[:port]`).
#[derive(Debug, Clone)]
pub struct CorsLayer {
    origins: Arc<[HeaderValue]>,
    allow_methods: HeaderValue,
}

impl CorsLayer {
    /// A layer allowing exactly `origins` (none means CORS is closed) to use
    /// `allow_methods`: the methods the route table serves
    /// ([`crate::router::RouteTable::methods`]).
    pub fn new(origins: &[HeaderValue], allow_methods: HeaderValue) -> Self {
        Self {
            origins: origins.into(),
            allow_methods,
        }
    }
}

impl<S> Layer<S> for CorsLayer {
    type Service = CorsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CorsService {
            inner,
            origins: Arc::clone(&self.origins),
            allow_methods: self.allow_methods.clone(),
        }
    }
}

/// Answers allowed preflights and marks allowed responses.
#[derive(Debug, Clone)]
pub struct CorsService<S> {
    inner: S,
    origins: Arc<[HeaderValue]>,
    allow_methods: HeaderValue,
}

impl<S, B> Service<Request<B>> for CorsService<S>
where
    S: Service<Request<B>, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = AnswerOr<Finishing<S::Future, Marks>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        if self.origins.is_empty() {
            return AnswerOr::inner(Finishing::new(self.inner.call(req), Marks::None));
        }
        let origin = req
            .headers()
            .get(header::ORIGIN)
            .filter(|o| self.origins.contains(o))
            .cloned();
        let Some(origin) = origin else {
            return AnswerOr::inner(Finishing::new(self.inner.call(req), Marks::Vary));
        };
        let preflight = req.method() == Method::OPTIONS
            && req
                .headers()
                .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
        if preflight {
            let mut response = crate::http::response::empty(StatusCode::NO_CONTENT);
            let headers = response.headers_mut();
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            headers.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                self.allow_methods.clone(),
            );
            headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS.clone());
            headers.insert(header::ACCESS_CONTROL_MAX_AGE, MAX_AGE.clone());
            headers.append(header::VARY, VARY.clone());
            return AnswerOr::answer(response);
        }
        AnswerOr::inner(Finishing::new(self.inner.call(req), Marks::Allowed(origin)))
    }
}

/// What a response passed through [`CorsService`] gets added.
#[derive(Debug, Clone)]
pub enum Marks {
    /// Nothing: CORS is closed.
    None,
    /// `vary: origin`: the answer depends on the origin, which is not allowed.
    Vary,
    /// The headers of an allowed origin.
    Allowed(HeaderValue),
}

impl Finish for Marks {
    fn finish(self, response: &mut Response) {
        let headers = response.headers_mut();
        match self {
            Marks::None => {}
            Marks::Vary => {
                headers.append(header::VARY, VARY.clone());
            }
            Marks::Allowed(origin) => {
                headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
                headers.insert(
                    header::ACCESS_CONTROL_EXPOSE_HEADERS,
                    EXPOSE_HEADERS.clone(),
                );
                headers.append(header::VARY, VARY.clone());
            }
        }
    }
}
