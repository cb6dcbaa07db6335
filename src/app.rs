//! The app factory: the resources the service serves, and the layers every
//! request passes through, outermost first.

use http::{HeaderName, HeaderValue};
use tower::ServiceBuilder;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::error::BoxError;
use crate::http::Response;
use crate::middleware::cache_control::CacheControlLayer;
use crate::middleware::{
    access_log::AccessLogLayer,
    body_limit::{BodyLimitLayer, BodyRules},
    catch_panic::CatchPanicLayer,
    cors::CorsLayer,
    head::HeadLayer,
    load_shed::LoadShedLayer,
    problem::ProblemLayer,
    request_id::RequestIdLayer,
    timeout::TimeoutLayer,
};
use crate::resource::Resource;
use crate::router::{RouteTable, Router};
use crate::state::AppState;
use crate::telemetry::otel::server::ServerSpanLayer;
use crate::{auth, health, openapi, users, webhooks};

/// Every resource the service serves; the OpenAPI document is assembled from
/// the same list. Adding a resource is one line here.
pub const RESOURCES: &[Resource] = &[health::RESOURCE, users::RESOURCE, webhooks::RESOURCE];

/// The job runner of this process, with the job kinds of every resource
/// (webhook deliveries); it runs until `stop` turns true.
///
/// It has a pool of its own, `2 × WORKER_CONCURRENCY + 2` connections (a
/// running job may use two at once: its own and its heartbeat's; one more
/// for claiming, one for the Redis relay): jobs never take connections from requests, and the
/// worker can still record or release its jobs while the server's pool is
/// being closed.
pub fn worker(
    state: &AppState,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<crate::jobs::worker::Worker, BoxError> {
    let mut settings = state.settings.clone();
    settings.pool_size = settings.jobs.concurrency * 2 + 2;
    let pool = crate::db::build_pool(&settings)?;
    let mut handlers = crate::jobs::Handlers::default();
    for jobs in RESOURCES.iter().filter_map(|resource| resource.jobs) {
        handlers = handlers.merge(jobs(&settings, pool.clone())?);
    }
    Ok(crate::jobs::worker::Worker::start(
        &settings, pool, handlers, stop,
    )?)
}

/// The standard route table: every resource, then the OpenAPI document and
/// its page (which describe them all).
pub fn routes(state: &AppState) -> RouteTable {
    let table = RESOURCES.iter().fold(RouteTable::new(), |table, resource| {
        (resource.routes)(table, state)
    });
    openapi::routes(table, RESOURCES, &state.settings.auth)
}

/// The whole service around `table` (usually [`routes`]; tests add routes
/// that are not shipped, e.g. one that panics), for any request body type.
///
/// The request path, outermost first: server span and duration histogram
/// (pass-through with telemetry off) · HEAD body strip · nosniff ·
/// cache-control · request id · problem rendering · access log · CORS ·
/// panic catcher · timeout · body limit (and pace) · load shedding (probes
/// exempt) · router → endpoint. The body is read before load shedding
/// admits the request, so a stalled upload never holds a place in the
/// concurrency budget.
pub fn app<B>(
    state: &AppState,
    table: RouteTable,
) -> impl tower::Service<
    ::http::Request<B>,
    Response = Response,
    Error = std::convert::Infallible,
    Future: Send + 'static,
> + Clone
+ Send
+ Sync
+ 'static
where
    B: ::http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let settings = &state.settings;
    let cors = CorsLayer::new(&settings.cors_allow_origins, table.methods());
    let traced = ServerSpanLayer::new(table.operations().into_iter().map(|(_, t)| t));
    // The token check wraps each protected endpoint: after routing (404,
    // 405), before the endpoint's own checks.
    let table = match &state.auth {
        Some(verifier) => {
            table.guard(|access, endpoint| auth::layer::guard(verifier, access, endpoint))
        }
        None => table,
    };
    ServiceBuilder::new()
        .layer(traced)
        .layer(HeadLayer)
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("x-content-type-options"),
            HeaderValue::from_static("nosniff"),
        ))
        .layer(CacheControlLayer)
        .layer(RequestIdLayer)
        .layer(ProblemLayer)
        .layer(AccessLogLayer)
        .layer(cors)
        .layer(CatchPanicLayer)
        .layer(TimeoutLayer::new(settings.request_timeout))
        .layer(BodyLimitLayer::new(BodyRules {
            limit: settings.body_limit,
            min_rate: settings.connections.body_min_rate,
            grace: settings.connections.body_grace,
        }))
        .layer(LoadShedLayer::new(settings.max_concurrent_requests).exempt(health::PROBES))
        .service(Router::new(table))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::config::{DatabaseUrl, Settings};

    fn state() -> AppState {
        let url = DatabaseUrl::parse("postgres://app@localhost/unused").unwrap();
        AppState::new(Settings::for_database(url)).unwrap()
    }

    #[tokio::test]
    async fn the_document_and_the_route_table_name_the_same_operations() {
        let table = routes(&state());
        let routed: BTreeSet<(String, String)> = table
            .operations()
            .into_iter()
            .map(|(method, path)| (method.as_str().to_lowercase(), path.to_owned()))
            .collect();
        let doc = openapi::document(RESOURCES);
        let mut documented = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                documented.insert((method.clone(), path.clone()));
            }
        }
        assert_eq!(documented, routed);
    }

    #[tokio::test]
    async fn every_resource_route_declares_a_scope() {
        for (method, template, access) in routes(&state()).accesses() {
            let resource = template.starts_with("/api/v1/") && template != openapi::DOCUMENT_PATH;
            assert_eq!(
                access.scope().is_some(),
                resource,
                "{method} {template} is {access:?}"
            );
        }
    }

    #[tokio::test]
    async fn cors_allows_exactly_the_methods_routed() {
        assert_eq!(routes(&state()).methods(), "GET, HEAD, POST, PATCH, DELETE");
    }
}
