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
use crate::middleware::future::Answer;
use crate::{AppState, BoxFuture, Request, Response};

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

/// The most parameters a route template may have.
pub const MAX_PARAMS: usize = 4;

/// Path parameters of the matched route, in request extensions: where each
/// value lies in the request's path, still percent-encoded as received.
///
/// Positions rather than copies, so routing allocates nothing per request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PathParams {
    names: [&'static str; MAX_PARAMS],
    spans: [(usize, usize); MAX_PARAMS],
    len: usize,
}

impl PathParams {
    /// The raw value of parameter `name` in `path` (the request's path these
    /// parameters were found in), if the route has it.
    pub fn get<'p>(&self, path: &'p str, name: &str) -> Option<&'p str> {
        let index = self.names[..self.len].iter().position(|n| *n == name)?;
        let (start, end) = self.spans[index];
        path.get(start..end)
    }

    /// Whether the route has no parameters.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The parameter names of a matchit template, in order (`{id}` -> `id`,
/// `{*rest}` -> `rest`).
fn param_names(template: &str) -> impl Iterator<Item = &str> {
    template
        .split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}'))
        .map(|(name, _)| name.trim_start_matches('*'))
}

struct Route {
    template: &'static str,
    /// The template's parameter names, in order (matchit reports values in
    /// the same order).
    params: [&'static str; MAX_PARAMS],
    endpoints: Vec<(Method, Endpoint)>,
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
    /// `/api/v1/users/{id}`).
    ///
    /// # Panics
    /// When the template conflicts with another, or the method is already
    /// routed there: a programming error, caught at start-up.
    #[must_use]
    pub fn route<S>(mut self, template: &'static str, method: Method, endpoint: S) -> Self
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
            route.endpoints.iter().all(|(m, _)| *m != method),
            "{method} {template} is routed twice"
        );
        route
            .endpoints
            .push((method, BoxCloneSyncService::new(endpoint)));
        route.allow = allow_header(&route.endpoints);
        self
    }

    /// Every `(method, template)` pair served, `HEAD` included, for
    /// documentation and its tests.
    pub fn operations(&self) -> Vec<(Method, &'static str)> {
        let mut operations = Vec::new();
        for route in &self.routes {
            for (method, _) in &route.endpoints {
                operations.push((method.clone(), route.template));
                if method == Method::GET {
                    operations.push((Method::HEAD, route.template));
                }
            }
        }
        operations
    }
}

