//! `cache-control: no-store` on every response of a resource route: they
//! hold personal data, which no browser cache or shared proxy may keep.
//!
//! Decided by the request path, not by a list of routes: every path under
//! `/api/v1/` is a resource path (routed or not) except the OpenAPI
//! document, which is public and cacheable. A prefix needs no update when a
//! resource is added, and it covers what no route table knows: the 404 of
//! an unknown `/api/v1/...` path, the 405, and the answers that layers give
//! without reaching the router (413, 408, 503 from load shedding, 504, the
//! panic's 500). For that, the layer sits outside all of them, beside the
//! `nosniff` header layer in [`crate::app::app`].

use std::convert::Infallible;
use std::task::{Context, Poll};

use http::{HeaderValue, Request, header};
use tower::{Layer, Service};

use super::future::{Finish, Finishing};
use crate::http::Response;
use crate::openapi::DOCUMENT_PATH;

/// The base path of the resource API.
pub const RESOURCE_PREFIX: &str = "/api/v1";

/// Applies [`CacheControlService`].
#[derive(Debug, Clone, Copy, Default)]
pub struct CacheControlLayer;

impl<S> Layer<S> for CacheControlLayer {
    type Service = CacheControlService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CacheControlService { inner }
    }
}

/// Sets `cache-control: no-store` on the responses to resource paths.
#[derive(Debug, Clone)]
pub struct CacheControlService<S> {
    inner: S,
}

impl<S, B> Service<Request<B>> for CacheControlService<S>
where
    S: Service<Request<B>, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Finishing<S::Future, NoStore>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let no_store = is_resource_path(req.uri().path());
        Finishing::new(self.inner.call(req), NoStore(no_store))
    }
}

/// Whether `path` (as received, not decoded) is under the resource API and
/// is not the OpenAPI document.
pub fn is_resource_path(path: &str) -> bool {
    let under = path
        .strip_prefix(RESOURCE_PREFIX)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
    under && path != DOCUMENT_PATH
}

/// Marks the response `no-store` (when `.0`).
#[derive(Debug, Clone, Copy)]
pub struct NoStore(bool);

impl Finish for NoStore {
    fn finish(self, response: &mut Response) {
        if self.0 {
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
    }
}

#[cfg(test)]
mod tests {
    use tower::{ServiceExt, service_fn};

    use super::*;

    #[test]
    fn resource_paths_are_decided_by_prefix() {
        for path in [
            "/api/v1",
            "/api/v1/",
            "/api/v1/users",
            "/api/v1/users/x/",
            "/api/v1/nothing",
            "/api/v1/openapi.json/",
            "/api/v1/%6Fpenapi.json",
        ] {
            assert!(is_resource_path(path), "{path}");
        }
        for path in [
            "/",
            "/healthz",
            "/readyz",
            "/docs",
            "/api/v1/openapi.json",
            "/api/v10/users",
            "/api/v1x",
            "/api",
            "/API/v1/users",
        ] {
            assert!(!is_resource_path(path), "{path}");
        }
    }

    async fn cache_control(path: &str, status: u16) -> Option<HeaderValue> {
        let inner = service_fn(move |_req: Request<()>| async move {
            let mut response = Response::default();
            *response.status_mut() = http::StatusCode::from_u16(status).unwrap();
            Ok::<_, Infallible>(response)
        });
        let req = Request::builder().uri(path).body(()).unwrap();
        let response = CacheControlLayer.layer(inner).oneshot(req).await.unwrap();
        response.headers().get(header::CACHE_CONTROL).cloned()
    }

    #[tokio::test]
    async fn every_answer_on_a_resource_path_is_no_store_and_no_other() {
        for status in [200, 404, 500, 503] {
            assert_eq!(
                cache_control("/api/v1/users?limit=1", status)
                    .await
                    .unwrap(),
                "no-store"
            );
            assert_eq!(cache_control("/healthz", status).await, None);
            assert_eq!(cache_control(DOCUMENT_PATH, status).await, None);
        }
    }
}
