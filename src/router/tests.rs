//! Unit tests of the route table and the routing service.

use super::*;
use crate::error::ErrorSlot;
use tower::service_fn;

fn ok(_: Request) -> std::future::Ready<Result<Response, AppError>> {
    std::future::ready(Ok(Response::default()))
}

fn table() -> Router {
    Router::new(
        RouteTable::new()
            .route("/items", Method::GET, Access::Open, service_fn(ok))
            .route("/items", Method::POST, Access::Open, service_fn(ok))
            .route("/items/{id}", Method::GET, Access::Open, service_fn(ok))
            .route("/items/{id}", Method::PATCH, Access::Open, service_fn(ok))
            .route("/items/{id}", Method::DELETE, Access::Open, service_fn(ok))
            .route("/write-only", Method::POST, Access::Open, service_fn(ok)),
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
            .route(
                "/a/{first}/b/{second}",
                Method::GET,
                Access::Open,
                service_fn(ok),
            )
            .route("/files/{*rest}", Method::GET, Access::Open, service_fn(ok)),
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
    let _ = RouteTable::new().route(
        "/{a}/{b}/{c}/{d}/{e}",
        Method::GET,
        Access::Open,
        service_fn(ok),
    );
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
        .route("/items/{id}", Method::GET, Access::Open, service_fn(ok))
        .route("/items/{name}", Method::GET, Access::Open, service_fn(ok));
}

#[test]
#[should_panic(expected = "routed twice")]
fn duplicate_methods_fail_at_start_up() {
    let _ = RouteTable::new()
        .route("/items", Method::GET, Access::Open, service_fn(ok))
        .route("/items", Method::GET, Access::Open, service_fn(ok));
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
            .route("/items", Method::GET, Access::Open, service_fn(echo_id))
            .route(
                "/items/{id}",
                Method::GET,
                Access::Open,
                service_fn(echo_id),
            )
            .route(
                "/items/{id}",
                Method::DELETE,
                Access::Open,
                service_fn(refuse),
            ),
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
    let router = Router::new(RouteTable::new().route("/slow", Method::GET, Access::Open, endpoint));
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
            .route("/a", Method::DELETE, Access::Open, service_fn(ok))
            .route("/a", Method::GET, Access::Open, service_fn(ok))
            .route("/b", Method::POST, Access::Open, service_fn(ok))
            .route("/b", Method::PATCH, Access::Open, service_fn(ok)),
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
            .route("/items", Method::GET, Access::Open, service_fn(ok))
            .route("/items", Method::POST, Access::Open, service_fn(ok)),
    );
    assert_eq!(
        format!("{router:?}"),
        r#"Router { table: [(GET, "/items"), (HEAD, "/items"), (POST, "/items")] }"#
    );
}

#[test]
#[should_panic(expected = "HEAD is served by GET endpoints")]
fn head_cannot_be_routed() {
    let _ = RouteTable::new().route("/items", Method::HEAD, Access::Open, service_fn(ok));
}

#[test]
fn methods_are_every_method_served_in_a_fixed_order() {
    let table = RouteTable::new()
        .route("/a", Method::DELETE, Access::Open, service_fn(ok))
        .route("/b", Method::POST, Access::Open, service_fn(ok))
        .route("/b", Method::GET, Access::Open, service_fn(ok));
    assert_eq!(table.methods(), "GET, HEAD, POST, DELETE");
    assert_eq!(RouteTable::new().methods(), "");
}
