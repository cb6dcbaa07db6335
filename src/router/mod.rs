//! The route table: `matchit` finds the path, then the method picks the
//! endpoint; an unknown path is a 404 and a known path with another method a
//! 405 with `Allow`.
//!
//! The table is built once at start-up; a conflicting route panics there,
//! loudly, rather than misrouting later. `HEAD` is served by the `GET`
//! endpoint wherever one exists (the body is dropped by
//! [`crate::middleware::head`]).

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker, ready};

use bytes::Bytes;
use http::{HeaderValue, Method};
use pin_project_lite::pin_project;
use tower::util::BoxCloneSyncService;
use tower::{Service, ServiceExt};

use crate::error::AppError;
use crate::http::{BoxFuture, Request, Response};
use crate::middleware::future::Answer;
use crate::state::AppState;

mod access;
mod params;
#[cfg(test)]
mod tests;

pub use access::Access;
use params::param_names;
pub use params::{MAX_PARAMS, PathParams, expand};

/// An endpoint: a `tower` Service from a request to a response or an error.
pub type Endpoint = BoxCloneSyncService<Request, Response, AppError>;

/// Makes an endpoint of an async function of the shared state and the
/// request; the state is cloned (cheaply) into each call.
pub fn endpoint<F, Fut>(
    state: &AppState,
    handler: F,
) -> impl Service<Request, Response = Response, Error = AppError, Future = Fut>
+ Clone
+ Send
+ Sync
+ 'static
where
    F: Fn(AppState, Request) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<Response, AppError>> + Send + 'static,
{
    let state = state.clone();
    tower::service_fn(move |req| handler(state.clone(), req))
}

/// The route template that matched, in response extensions, for the access log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatchedRoute(pub &'static str);

struct Route {
    template: &'static str,
    /// The template's parameter names, in order (matchit reports values in
    /// the same order).
    params: [&'static str; MAX_PARAMS],
    endpoints: Vec<(Method, Access, Endpoint)>,
    allow: HeaderValue,
}

/// The mutable table of routes, filled at start-up by each feature module.
#[derive(Default)]
pub struct RouteTable {
    matcher: matchit::Router<usize>,
    routes: Vec<Route>,
}

impl fmt::Debug for RouteTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.operations()).finish()
    }
}

impl RouteTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `endpoint` for `method` on `template` (matchit syntax, e.g.
    /// `/api/v1/users/{id}`), open to callers as `access` says.
    ///
    /// # Panics
    /// When the template conflicts with another, or the method is already
    /// routed there: a programming error, caught at start-up.
    #[must_use]
    pub fn route<S>(
        mut self,
        template: &'static str,
        method: Method,
        access: Access,
        endpoint: S,
    ) -> Self
    where
        S: Service<Request, Response = Response, Error = AppError> + Clone + Send + Sync + 'static,
        S::Future: Send + 'static,
    {
        assert!(
            method != Method::HEAD,
            "HEAD is served by GET endpoints: {template}"
        );
        assert!(
            !template.contains("{{") && param_names(template).count() <= MAX_PARAMS,
            "route {template} has escaped braces or more than {MAX_PARAMS} parameters"
        );
        let index = match self.routes.iter().position(|r| r.template == template) {
            Some(index) => index,
            None => {
                if let Err(e) = self.matcher.insert(template, self.routes.len()) {
                    panic!("route {template} cannot be added: {e}");
                }
                let mut params = [""; MAX_PARAMS];
                for (slot, name) in params.iter_mut().zip(param_names(template)) {
                    *slot = name;
                }
                self.routes.push(Route {
                    template,
                    params,
                    endpoints: Vec::new(),
                    allow: HeaderValue::from_static(""),
                });
                self.routes.len() - 1
            }
        };
        let route = &mut self.routes[index];
        assert!(
            route.endpoints.iter().all(|(m, _, _)| *m != method),
            "{method} {template} is routed twice"
        );
        route
            .endpoints
            .push((method, access, BoxCloneSyncService::new(endpoint)));
        route.allow = allow_header(&route.endpoints);
        self
    }

    /// Every `(method, template)` pair served, `HEAD` included, for
    /// documentation and its tests.
    pub fn operations(&self) -> Vec<(Method, &'static str)> {
        self.accesses()
            .into_iter()
            .map(|(method, template, _)| (method, template))
            .collect()
    }

    /// Every `(method, template, access)` served, `HEAD` included (with its
    /// `GET`'s access): the document's security and its tests.
    pub fn accesses(&self) -> Vec<(Method, &'static str, Access)> {
        let mut operations = Vec::new();
        for route in &self.routes {
            for (method, access, _) in &route.endpoints {
                operations.push((method.clone(), route.template, *access));
                if method == Method::GET {
                    operations.push((Method::HEAD, route.template, *access));
                }
            }
        }
        operations
    }

    /// Wraps every endpoint with `guard`, given the route's access: how the
    /// app puts the token check after routing (404 and 405 come first) and
    /// before the endpoint (whose 400, 415 and 422 come after).
    #[must_use]
    pub fn guard(mut self, guard: impl Fn(Access, Endpoint) -> Endpoint) -> Self {
        for route in &mut self.routes {
            for (_, access, endpoint) in &mut route.endpoints {
                let inner = endpoint.clone();
                *endpoint = guard(*access, inner);
            }
        }
        self
    }

    /// Every method some route serves, `HEAD` included where `GET` is, in a
    /// fixed order: the CORS preflight's `access-control-allow-methods`.
    pub fn methods(&self) -> HeaderValue {
        const ORDER: [Method; 9] = [
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
            Method::TRACE,
            Method::CONNECT,
        ];
        let served = self.operations();
        let methods: Vec<&str> = ORDER
            .iter()
            .filter(|m| served.iter().any(|(s, _)| s == *m))
            .map(Method::as_str)
            .collect();
        HeaderValue::from_str(&methods.join(", ")).unwrap_or_else(|_| HeaderValue::from_static(""))
    }
}

