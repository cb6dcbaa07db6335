//! Child spans of the request's server span, and the trace-context seam.
//!
//! The server layer ([`super::server`]) makes the request's context current
//! while the request's future is polled, so code running inside it (the
//! [`Db`](crate::db::Db), the key fetch) finds its parent with
//! [`Context::current`]. Every helper here returns `None` at the cost of one
//! atomic load when traces are off, and creates nothing when the request is
//! not sampled.
//!
//! Work that outlives the request (a webhook delivery) stores
//! [`current_traceparent`] with its outbox row and later starts its client
//! span with [`ClientSpan::start`], linked to that request.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;

use http::{HeaderMap, Method, StatusCode, Uri};
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{Link, Span as _, SpanKind, Status, TraceContextExt, Tracer as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_http::HeaderInjector;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::Span;

use super::tracer;

/// A span of ours, ended when finished or dropped.
#[derive(Debug)]
pub struct ChildSpan(Span);

impl ChildSpan {
    /// Marks the span failed with `error_type` (e.g. a SQLSTATE, `timeout`).
    pub fn fail(&mut self, error_type: impl Into<Cow<'static, str>>) {
        let error_type = error_type.into();
        self.0
            .set_attribute(KeyValue::new("error.type", error_type.clone()));
        self.0.set_status(Status::error(error_type));
    }
}

impl Drop for ChildSpan {
    fn drop(&mut self) {
        self.0.end();
    }
}

/// The current context, if it carries a sampled span to be a parent of.
fn sampled_parent() -> Option<Context> {
    let cx = Context::current();
    cx.span().span_context().is_sampled().then_some(cx)
}

/// Appends `,"trace_id":…,"span_id":…` of the current traced request to a
/// JSON log line; nothing when traces are off or no span is current.
pub fn write_current_ids(line: &mut String) {
    if tracer().is_none() {
        return;
    }
    Context::map_current(|cx| {
        let span = cx.span();
        let sc = span.span_context();
        if sc.is_valid() {
            let _ = write!(
                line,
                ",\"trace_id\":\"{}\",\"span_id\":\"{}\"",
                sc.trace_id(),
                sc.span_id()
            );
        }
    });
}

/// A span for one SQL statement: `db.system.name`, `db.operation.name` and
/// `db.query.summary` (e.g. `SELECT users`), named by the summary; never
/// the statement's parameters.
pub fn statement(sql: &str) -> Option<ChildSpan> {
    let tracer = tracer()?;
    let parent = sampled_parent()?;
    let (operation, summary) = summarize(sql);
    let builder = tracer
        .span_builder(summary.clone())
        .with_kind(SpanKind::Client)
        .with_attributes([
            KeyValue::new("db.system.name", "postgresql"),
            KeyValue::new("db.operation.name", operation),
            KeyValue::new("db.query.summary", summary),
        ]);
    Some(ChildSpan(tracer.build_with_context(builder, &parent)))
}

/// A span for the wait for a pooled connection.
pub fn pool_wait() -> Option<ChildSpan> {
    let tracer = tracer()?;
    let parent = sampled_parent()?;
    let builder = tracer
        .span_builder("pool wait")
        .with_kind(SpanKind::Internal)
        .with_attributes([KeyValue::new("db.system.name", "postgresql")]);
    Some(ChildSpan(tracer.build_with_context(builder, &parent)))
}

/// `(operation, summary)` of a statement: its first keyword, and the
/// keyword followed by the table it names (`INSERT users`), read from the
/// text (which holds `$n` placeholders, never values).
pub fn summarize(sql: &str) -> (String, String) {
    let words: Vec<&str> = sql.split_whitespace().take(64).collect();
    let operation = words
        .first()
        .map_or(String::new(), |w| w.to_ascii_uppercase());
    let after = match operation.as_str() {
        "SELECT" | "DELETE" => "FROM",
        "INSERT" => "INTO",
        "UPDATE" => "UPDATE",
        _ => return (operation.clone(), operation),
    };
    let table = words
        .iter()
        .position(|w| w.eq_ignore_ascii_case(after))
        .and_then(|i| words.get(i + 1))
        .map(|t| t.trim_matches(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.')));
    match table {
        Some(table) if !table.is_empty() => (operation.clone(), format!("{operation} {table}")),
        _ => (operation.clone(), operation),
    }
}

/// The current request's trace context as a W3C `traceparent` value, if a
/// sampled span is current: what a job stores with its outbox row so its
/// delivery span can link back to the request that caused it.
pub fn current_traceparent() -> Option<String> {
    tracer()?;
    let cx = sampled_parent()?;
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&cx, &mut carrier);
    carrier.remove("traceparent")
}

/// An outgoing HTTP request's client span (`http.request.method`,
/// `url.full`, `server.address`, `http.response.status_code`).
#[derive(Debug)]
pub struct ClientSpan {
    span: ChildSpan,
    cx: Context,
}

impl ClientSpan {
    /// Starts a client span for `method url`: a child of the current
    /// context, or a root span when there is none (background refreshes);
    /// linked to `link` (a stored `traceparent`) when given. `None` when
    /// traces are off or the sampler drops it.
    pub fn start(method: &Method, url: &Uri, link: Option<&str>) -> Option<Self> {
        let tracer = tracer()?;
        let parent = Context::current();
        let mut attributes = vec![
            KeyValue::new("http.request.method", method.as_str().to_owned()),
            KeyValue::new("url.full", redacted(url)),
        ];
        if let Some(host) = url.host() {
            attributes.push(KeyValue::new("server.address", host.to_owned()));
        }
        if let Some(port) = url.port_u16() {
            attributes.push(KeyValue::new("server.port", i64::from(port)));
        }
        let mut builder = tracer
            .span_builder(method.as_str().to_owned())
            .with_kind(SpanKind::Client)
            .with_attributes(attributes);
        if let Some(link) = link.and_then(parse_traceparent) {
            builder = builder.with_links(vec![Link::with_context(link)]);
        }
        let span = tracer.build_with_context(builder, &parent);
        if !span.span_context().is_sampled() {
            return None;
        }
        let cx = parent.with_remote_span_context(span.span_context().clone());
        Some(Self {
            span: ChildSpan(span),
            cx,
        })
    }

    /// Adds `attribute` to the span (e.g. the webhook delivery's id).
    pub fn set_attribute(&mut self, attribute: KeyValue) {
        self.span.0.set_attribute(attribute);
    }

    /// Adds this span's `traceparent` (and `tracestate`) to `headers`.
    pub fn inject(&self, headers: &mut HeaderMap) {
        TraceContextPropagator::new().inject_context(&self.cx, &mut HeaderInjector(headers));
    }

    /// Records the answer's status (an error from 400 up, as the HTTP
    /// conventions say of client spans), or the failure.
    pub fn finish(mut self, outcome: Result<StatusCode, &str>) {
        match outcome {
            Ok(status) => {
                self.span.0.set_attribute(KeyValue::new(
                    "http.response.status_code",
                    i64::from(status.as_u16()),
                ));
                if status.is_client_error() || status.is_server_error() {
                    self.span.fail(status.as_str().to_owned());
                }
            }
            Err(error_type) => self.span.fail(error_type.to_owned()),
        }
    }
}

/// `url` without its query (keys and tokens travel there).
fn redacted(url: &Uri) -> String {
    match (url.scheme_str(), url.authority()) {
        (Some(scheme), Some(authority)) => format!("{scheme}://{authority}{}", url.path()),
        _ => url.path().to_owned(),
    }
}

fn parse_traceparent(value: &str) -> Option<opentelemetry::trace::SpanContext> {
    let carrier = HashMap::from([("traceparent".to_owned(), value.to_owned())]);
    let cx = TraceContextPropagator::new().extract(&carrier);
    let sc = cx.span().span_context().clone();
    sc.is_valid().then_some(sc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_are_summarised_by_operation_and_table() {
        let s = |sql: &str| summarize(sql).1;
        assert_eq!(
            s("SELECT id, email FROM users WHERE id = $1"),
            "SELECT users"
        );
        assert_eq!(s("insert into users (id) values ($1)"), "INSERT users");
        assert_eq!(
            s("UPDATE users SET email = $2 WHERE id = $1"),
            "UPDATE users"
        );
        assert_eq!(
            s("DELETE FROM public.users WHERE id = $1"),
            "DELETE public.users"
        );
        assert_eq!(s("SELECT 1"), "SELECT");
        assert_eq!(s("WITH x AS (SELECT 1) SELECT * FROM x"), "WITH");
        assert_eq!(summarize("").0, "");
    }

    #[test]
    fn nothing_is_created_when_traces_are_off() {
        assert!(statement("SELECT 1").is_none());
        assert!(pool_wait().is_none());
        assert!(current_traceparent().is_none());
        assert!(ClientSpan::start(&Method::GET, &Uri::from_static("http://x/"), None).is_none());
    }
}
