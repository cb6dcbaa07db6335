//! Liveness and readiness probes.
//!
//! `/healthz` never touches the database: a live process answers. `/readyz`
//! answers 200 only when a database round trip succeeds within one second and
//! no shutdown has begun, so a load balancer stops sending traffic first.

use std::time::Duration;

use http::{Method, StatusCode};
use serde::Serialize;
use tower::service_fn;

use serde_json::json;

use crate::error::{AppError, BoxError};
use crate::http::response::json;
use crate::http::{Request, Response};
use crate::jobs::Broker;
use crate::openapi::Document;
use crate::openapi::parts::{ok_json, operation, path_item, request_id_header};
use crate::resource::Resource;
use crate::router::{Access, RouteTable};
use crate::state::AppState;

/// The probes, as the app lists them.
pub const RESOURCE: Resource = Resource {
    name: "health",
    routes,
    openapi: describe,
    jobs: None,
};

/// The probes' paths: exempt from load shedding, so a busy service is not
/// taken for a dead one.
pub const PROBES: &[&str] = &["/healthz", "/readyz"];

/// The readiness probe's own bound on the database round trip.
pub const READINESS_TIMEOUT: Duration = Duration::from_secs(1);

/// Adds `/healthz` and `/readyz` to `table`.
pub fn routes(table: RouteTable, state: &AppState) -> RouteTable {
    probes(table, state, None)
}

/// The probes of `backend worker`: `/readyz` also reports the job broker
/// (`checks.broker`: with `JOBS_BROKER=postgres` the broker is the
/// database, so it is the same round trip; with `redis`, a `PING`).
pub fn worker_routes(table: RouteTable, state: &AppState, broker: Broker) -> RouteTable {
    probes(table, state, Some(broker))
}

fn probes(table: RouteTable, state: &AppState, broker: Option<Broker>) -> RouteTable {
    let ready_state = state.clone();
    table
        .route("/healthz", Method::GET, Access::Open, service_fn(healthz))
        .route(
            "/readyz",
            Method::GET,
            Access::Open,
            service_fn(move |req| readyz(ready_state.clone(), broker.clone(), req)),
        )
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
}

async fn healthz(_req: Request) -> Result<Response, AppError> {
    json(StatusCode::OK, &Health { status: "ok" })
}

#[derive(Serialize)]
struct Readiness {
    status: &'static str,
    checks: Checks,
}

#[derive(Serialize)]
struct Checks {
    database: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    server: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    broker: Option<&'static str>,
}

async fn readyz(
    state: AppState,
    broker: Option<Broker>,
    _req: Request,
) -> Result<Response, AppError> {
    if state.is_shutting_down() {
        let body = Readiness {
            status: "unavailable",
            checks: Checks {
                database: "skipped",
                server: Some("shutting_down"),
                broker: broker.map(|_| "skipped"),
            },
        };
        return json(StatusCode::SERVICE_UNAVAILABLE, &body);
    }
    let database = check_database(&state).await;
    let broker = match &broker {
        Some(Broker::Postgres { .. }) => Some(database),
        Some(broker) => Some(bounded("broker", broker.check()).await),
        None => None,
    };
    let (status, code) = if database == "ok" && broker.is_none_or(|b| b == "ok") {
        ("ready", StatusCode::OK)
    } else {
        ("unavailable", StatusCode::SERVICE_UNAVAILABLE)
    };
    let body = Readiness {
        status,
        checks: Checks {
            database,
            server: None,
            broker,
        },
    };
    json(code, &body)
}

/// One round trip to the database; see [`bounded`].
async fn check_database(state: &AppState) -> &'static str {
    let check = async {
        let db = state.pool.db().await?;
        db.ping().await?;
        Ok::<_, BoxError>(())
    };
    bounded("database", check).await
}

/// `check`, bounded by [`READINESS_TIMEOUT`]: `ok`, `timeout` or
/// `unreachable` (the cause goes to the log).
async fn bounded(
    what: &'static str,
    check: impl Future<Output = Result<(), BoxError>>,
) -> &'static str {
    match tokio::time::timeout(READINESS_TIMEOUT, check).await {
        Ok(Ok(())) => "ok",
        Ok(Err(e)) => {
            tracing::warn!(check = what, error = %crate::error::error_chain(&*e), "readiness check failed");
            "unreachable"
        }
        Err(_) => "timeout",
    }
}

/// Adds `/healthz` and `/readyz` and their schemas to `doc`.
fn describe(doc: &mut Document) {
    doc.tag("operations", "Probes and this API's own documents.");
    let healthz = operation(
        "healthz",
        "Liveness: the process answers; never touches the database",
        "operations",
        &[(
            "200",
            ok_json("Alive.", &json!({"$ref": "#/components/schemas/Health"})),
        )],
        json!({}),
    );
    let readiness = json!({"$ref": "#/components/schemas/Readiness"});
    let readyz = operation(
        "readyz",
        "Readiness: a database round trip within one second, and no shutdown under way",
        "operations",
        &[
            ("200", ok_json("Ready.", &readiness)),
            (
                "503",
                json!({
                    "description": "Not ready: the database is unreachable or slow, or a shutdown began (application/json); or the service is overloaded (a problem).",
                    "headers": request_id_header(),
                    "content": {
                        "application/json": {"schema": readiness},
                        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
                    }
                }),
            ),
        ],
        json!({}),
    );
    doc.path("/healthz", path_item(Some(healthz), &[]));
    doc.path("/readyz", path_item(Some(readyz), &[]));
    doc.schema(
        "Health",
        json!({
            "type": "object",
            "required": ["status"],
            "additionalProperties": false,
            "properties": {"status": {"const": "ok"}}
        }),
    );
    doc.schema(
        "Readiness",
        json!({
            "type": "object",
            "required": ["status", "checks"],
            "additionalProperties": false,
            "properties": {
                "status": {"enum": ["ready", "unavailable"]},
                "checks": {
                    "type": "object",
                    "required": ["database"],
                    "additionalProperties": false,
                    "properties": {
                        "database": {"enum": ["ok", "timeout", "unreachable", "skipped"]},
                        "server": {"const": "shutting_down"},
                        "broker": {"enum": ["ok", "timeout", "unreachable", "skipped"], "description": "Only on `backend worker`: the job broker (with JOBS_BROKER=postgres, the database)."}
                    }
                }
            }
        }),
    );
}
