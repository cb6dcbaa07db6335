//! The JSON log line: one object per event with `timestamp`, `level`,
//! `target`, `message`, the event's fields, the `request_id` of the
//! innermost enclosing span that has one, and inside a traced request its
//! `trace_id` and `span_id` (so a log line leads to its trace).
//!
//! Our own small layer rather than tracing-subscriber's, so `request_id` is
//! a top-level member of every line written inside a request (not nested in
//! a span list), and so a line costs one buffer and no intermediate maps.

use std::fmt::{self, Write as _};
use std::io::Write;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

use crate::timestamp::Timestamp;

/// A tracing layer writing each event as one JSON object per line:
/// `timestamp`, `level`, `target`, `message`, the event's fields, and the
/// `request_id` of the innermost enclosing span that has one.
#[derive(Debug)]
pub struct JsonLayer<W> {
    make_writer: W,
}

impl<W> JsonLayer<W> {
    /// A layer writing through `make_writer` (stdout, a file, a test sink).
    pub fn new(make_writer: W) -> Self {
        Self { make_writer }
    }
}

/// The `request_id` recorded on a span, kept in its extensions.
struct SpanRequestId(String);

impl<S, W> Layer<S> for JsonLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut finder = RequestIdFinder(None);
        attrs.record(&mut finder);
        if let (Some(request_id), Some(span)) = (finder.0, ctx.span(id)) {
            span.extensions_mut().insert(SpanRequestId(request_id));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        let mut line = String::with_capacity(256);
        line.push_str("{\"timestamp\":\"");
        line.push_str(Timestamp::now().to_rfc3339().as_str());
        line.push_str("\",\"level\":\"");
        line.push_str(meta.level().as_str());
        line.push_str("\",\"target\":\"");
        // Targets are module paths: nothing to escape.
        line.push_str(meta.target());
        line.push('"');
        let mut fields = JsonFields { line: &mut line };
        event.record(&mut fields);
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope {
                if let Some(id) = span.extensions().get::<SpanRequestId>() {
                    line.push_str(",\"request_id\":");
                    push_json_str(&mut line, &id.0);
                    break;
                }
            }
        }
        super::otel::spans::write_current_ids(&mut line);
        line.push_str("}\n");
        let _ = self.make_writer.make_writer().write_all(line.as_bytes());
    }
}

struct RequestIdFinder(Option<String>);

impl Visit for RequestIdFinder {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "request_id" {
            self.0 = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == "request_id" {
            self.0 = Some(format!("{value:?}"));
        }
    }
}

/// Appends each field as `,"name":value`, the message included.
struct JsonFields<'a> {
    line: &'a mut String,
}

impl JsonFields<'_> {
    fn key(&mut self, field: &Field) {
        // Field names are Rust identifiers: nothing to escape.
        self.line.push_str(",\"");
        self.line.push_str(field.name());
        self.line.push_str("\":");
    }
}

