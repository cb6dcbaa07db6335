//! Telemetry settings: OpenTelemetry's own environment variables (so
//! operators learn nothing new) and `METRICS_ADDR`, the scrape listener.

use std::net::SocketAddr;

use super::parse::{Parser, parse_bool};

/// Which traces are kept: OpenTelemetry's `OTEL_TRACES_SAMPLER` values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TraceSampler {
    /// `always_on`: every root trace.
    AlwaysOn,
    /// `always_off`: no root trace.
    AlwaysOff,
    /// `traceidratio`: this fraction of root traces.
    Ratio(f64),
    /// `parentbased_always_on` (the default): the caller's decision, else on.
    ParentBasedAlwaysOn,
    /// `parentbased_always_off`: the caller's decision, else off.
    ParentBasedAlwaysOff,
    /// `parentbased_traceidratio`: the caller's decision, else this fraction.
    ParentBasedRatio(f64),
}

/// Where traces and metrics go, and how they are described.
#[derive(Debug, Clone, PartialEq)]
pub struct Telemetry {
    /// `OTEL_SDK_DISABLED` (default `false`): `true` turns OTLP export off
    /// even with an endpoint (the `/metrics` listener is unaffected).
    pub sdk_disabled: bool,
    /// `OTEL_SERVICE_NAME` (default `backend`): the `service.name` resource.
    pub service_name: String,
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` (default unset: no export, no cost): the
    /// collector's base URL; `/v1/traces` and `/v1/metrics` are appended.
    pub otlp_endpoint: Option<String>,
    /// `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG` (default
    /// `parentbased_always_on`; the ratio defaults to 1.0).
    pub sampler: TraceSampler,
    /// `OTEL_RESOURCE_ATTRIBUTES` (default none): `key=value,…` added to
    /// the resource (`service.name` comes from `OTEL_SERVICE_NAME`).
    pub resource_attributes: Vec<(String, String)>,
    /// `METRICS_ADDR` (default unset: off): a second listener serving
    /// `GET /metrics` in the Prometheus text format, e.g. `127.0.0.1:9464`.
    pub metrics_addr: Option<SocketAddr>,
}

impl Telemetry {
    /// Whether spans and metrics are exported over OTLP.
    pub fn exports(&self) -> bool {
        self.otlp_endpoint.is_some() && !self.sdk_disabled
    }

    /// Reads the variables through `p`, recording every problem.
    pub(super) fn parse(p: &mut Parser<'_>) -> Self {
        let sdk_disabled = p.parse("OTEL_SDK_DISABLED", false, parse_bool);
        let service_name = p.parse("OTEL_SERVICE_NAME", "backend".to_owned(), |v| Ok(v.into()));
        let otlp_endpoint = p.parse("OTEL_EXPORTER_OTLP_ENDPOINT", None, |v| {
            let uri: http::Uri = v.parse().map_err(|_| "must be a URL".to_owned())?;
            match (uri.scheme_str(), uri.authority()) {
                (Some("http" | "https"), Some(_)) if uri.query().is_none() => {
                    Ok(Some(v.trim_end_matches('/').to_owned()))
                }
                _ => Err("must be an http:// or https:// URL without a query (e.g. http://localhost:4318)".into()),
            }
        });
        p.parse("OTEL_EXPORTER_OTLP_PROTOCOL", (), |v| match v {
            "http/protobuf" => Ok(()),
            _ => Err("must be `http/protobuf` (the only protocol this build sends)".into()),
        });
        let ratio = p.parse("OTEL_TRACES_SAMPLER_ARG", 1.0, |v| match v.parse::<f64>() {
            Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
            _ => Err("must be a number from 0 to 1".into()),
        });
        let sampler = p.parse("OTEL_TRACES_SAMPLER", TraceSampler::ParentBasedAlwaysOn, |v| {
            Ok(match v {
                "always_on" => TraceSampler::AlwaysOn,
                "always_off" => TraceSampler::AlwaysOff,
                "traceidratio" => TraceSampler::Ratio(ratio),
                "parentbased_always_on" => TraceSampler::ParentBasedAlwaysOn,
                "parentbased_always_off" => TraceSampler::ParentBasedAlwaysOff,
                "parentbased_traceidratio" => TraceSampler::ParentBasedRatio(ratio),
                _ => return Err("must be one of always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio".into()),
            })
        });
        let resource_attributes = p.parse("OTEL_RESOURCE_ATTRIBUTES", Vec::new(), |v| {
            v.split(',')
                .filter(|pair| !pair.trim().is_empty())
                .map(|pair| match pair.split_once('=') {
                    Some((k, value)) if !k.trim().is_empty() => {
                        Ok((k.trim().to_owned(), value.trim().to_owned()))
                    }
                    _ => Err("must be key=value pairs separated by commas".to_owned()),
                })
                .collect()
        });
        let metrics_addr = p.parse("METRICS_ADDR", None, |v| {
            v.parse()
                .map(Some)
                .map_err(|_| "must be an address and port (e.g. 127.0.0.1:9464)".into())
        });
        Self {
            sdk_disabled,
            service_name,
            otlp_endpoint,
            sampler,
            resource_attributes,
            metrics_addr,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(vars: &[(&str, &str)]) -> (Telemetry, Vec<&'static str>) {
        let lookup = |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        };
        let mut p = Parser {
            lookup: &lookup,
            errors: Vec::new(),
        };
        let t = Telemetry::parse(&mut p);
        (t, p.errors.iter().map(|e| e.variable).collect())
    }

    #[test]
    fn nothing_set_means_no_export_and_no_listener() {
        let (t, errors) = parse(&[]);
        assert!(errors.is_empty());
        assert!(!t.exports());
        assert_eq!(t.metrics_addr, None);
        assert_eq!(t.service_name, "backend");
        assert_eq!(t.sampler, TraceSampler::ParentBasedAlwaysOn);
    }

    #[test]
    fn the_specifications_variables_are_read() {
        let (t, errors) = parse(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_SERVICE_NAME", "api"),
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "deployment.environment=prod, team=core",
            ),
            ("METRICS_ADDR", "127.0.0.1:9464"),
        ]);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(t.otlp_endpoint.as_deref(), Some("http://collector:4318"));
        assert!(t.exports());
        assert_eq!(t.sampler, TraceSampler::ParentBasedRatio(0.25));
        assert_eq!(t.resource_attributes[1], ("team".into(), "core".into()));
        assert_eq!(t.metrics_addr, Some("127.0.0.1:9464".parse().unwrap()));
        let (t, _) = parse(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
            ("OTEL_SDK_DISABLED", "true"),
        ]);
        assert!(!t.exports());
    }

    #[test]
    fn bad_values_are_all_reported() {
        let (_, errors) = parse(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_TRACES_SAMPLER", "sometimes"),
            ("OTEL_TRACES_SAMPLER_ARG", "2"),
            ("OTEL_RESOURCE_ATTRIBUTES", "novalue"),
            ("METRICS_ADDR", "9464"),
        ]);
        assert_eq!(
            errors,
            [
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "OTEL_EXPORTER_OTLP_PROTOCOL",
                "OTEL_TRACES_SAMPLER_ARG",
                "OTEL_TRACES_SAMPLER",
                "OTEL_RESOURCE_ATTRIBUTES",
                "METRICS_ADDR"
            ]
        );
    }
}
