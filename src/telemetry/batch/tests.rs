use super::*;
use crate::telemetry::MemoryWriter;

#[test]
fn lines_are_written_in_order_and_flushed_on_drop() {
    let sink = MemoryWriter::default();
    let (mut writer, guard) = batch_writer(sink.clone(), LogFormat::Json);
    for i in 0..1000 {
        writer.write_all(format!("line {i}\n").as_bytes()).unwrap();
    }
    drop(guard);
    let text = sink.contents();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1000);
    assert_eq!(lines[999], "line 999");
}

#[test]
fn lines_arrive_within_the_flush_interval() {
    let sink = MemoryWriter::default();
    let (mut writer, _guard) = batch_writer(sink.clone(), LogFormat::Json);
    writer.write_all(b"hello\n").unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while sink.contents().is_empty() && std::time::Instant::now() < deadline {
        std::thread::yield_now();
    }
    assert_eq!(sink.contents(), "hello\n");
}

/// An output that never accepts a byte, like a pipe nobody reads.
struct Stuck;

impl Write for Stuck {
    fn write(&mut self, _: &[u8]) -> io::Result<usize> {
        std::thread::park();
        Ok(0)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_blocked_output_does_not_hold_up_the_exit() {
    let (mut writer, guard) = batch_writer(Stuck, LogFormat::Json);
    writer.write_all(b"never written\n").unwrap();
    let started = std::time::Instant::now();
    drop(guard);
    assert!(started.elapsed() < FINAL_FLUSH_TIMEOUT + Duration::from_millis(500));
}

#[test]
fn a_stalled_output_drops_and_counts_instead_of_growing() {
    let (mut writer, guard) = batch_writer(io::sink(), LogFormat::Json);
    // Fill past the bound before the thread can flush: hold the lock.
    let line = vec![b'x'; 1024 * 1024];
    let held = writer.shared.buffer.lock().unwrap();
    drop(held);
    for _ in 0..(MAX_BUFFERED_BYTES / line.len() + 4) {
        writer.write_all(&line).unwrap();
    }
    let len = writer.shared.buffer.lock().unwrap().len();
    assert!(len <= MAX_BUFFERED_BYTES);
    drop(guard);
}

#[test]
fn the_drop_report_is_a_json_line_with_timestamp_level_target_and_count() {
    let report = DropReport::new(LogFormat::Json, DROP_REPORT_INTERVAL);
    let line = report.line(42, Timestamp::now());
    assert!(line.ends_with('\n') && line.lines().count() == 1);
    let json: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert!(json["timestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(json["level"], "WARN");
    assert_eq!(json["target"], "backend::telemetry");
    assert!(json["message"].as_str().unwrap().contains("dropped"));
    assert_eq!(json["dropped"], 42);
}

#[test]
fn the_drop_report_is_a_readable_line_in_pretty_mode() {
    let report = DropReport::new(LogFormat::Pretty, DROP_REPORT_INTERVAL);
    let at = Timestamp::now();
    let line = report.line(7, at);
    let expected = format!(
        "{}  WARN backend::telemetry: log lines dropped: the log output could not keep up dropped=7\n",
        at.to_rfc3339().as_str()
    );
    assert_eq!(line, expected);
    assert!(serde_json::from_str::<serde_json::Value>(&line).is_err());
}

#[test]
fn drops_are_reported_at_once_then_at_most_once_per_interval() {
    let interval = Duration::from_secs(10);
    let mut report = DropReport::new(LogFormat::Json, interval);
    let start = Instant::now();
    let at = |ms: u64| start + Duration::from_millis(ms);
    assert_eq!(report.count(0, at(0), false), None, "nothing dropped");
    assert_eq!(report.count(3, at(10), false), Some(3), "the first at once");
    assert_eq!(report.count(5, at(20), false), None);
    assert_eq!(report.count(6, at(9_000), false), None);
    assert_eq!(report.count(1, at(10_010), false), Some(12), "then the sum");
    assert_eq!(
        report.count(0, at(30_000), false),
        None,
        "no drops, no line"
    );
    assert_eq!(report.count(2, at(30_010), false), Some(2));
    assert_eq!(report.count(4, at(30_020), true), Some(4), "the last flush");
}

#[test]
fn dropped_lines_reach_the_output_as_one_report_in_the_configured_format() {
    for format in [LogFormat::Json, LogFormat::Pretty] {
        let shared = Shared::default();
        shared.dropped.store(1000, Ordering::Relaxed);
        let mut report = DropReport::new(format, DROP_REPORT_INTERVAL);
        let mut output = Vec::new();
        let mut spare = Vec::new();
        flush(&shared, &mut spare, &mut output, &mut report, false);
        shared.dropped.store(500, Ordering::Relaxed);
        flush(&shared, &mut spare, &mut output, &mut report, false);
        let text = String::from_utf8(output.clone()).unwrap();
        assert_eq!(text.lines().count(), 1, "{format:?}: {text}");
        match format {
            LogFormat::Json => {
                let json: serde_json::Value = serde_json::from_str(&text).unwrap();
                assert_eq!(json["dropped"], 1000);
            }
            LogFormat::Pretty => assert!(text.contains(" WARN ") && text.contains("dropped=1000")),
        }
        flush(&shared, &mut spare, &mut output, &mut report, true);
        let text = String::from_utf8(output).unwrap();
        assert_eq!(text.lines().count(), 2, "the rest is reported at the end");
        assert!(text.lines().nth(1).unwrap().contains("500"));
    }
}