fn allow_header(endpoints: &[(Method, Endpoint)]) -> HeaderValue {
    let mut methods: Vec<&str> = endpoints.iter().map(|(m, _)| m.as_str()).collect();
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
        let Some((_, endpoint)) = route.endpoints.iter().find(|(m, _)| m == wanted) else {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorSlot;
    use tower::service_fn;

    fn ok(_: Request) -> std::future::Ready<Result<Response, AppError>> {
        std::future::ready(Ok(Response::default()))
    }

    fn table() -> Router {
        Router::new(
            RouteTable::new()
                .route("/items", Method::GET, service_fn(ok))
                .route("/items", Method::POST, service_fn(ok))
                .route("/items/{id}", Method::GET, service_fn(ok))
                .route("/items/{id}", Method::PATCH, service_fn(ok))
                .route("/items/{id}", Method::DELETE, service_fn(ok))
                .route("/write-only", Method::POST, service_fn(ok)),
        )
    }

    #[test]
    fn finds_routes_and_params() {
        let router = table();
        let (template, _, params) = router.lookup(&Method::GET, "/items/42").unwrap();
        assert_eq!(template, "/items/{id}");
        assert_eq!(params.get("/items/42", "id"), Some("42"));
        assert_eq!(params.get("/items/42", "other"), None);
        let (template, _, params) = router.lookup(&Method::POST, "/items").unwrap();
        assert_eq!(template, "/items");
        assert!(params.is_empty());
        assert_eq!(params.get("/items", "id"), None);
    }

    #[test]
    fn several_parameters_are_found_by_name_still_encoded() {
        let router = Router::new(
            RouteTable::new()
                .route("/a/{first}/b/{second}", Method::GET, service_fn(ok))
                .route("/files/{*rest}", Method::GET, service_fn(ok)),
        );
        let path = "/a/x%20y/b/%E2%9C%93";
        let (_, _, params) = router.lookup(&Method::GET, path).unwrap();
        assert_eq!(params.get(path, "first"), Some("x%20y"));
        assert_eq!(params.get(path, "second"), Some("%E2%9C%93"));
        assert_eq!(params.get(path, "third"), None);
        let path = "/files/docs/guide.md";
        let (_, _, params) = router.lookup(&Method::GET, path).unwrap();
        assert_eq!(params.get(path, "rest"), Some("docs/guide.md"));
    }

    #[test]
    #[should_panic(expected = "more than 4 parameters")]
    fn too_many_parameters_fail_at_start_up() {
        let _ = RouteTable::new().route("/{a}/{b}/{c}/{d}/{e}", Method::GET, service_fn(ok));
    }

    #[test]
    fn head_uses_get_only_where_get_exists() {
        let router = table();
        assert!(router.lookup(&Method::HEAD, "/items/1").is_ok());
        let (template, error) = router.lookup(&Method::HEAD, "/write-only").unwrap_err();
        assert_eq!(template, Some("/write-only"));
        assert!(matches!(error, AppError::MethodNotAllowed(allow) if allow == "POST"));
    }

    #[test]
    fn unknown_paths_and_trailing_slashes_are_404() {
        let router = table();
        for path in [
            "/",
            "/items/",
            "/items/1/",
            "/itemsx",
            "/items/1/more",
            "//items",
        ] {
            let (template, error) = router.lookup(&Method::GET, path).unwrap_err();
            assert_eq!(template, None, "{path}");
            assert!(matches!(error, AppError::NotFound), "{path}");
        }
    }

    #[test]
    fn wrong_method_is_405_with_allow() {
        let router = table();
        let (_, error) = router.lookup(&Method::PUT, "/items/1").unwrap_err();
        assert!(
            matches!(&error, AppError::MethodNotAllowed(allow) if allow == "GET, PATCH, DELETE, HEAD"),
            "{error:?}"
        );
        let (_, error) = router.lookup(&Method::DELETE, "/items").unwrap_err();
        assert!(matches!(&error, AppError::MethodNotAllowed(allow) if allow == "GET, POST, HEAD"));
    }

    #[test]
    fn operations_list_every_method_with_head() {
        let ops = table().table.operations();
        assert!(ops.contains(&(Method::HEAD, "/items")));
        assert!(ops.contains(&(Method::DELETE, "/items/{id}")));
        assert!(!ops.contains(&(Method::HEAD, "/write-only")));
        assert_eq!(ops.len(), 8);
    }

    #[test]
    #[should_panic(expected = "cannot be added")]
    fn conflicting_routes_fail_at_start_up() {
        let _ = RouteTable::new()
            .route("/items/{id}", Method::GET, service_fn(ok))
            .route("/items/{name}", Method::GET, service_fn(ok));
    }

    #[test]
    #[should_panic(expected = "routed twice")]
    fn duplicate_methods_fail_at_start_up() {
        let _ = RouteTable::new()
            .route("/items", Method::GET, service_fn(ok))
            .route("/items", Method::GET, service_fn(ok));
    }

    /// An endpoint answering 200 with the `id` parameter it was given as
    /// its body, or `-` when the request carries no parameters at all.
    #[allow(clippy::needless_pass_by_value)] // a service takes its request by value
    fn echo_id(req: Request) -> std::future::Ready<Result<Response, AppError>> {
        let id = req
            .extensions()
            .get::<PathParams>()
            .map_or("-".to_owned(), |p| {
                p.get(req.uri().path(), "id").unwrap_or("?").to_owned()
            });
        std::future::ready(Ok(Response::new(http_body_util::Full::new(Bytes::from(
            id,
        )))))
    }

    fn refuse(_: Request) -> std::future::Ready<Result<Response, AppError>> {
        std::future::ready(Err(AppError::Conflict("no".into())))
    }

    async fn call(router: &Router, method: Method, path: &str) -> Response {
        let request = http::Request::builder()
            .method(method)
            .uri(path)
            .body(Bytes::new())
            .unwrap();
        router.clone().oneshot(request).await.unwrap()
    }

    async fn body(response: Response) -> Bytes {
        use http_body_util::BodyExt;
        response.into_body().collect().await.unwrap().to_bytes()
    }

    fn route_of(response: &Response) -> Option<&'static str> {
        response.extensions().get::<MatchedRoute>().map(|r| r.0)
    }

    #[tokio::test]
    async fn the_service_dispatches_with_params_and_tags_the_route() {
        let router = Router::new(
            RouteTable::new()
                .route("/items", Method::GET, service_fn(echo_id))
                .route("/items/{id}", Method::GET, service_fn(echo_id))
                .route("/items/{id}", Method::DELETE, service_fn(refuse)),
        );
        let response = call(&router, Method::GET, "/items/42").await;
        assert_eq!(response.status(), 200);
        assert_eq!(route_of(&response), Some("/items/{id}"));
        assert_eq!(body(response).await, "42");
        let response = call(&router, Method::HEAD, "/items").await;
        assert_eq!(route_of(&response), Some("/items"));
        assert_eq!(body(response).await, "-", "no parameters, no extension");
        // An endpoint's error becomes its response, still tagged.
        let response = call(&router, Method::DELETE, "/items/42").await;
        assert_eq!(response.status(), 409);
        assert_eq!(route_of(&response), Some("/items/{id}"));
        assert!(response.extensions().get::<ErrorSlot>().is_some());
    }

    /// An endpoint that is not ready the first time it is asked, and answers
    /// 200 only if it was asked again before being called.
    #[derive(Clone, Default)]
    struct SlowToStart {
        asked: Arc<std::sync::atomic::AtomicUsize>,
    }

    impl Service<Request> for SlowToStart {
        type Response = Response;
        type Error = AppError;
        type Future = std::future::Ready<Result<Response, AppError>>;

        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), AppError>> {
            if self.asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, _req: Request) -> Self::Future {
            let asked = self.asked.load(std::sync::atomic::Ordering::SeqCst);
            let status = if asked >= 2 { 200 } else { 500 };
            let mut response = Response::default();
            *response.status_mut() = http::StatusCode::from_u16(status).unwrap();
            std::future::ready(Ok(response))
        }
    }

    #[tokio::test]
    async fn an_endpoint_not_yet_ready_is_waited_for_then_called() {
        let endpoint = SlowToStart::default();
        let asked = Arc::clone(&endpoint.asked);
        let router = Router::new(RouteTable::new().route("/slow", Method::GET, endpoint));
        let response = call(&router, Method::GET, "/slow").await;
        assert_eq!(response.status(), 200);
        assert_eq!(route_of(&response), Some("/slow"));
        assert!(asked.load(std::sync::atomic::Ordering::SeqCst) >= 2);
    }

    #[tokio::test]
    async fn the_service_answers_404_and_405_itself() {
        let router = table();
        let response = call(&router, Method::GET, "/nowhere").await;
        assert_eq!(response.status(), 404);
        assert_eq!(route_of(&response), None, "no route matched");
        let response = call(&router, Method::PUT, "/items").await;
        assert_eq!(response.status(), 405);
        assert_eq!(response.headers()[http::header::ALLOW], "GET, POST, HEAD");
        assert_eq!(route_of(&response), Some("/items"), "the path matched");
        let mut router = router;
        let waker = std::task::Waker::noop();
        let ready = router.poll_ready(&mut Context::from_waker(waker));
        assert!(matches!(ready, Poll::Ready(Ok(()))));
    }

    #[test]
    fn allow_lists_methods_in_the_order_routed() {
        let router = Router::new(
            RouteTable::new()
                .route("/a", Method::DELETE, service_fn(ok))
                .route("/a", Method::GET, service_fn(ok))
                .route("/b", Method::POST, service_fn(ok))
                .route("/b", Method::PATCH, service_fn(ok)),
        );
        let allow = |path| match router.lookup(&Method::PUT, path) {
            Err((_, AppError::MethodNotAllowed(allow))) => allow,
            _ => panic!("not a 405"),
        };
        assert_eq!(allow("/a"), "DELETE, GET, HEAD");
        assert_eq!(allow("/b"), "POST, PATCH");
    }

    #[test]
    fn debug_output_lists_the_operations() {
        let router = Router::new(
            RouteTable::new()
                .route("/items", Method::GET, service_fn(ok))
                .route("/items", Method::POST, service_fn(ok)),
        );
        assert_eq!(
            format!("{router:?}"),
            r#"Router { table: [(GET, "/items"), (HEAD, "/items"), (POST, "/items")] }"#
        );
    }

    #[test]
    #[should_panic(expected = "HEAD is served by GET endpoints")]
    fn head_cannot_be_routed() {
        let _ = RouteTable::new().route("/items", Method::HEAD, service_fn(ok));
    }
}