fn allow_header(endpoints: &[(Method, Access, Endpoint)]) -> HeaderValue {
    let mut methods: Vec<&str> = endpoints.iter().map(|(m, _, _)| m.as_str()).collect();
    if methods.contains(&"GET") {
        methods.push("HEAD");
    }
    HeaderValue::from_str(&methods.join(", ")).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// The routing Service: dispatches to endpoints and turns their errors into
/// responses (rendered by the problem layer).
#[derive(Clone)]
pub struct Router {
    table: Arc<RouteTable>,
}

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Router")
            .field("table", &self.table)
            .finish()
    }
}

impl Router {
    /// Freezes `table` into a Service.
    pub fn new(table: RouteTable) -> Self {
        Self {
            table: Arc::new(table),
        }
    }

    /// Finds the endpoint for `method` and `path`: its route template and
    /// parameters, or the 404 / 405 error.
    pub fn lookup(
        &self,
        method: &Method,
        path: &str,
    ) -> Result<(&'static str, &Endpoint, PathParams), (Option<&'static str>, AppError)> {
        let matched = match self.table.matcher.at(path) {
            Ok(matched) => matched,
            Err(matchit::MatchError::NotFound) => return Err((None, AppError::NotFound)),
        };
        let route = &self.table.routes[*matched.value];
        let wanted = if method == Method::HEAD {
            &Method::GET
        } else {
            method
        };
        let Some((_, _, endpoint)) = route.endpoints.iter().find(|(m, _, _)| m == wanted) else {
            return Err((
                Some(route.template),
                AppError::MethodNotAllowed(route.allow.clone()),
            ));
        };
        let mut params = PathParams {
            names: route.params,
            ..PathParams::default()
        };
        for (span, (_, value)) in params.spans.iter_mut().zip(matched.params.iter()) {
            // matchit's values are slices of `path`: record where.
            let start = value.as_ptr().addr() - path.as_ptr().addr();
            *span = (start, start + value.len());
            params.len += 1;
        }
        Ok((route.template, endpoint, params))
    }
}

impl Service<http::Request<Bytes>> for Router {
    type Response = Response;
    type Error = Infallible;
    type Future = RouterFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let (template, endpoint, params) = match self.lookup(req.method(), req.uri().path()) {
            Ok((template, endpoint, params)) => (template, endpoint.clone(), params),
            Err((template, error)) => {
                let mut response = error.into_response();
                if let Some(template) = template {
                    response.extensions_mut().insert(MatchedRoute(template));
                }
                return RouterFuture {
                    state: RouterState::Answered {
                        answer: Answer::new(response),
                    },
                };
            }
        };
        if !params.is_empty() {
            req.extensions_mut().insert(params);
        }
        // Call at once when the endpoint is ready (every `endpoint()` is), so
        // the future the layers carry holds a boxed future, not the request;
        // otherwise wait for readiness with the task's own waker.
        let mut endpoint = endpoint;
        let inner = match endpoint.poll_ready(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(Ok(())) => endpoint.call(req),
            Poll::Ready(Err(error)) => Box::pin(std::future::ready(Err(error))),
            Poll::Pending => Box::pin(endpoint.oneshot(req)),
        };
        RouterFuture {
            state: RouterState::Routed { inner, template },
        }
    }
}

pin_project! {
    /// The response of [`Router`]: the endpoint's (its error rendered into a
    /// response), tagged with the route; or the router's own 404 / 405.
    pub struct RouterFuture {
        #[pin]
        state: RouterState,
    }
}

pin_project! {
    #[project = RouterProjection]
    enum RouterState {
        /// The endpoint is serving the request.
        Routed {
            inner: BoxFuture<Result<Response, AppError>>,
            template: &'static str,
        },
        /// Answered without an endpoint; taken when polled.
        Answered {
            answer: Answer,
        },
    }
}

impl Future for RouterFuture {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            RouterProjection::Routed { inner, template } => {
                let mut response =
                    ready!(inner.as_mut().poll(cx)).unwrap_or_else(AppError::into_response);
                response.extensions_mut().insert(MatchedRoute(template));
                Poll::Ready(Ok(response))
            }
            RouterProjection::Answered { answer } => Pin::new(answer).poll(cx),
        }
    }
}
