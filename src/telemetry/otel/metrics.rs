//! The instruments, created once at start-up: the request-duration
//! histogram (with its attribute sets bound on first use, so a request
//! hashes nothing), the pool gauges, and the delivery counters' seam.

use std::sync::OnceLock;

use http::Method;
use opentelemetry::KeyValue;
use opentelemetry::metrics::{BoundHistogram, Counter, Histogram, Meter, MeterProvider as _};
use opentelemetry_sdk::metrics::SdkMeterProvider;

use crate::db::Pool;

/// Bucket bounds in seconds, fine enough for sub-millisecond answers (the
/// SDK's defaults, 0 … 10000, assume milliseconds).
pub const DURATION_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The methods with bound cells; any other is recorded unbound.
const METHODS: [Method; 7] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::OPTIONS,
];

/// The statuses with bound cells: every status the service answers with.
const STATUSES: [u16; 25] = [
    200, 201, 202, 204, 301, 304, 400, 401, 403, 404, 405, 406, 408, 409, 412, 413, 414, 415, 422,
    429, 431, 500, 502, 503, 504,
];

const CELLS: usize = METHODS.len() * STATUSES.len();

/// One route's cells, one per method and status, bound on first use.
#[derive(Debug)]
struct RouteCells {
    /// `None`: requests no route matched (404s, refusals before routing).
    route: Option<&'static str>,
    cells: Box<[OnceLock<BoundHistogram<f64>>]>,
}

/// The process's instruments; see the module docs.
#[derive(Debug)]
pub struct Instruments {
    meter: Meter,
    duration: Histogram<f64>,
    routes: OnceLock<Box<[RouteCells]>>,
}

impl Instruments {
    /// Creates the instruments on `provider`.
    pub(crate) fn new(provider: &SdkMeterProvider) -> Self {
        let meter = provider.meter("backend");
        let duration = meter
            .f64_histogram("http.server.request.duration")
            .with_unit("s")
            .with_description("Duration of HTTP server requests.")
            .with_boundaries(DURATION_BUCKETS.to_vec())
            .build();
        Self {
            meter,
            duration,
            routes: OnceLock::new(),
        }
    }

    /// Fixes the route templates the histogram is bound for (the app's
    /// table); the first call wins.
    pub(crate) fn set_routes(&self, templates: impl IntoIterator<Item = &'static str>) {
        let mut routes = vec![RouteCells::new(None)];
        for template in templates {
            if !routes.iter().any(|r| r.route == Some(template)) {
                routes.push(RouteCells::new(Some(template)));
            }
        }
        let _ = self.routes.set(routes.into_boxed_slice());
    }

    /// Records one request's duration.
    pub(crate) fn record(
        &self,
        method: &Method,
        route: Option<&'static str>,
        status: u16,
        seconds: f64,
    ) {
        let cells = self.routes.get().and_then(|routes| {
            routes.iter().find(|r| match (r.route, route) {
                (None, None) => true,
                (Some(a), Some(b)) => std::ptr::eq(a, b) || a == b,
                _ => false,
            })
        });
        let m = METHODS.iter().position(|x| x == method);
        let s = STATUSES.iter().position(|x| *x == status);
        match (cells, m, s) {
            (Some(cells), Some(m), Some(s)) => cells.cells[m * STATUSES.len() + s]
                .get_or_init(|| self.duration.bind(&attributes(method, route, status)))
                .record(seconds),
            _ => self
                .duration
                .record(seconds, &attributes(method, route, status)),
        }
    }

    /// Adds the pool gauges over `pool` (once; the state is built after
    /// telemetry starts, so the identity provider's first fetches are traced).
    pub fn observe_pool(&self, pool: &Pool) {
        pool_gauges(&self.meter, pool);
    }

    /// A counter for the webhook deliveries' outcomes (the delivery worker
    /// adds one per attempt with a `status` attribute it binds once).
    pub fn delivery_counter(&self) -> Counter<u64> {
        self.meter
            .u64_counter("webhook.deliveries")
            .with_unit("{delivery}")
            .with_description("Webhook delivery attempts by outcome.")
            .build()
    }

    /// Registers a gauge read at each collection through `read` (e.g. the
    /// delivery queue's depth).
    pub fn gauge(&self, name: &'static str, description: &'static str, read: fn() -> i64) {
        let _gauge = self
            .meter
            .i64_observable_gauge(name)
            .with_description(description)
            .with_callback(move |observer| observer.observe(read(), &[]))
            .build();
    }
}

impl RouteCells {
    fn new(route: Option<&'static str>) -> Self {
        Self {
            route,
            cells: (0..CELLS).map(|_| OnceLock::new()).collect(),
        }
    }
}

fn attributes(method: &Method, route: Option<&'static str>, status: u16) -> Vec<KeyValue> {
    let mut attributes = vec![
        KeyValue::new("http.request.method", method.as_str().to_owned()),
        KeyValue::new("http.response.status_code", i64::from(status)),
    ];
    if let Some(route) = route {
        attributes.push(KeyValue::new("http.route", route));
    }
    attributes
}

/// Reads one number from the pool's status.
type ReadStatus = fn(deadpool_postgres::Status) -> usize;

/// The pool's size (open connections), idle connections and waiting
/// callers, read from deadpool's `status()` at each collection.
fn pool_gauges(meter: &Meter, pool: &Pool) {
    let gauges: [(&'static str, &'static str, ReadStatus); 4] = [
        (
            "db.client.connection.pool.size",
            "Open connections in the pool.",
            |s| s.size,
        ),
        (
            "db.client.connection.pool.idle",
            "Idle connections in the pool.",
            |s| s.available,
        ),
        (
            "db.client.connection.pool.waiting",
            "Callers waiting for a connection.",
            |s| s.waiting,
        ),
        (
            "db.client.connection.pool.max",
            "The pool's maximum size.",
            |s| s.max_size,
        ),
    ];
    for (name, description, read) in gauges {
        let pool = pool.clone();
        let _gauge = meter
            .i64_observable_gauge(name)
            .with_unit("{connection}")
            .with_description(description)
            .with_callback(move |observer| {
                let value = read(pool.status());
                observer.observe(i64::try_from(value).unwrap_or(i64::MAX), &[]);
            })
            .build();
    }
}

/// The instruments, when metrics are on (the delivery worker's seam).
pub fn instruments() -> Option<&'static Instruments> {
    super::installed().and_then(|i| i.metrics.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_route_template_gets_its_cells_once_besides_the_unrouted() {
        // Requests on a known route record through cells bound at start-up;
        // the attributes are looked up only for what no cell covers.
        let provider = SdkMeterProvider::builder().build();
        let instruments = Instruments::new(&provider);
        instruments.set_routes(["/api/v1/users", "/api/v1/users/{id}", "/api/v1/users"]);
        let routes: Vec<Option<&str>> = instruments
            .routes
            .get()
            .expect("routes set")
            .iter()
            .map(|r| r.route)
            .collect();
        assert_eq!(
            routes,
            [None, Some("/api/v1/users"), Some("/api/v1/users/{id}")]
        );
        // The first call wins.
        instruments.set_routes(["/other"]);
        assert_eq!(instruments.routes.get().unwrap().len(), 3);
    }
}
