//! The delivery job: one attempt to POST an event to its subscription, as
//! the Standard Webhooks specification says — `webhook-id` (the delivery's
//! id), `webhook-timestamp` (this attempt's Unix seconds),
//! `webhook-signature` — plus the originating request's `x-request-id`.
//!
//! Success is a `2xx` within `WEBHOOK_TIMEOUT_MS`, which bounds the whole
//! attempt (resolving, connecting, TLS, request, response head and body).
//! The response's status is recorded on the delivery row; the job runner
//! records the outcome.
//!
//! When traces are on, each attempt is a client span (`POST`, the
//! receiver's host, the status or `error.type`, `webhook.delivery.id`)
//! linked to the request that caused the event (its `traceparent` is
//! stored with the delivery), and its own `traceparent` is sent with the
//! request. Each attempt is counted by outcome ([`super::metrics`]).

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Uri};
use http_body_util::{BodyExt, Full};
use opentelemetry::KeyValue;
use tokio_postgres::types::Type;
use uuid::Uuid;

use super::client::{self, Client};
use super::metrics::{self, Attempt};
use super::outbox::KIND;
use super::signature;
use crate::config::Settings;
use crate::db::Pool;
use crate::error::BoxError;
use crate::http::BoxFuture;
use crate::jobs::{Handler, Handlers, Job, Outcome, RetryPolicy};
use crate::telemetry::otel::spans::ClientSpan;

const LOAD: &str = "SELECT d.body, d.request_id, w.url, w.secret, d.traceparent \
     FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id WHERE d.id = $1";

const RECORD: &str = "UPDATE webhook_deliveries SET last_response_status = $2 WHERE id = $1";

/// Runs webhook deliveries.
#[derive(Debug, Clone)]
pub struct Delivery {
    pool: Pool,
    client: Client,
    timeout: std::time::Duration,
    retry: RetryPolicy,
}

struct Loaded {
    body: String,
    request_id: Option<String>,
    url: String,
    secret: String,
    traceparent: Option<String>,
}

impl Delivery {
    /// The delivery job's handler, from the settings.
    pub fn new(settings: &Settings, pool: Pool) -> Result<Self, BoxError> {
        Ok(Self {
            pool,
            client: client::build(settings.jobs.allow_private_networks)?,
            timeout: settings.jobs.webhook_timeout,
            retry: RetryPolicy {
                base: settings.jobs.retry_base,
                max_attempts: settings.jobs.max_attempts,
            },
        })
    }

    /// The job handlers this resource contributes.
    pub fn handlers(settings: &Settings, pool: Pool) -> Result<Handlers, BoxError> {
        Ok(Handlers::default().with(KIND, Self::new(settings, pool)?))
    }

    async fn load(&self, id: Uuid) -> Result<Option<Loaded>, BoxError> {
        let db = self.pool.db().await?;
        let row = db.query_opt(LOAD, &[(&id, Type::UUID)]).await?;
        Ok(match row {
            Some(row) => Some(Loaded {
                body: row.try_get(0)?,
                request_id: row.try_get(1)?,
                url: row.try_get(2)?,
                secret: row.try_get(3)?,
                traceparent: row.try_get(4)?,
            }),
            None => None,
        })
    }

    async fn record(&self, id: Uuid, status: Option<i32>) -> Result<(), BoxError> {
        let db = self.pool.db().await?;
        db.execute(RECORD, &[(&id, Type::UUID), (&status, Type::INT4)])
            .await?;
        Ok(())
    }

    /// One attempt, counted by outcome (a cancelled one is not an attempt).
    async fn attempt(&self, job: Job) -> Outcome {
        let attempt = job.attempt;
        let outcome = self.attempt_uncounted(job).await;
        if outcome != Outcome::Cancelled {
            let ok = outcome == Outcome::Succeeded;
            metrics::count(Attempt::of(ok, attempt, self.retry.max_attempts));
        }
        outcome
    }

    async fn attempt_uncounted(&self, job: Job) -> Outcome {
        let loaded = match self.load(job.id).await {
            Ok(Some(loaded)) => loaded,
            // The subscription was deleted: nothing to deliver.
            Ok(None) => return Outcome::Cancelled,
            Err(e) => return Outcome::Failed(format!("cannot read the delivery: {e}")),
        };
        let mut span =
            loaded.url.parse::<Uri>().ok().and_then(|url| {
                ClientSpan::start(&Method::POST, &url, loaded.traceparent.as_deref())
            });
        if let Some(span) = &mut span {
            span.set_attribute(KeyValue::new("webhook.delivery.id", job.id.to_string()));
        }
        let sent =
            tokio::time::timeout(self.timeout, self.send(job.id, &loaded, span.as_ref())).await;
        let (status, outcome) = match sent {
            Err(_) => (
                Err("timeout"),
                Outcome::Failed(format!(
                    "no complete response within {} ms",
                    self.timeout.as_millis()
                )),
            ),
            Ok(Err(e)) => (
                Err(error_type(&*e)),
                Outcome::Failed(crate::error::error_chain(&*e)),
            ),
            Ok(Ok(status)) if status.is_success() => (Ok(status), Outcome::Succeeded),
            Ok(Ok(status)) => (
                Ok(status),
                Outcome::Failed(format!("the receiver answered {status}")),
            ),
        };
        if let Some(span) = span {
            span.finish(status);
        }
        let status = status.ok();
        let status = status.map(|s| i32::from(s.as_u16()));
        if let Err(e) = self.record(job.id, status).await {
            tracing::warn!(delivery = %job.id, error = %e, "recording the response status failed");
        }
        outcome
    }

    async fn send(
        &self,
        id: Uuid,
        loaded: &Loaded,
        span: Option<&ClientSpan>,
    ) -> Result<http::StatusCode, BoxError> {
        let id = id.to_string();
        let timestamp = crate::timestamp::Timestamp::now().unix_micros() / 1_000_000;
        let signature = signature::sign(&loaded.secret, &id, timestamp, loaded.body.as_bytes())
            .ok_or("the subscription's secret is not one this service issued")?;
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(loaded.url.as_str())
            .header(http::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .header(
                http::header::USER_AGENT,
                concat!("backend/", env!("CARGO_PKG_VERSION")),
            )
            .body(Full::new(Bytes::from(loaded.body.clone())))?;
        if let Some(request_id) = loaded.request_id.as_deref()
            && let Ok(value) = HeaderValue::from_str(request_id)
        {
            request.headers_mut().insert("x-request-id", value);
        }
        if let Some(span) = span {
            span.inject(request.headers_mut());
        }
        let response = self.client.request(request).await?;
        let status = response.status();
        // The attempt ends when the body has arrived (or the deadline); it
        // is read and dropped frame by frame, so its size costs no memory.
        let mut body = response.into_body();
        while let Some(frame) = body.frame().await {
            frame?;
        }
        Ok(status)
    }
}

/// The span's `error.type` of a failed attempt: `connect` when no
/// connection was made (refused, unreachable, a private address refused),
/// otherwise `_OTHER` (the error's text goes to the delivery log, never to
/// a low-cardinality attribute).
fn error_type(error: &(dyn std::error::Error + 'static)) -> &'static str {
    match error.downcast_ref::<hyper_util::client::legacy::Error>() {
        Some(e) if e.is_connect() => "connect",
        _ => "_OTHER",
    }
}

impl Handler for Delivery {
    fn run(&self, job: Job) -> BoxFuture<Outcome> {
        let this = self.clone();
        Box::pin(async move { this.attempt(job).await })
    }

    fn retry(&self) -> RetryPolicy {
        self.retry
    }
}