impl Visit for JsonFields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.key(field);
        push_json_str(self.line, value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.key(field);
        self.line.push_str(itoa::Buffer::new().format(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.key(field);
        self.line.push_str(itoa::Buffer::new().format(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.key(field);
        self.line.push_str(if value { "true" } else { "false" });
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.key(field);
        if value.is_finite() {
            let _ = write!(self.line, "{value}");
        } else {
            self.line.push_str("null");
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.key(field);
        self.line.push('"');
        let _ = write!(Escaping(self.line), "{value:?}");
        self.line.push('"');
    }
}

/// Appends `text` as a JSON string literal.
fn push_json_str(out: &mut String, text: &str) {
    out.push('"');
    push_escaped(out, text);
    out.push('"');
}

/// Appends `text` escaped for the inside of a JSON string.
///
/// Almost every logged string needs no escaping; that case is found by one
/// branch-free pass the compiler vectorises, then copied whole. Otherwise
/// runs between escapes are copied whole (a per-character loop cost ~8% of
/// the server's instructions per request under callgrind).
fn push_escaped(out: &mut String, text: &str) {
    let bytes = text.as_bytes();
    if !bytes.iter().fold(false, |any, &b| any | needs_escape(b)) {
        out.push_str(text);
        return;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f | 0x7f => "",
            _ => continue,
        };
        out.push_str(&text[start..i]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&text[start..]);
}

/// Whether `b` cannot appear as itself inside a JSON string (or, for DEL,
/// should not, so logs stay printable).
const fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\' || b == 0x7f
}

/// A `fmt::Write` that escapes into a JSON string as it goes, so a
/// formatted message needs no intermediate `String`.
struct Escaping<'a>(&'a mut String);

impl fmt::Write for Escaping<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        push_escaped(self.0, s);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;
    use crate::telemetry::MemoryWriter;

    #[test]
    fn strings_are_escaped_exactly_where_json_needs_it() {
        let escaped = |text: &str| {
            let mut out = String::new();
            push_escaped(&mut out, text);
            out
        };
        assert_eq!(escaped(""), "");
        assert_eq!(escaped("/api/v1/users/{id}"), "/api/v1/users/{id}");
        assert_eq!(escaped("caf\u{e9} \u{1F600}"), "caf\u{e9} \u{1F600}");
        assert_eq!(escaped("a\"b\\c"), r#"a\"b\\c"#);
        assert_eq!(escaped("\n\r\t"), r"\n\r\t");
        assert_eq!(escaped("x\u{0}\u{1f}\u{7f}y"), r"x\u0000\u001f\u007fy");
        // Every byte that needs escaping, alone and amid a long clean run.
        for b in (0u8..0x20).chain([b'"', b'\\', 0x7f]) {
            let alone = char::from(b).to_string();
            let amid = format!("{}{}{}", "a".repeat(40), char::from(b), "z".repeat(40));
            for text in [alone, amid] {
                let out = escaped(&text);
                let parsed: String = serde_json::from_str(&format!("\"{out}\"")).unwrap();
                assert_eq!(parsed, text, "byte {b:#x}");
                assert!(!out.bytes().any(|c| c < 0x20 || c == 0x7f), "byte {b:#x}");
            }
        }
    }

    #[test]
    fn json_lines_carry_fields_and_the_request_id() {
        let sink = MemoryWriter::default();
        let subscriber = tracing_subscriber::registry().with(JsonLayer::new(sink.clone()));
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(answer = 42, count = 7_u64, ok = true, "outside");
            let span = tracing::info_span!("request", request_id = "abc-1");
            let _guard = span.enter();
            tracing::warn!(
                text = "quote \" and \n newline",
                ratio = 0.5,
                "inside \u{1}"
            );
        });
        let lines: Vec<serde_json::Value> = sink
            .contents()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["message"], "outside");
        assert_eq!(lines[0]["level"], "INFO");
        assert_eq!(lines[0]["answer"], 42);
        assert_eq!(lines[0]["count"], 7);
        assert_eq!(lines[0]["ok"], true);
        assert!(lines[0].get("request_id").is_none());
        assert_eq!(lines[1]["request_id"], "abc-1");
        assert_eq!(lines[1]["text"], "quote \" and \n newline");
        assert_eq!(lines[1]["message"], "inside \u{1}");
        assert_eq!(lines[1]["ratio"], 0.5);
        assert!(lines[1]["timestamp"].as_str().unwrap().ends_with('Z'));
        assert_eq!(lines[1]["target"], module_path!());
    }

    #[test]
    fn a_request_id_recorded_with_display_is_found_too() {
        // The request span records its id with `%` (Display), which reaches
        // the layer through `record_debug`, not `record_str`.
        let sink = MemoryWriter::default();
        let subscriber = tracing_subscriber::registry().with(JsonLayer::new(sink.clone()));
        let id = String::from("req-7");
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("request", request_id = %id);
            let _guard = span.enter();
            tracing::error!("failed");
        });
        let line: serde_json::Value = serde_json::from_str(sink.contents().trim_end()).unwrap();
        assert_eq!(line["request_id"], "req-7");
        assert_eq!(line["message"], "failed");
    }
}
