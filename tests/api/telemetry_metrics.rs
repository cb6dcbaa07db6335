//! `GET /metrics` on `METRICS_ADDR`, without any OTLP endpoint: scraped and
//! read with a strict parser of the Prometheus text format.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;

use crate::common::binary::Process;
use crate::common::client::send;
use crate::common::fresh_database;
use crate::lifecycle::database_url;

/// One sample: name, labels, value.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses the text format strictly: every line a comment (`# HELP`,
/// `# TYPE` with a known type) or a sample `name{labels} value`, and every
/// sample's family typed before it. Panics on anything else.
fn parse(text: &str) -> (Vec<Sample>, HashMap<String, String>) {
    let mut types = HashMap::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("# TYPE name kind");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "{line}"
            );
            types.insert(name.to_owned(), kind.to_owned());
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        assert!(
            !line.is_empty() && !line.starts_with('#'),
            "stray line {line:?}"
        );
        let (series, value) = line.rsplit_once(' ').expect("a value");
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (name, parse_labels(rest.strip_suffix('}').expect("}"))),
            None => (series, BTreeMap::new()),
        };
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad name {name:?}"
        );
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| types.get(*f).is_some_and(|t| t == "histogram"))
            })
            .unwrap_or(name);
        assert!(types.contains_key(family), "{name} has no # TYPE");
        samples.push(Sample {
            name: name.to_owned(),
            labels,
            value,
        });
    }
    (samples, types)
}

fn parse_labels(mut rest: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    while !rest.is_empty() {
        let (name, after) = rest.split_once("=\"").expect("label=\"value\"");
        let mut value = String::new();
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next().expect("closing quote") {
                (i, '"') => break i,
                (_, '\\') => match chars.next().expect("escape").1 {
                    'n' => value.push('\n'),
                    c @ ('\\' | '"') => value.push(c),
                    c => panic!("bad escape \\{c}"),
                },
                (_, c) => value.push(c),
            }
        };
        labels.insert(name.to_owned(), value);
        rest = &after[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
    labels
}

#[tokio::test]
async fn metrics_are_scraped_with_route_templates_and_pool_gauges() {
    let url = database_url(&fresh_database().await);
    let (mut process, addr) = Process::serve(&[
        ("DATABASE_URL", &url),
        ("AUTH_MODE", "none"),
        ("METRICS_ADDR", "127.0.0.1:0"),
    ])
    .await;
    let line = process
        .seen
        .iter()
        .find(|l| l.contains("serving /metrics"))
        .expect("the metrics listener's line");
    let json: serde_json::Value = serde_json::from_str(line).unwrap();
    let metrics: SocketAddr = json["address"].as_str().unwrap().parse().unwrap();
    assert_ne!(metrics, addr);

    let created = send(
        addr,
        "POST",
        "/api/v1/users",
        &[("content-type", "application/json")],
        Some(br#"{"email":"scrape@example.com"}"#),
    )
    .await;
    assert_eq!(created.status, 201);
    let id = created.json()["id"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        let r = send(addr, "GET", &format!("/api/v1/users/{id}"), &[], None).await;
        assert_eq!(r.status, 200);
    }
    assert_eq!(send(addr, "GET", "/nowhere", &[], None).await.status, 404);
    // Not on the public port.
    assert_eq!(send(addr, "GET", "/metrics", &[], None).await.status, 404);

    let scrape = send(metrics, "GET", "/metrics", &[], None).await;
    assert_eq!(scrape.status, 200);
    assert!(
        scrape
            .header("content-type")
            .starts_with("text/plain; version=0.0.4")
    );
    let text = String::from_utf8(scrape.body.to_vec()).unwrap();
    let (samples, types) = parse(&text);
    assert_eq!(types["http_server_request_duration_seconds"], "histogram");
    let count = |route: &str, status: &str| -> u64 {
        samples
            .iter()
            .filter(|s| {
                s.name == "http_server_request_duration_seconds_count"
                    && s.labels.get("http_route").map(String::as_str) == Some(route)
                    && s.labels["http_response_status_code"] == status
            })
            .map(|s| s.value.to_string().parse::<u64>().expect("a whole count"))
            .sum()
    };
    assert_eq!(count("/api/v1/users/{id}", "200"), 3, "{text}");
    assert_eq!(count("/api/v1/users", "201"), 1, "{text}");
    let item = samples
        .iter()
        .find(|s| {
            s.name == "http_server_request_duration_seconds_bucket"
                && s.labels.get("http_route").map(String::as_str) == Some("/api/v1/users/{id}")
        })
        .unwrap();
    assert_eq!(item.labels["http_request_method"], "GET");
    let buckets: Vec<&str> = samples
        .iter()
        .filter(|s| {
            s.name == "http_server_request_duration_seconds_bucket"
                && s.labels.get("http_route").map(String::as_str) == Some("/api/v1/users/{id}")
        })
        .map(|s| s.labels["le"].as_str())
        .collect();
    assert_eq!(buckets.first(), Some(&"0.0005"));
    assert_eq!(buckets.last(), Some(&"+Inf"));
    assert!(!text.contains(&id), "a raw path leaked into a label");
    // The 404 has no route: no http_route label at all.
    assert!(samples.iter().any(|s| {
        s.name == "http_server_request_duration_seconds_count"
            && !s.labels.contains_key("http_route")
            && s.labels["http_response_status_code"] == "404"
    }));
    for gauge in [
        "db_client_connection_pool_size",
        "db_client_connection_pool_idle",
        "db_client_connection_pool_waiting",
        "db_client_connection_pool_max",
    ] {
        assert_eq!(
            types.get(gauge).map(String::as_str),
            Some("gauge"),
            "{gauge}"
        );
        assert!(samples.iter().any(|s| s.name == gauge), "{gauge}");
    }
    let size = samples
        .iter()
        .find(|s| s.name == "db_client_connection_pool_size")
        .unwrap();
    assert!(size.value >= 1.0, "a connection was opened: {}", size.value);
    assert_eq!(
        send(metrics, "POST", "/metrics", &[], None).await.status,
        405
    );
    assert_eq!(send(metrics, "GET", "/other", &[], None).await.status, 404);
    process.terminate();
    assert!(
        process
            .wait(std::time::Duration::from_secs(12))
            .await
            .success()
    );
}
