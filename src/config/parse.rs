//! Reading one variable: defaults for unset or blank values, every problem
//! recorded rather than returned, so all of them are reported at once.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use http::HeaderValue;

use super::SettingError;

pub(super) struct Parser<'a> {
    pub(super) lookup: &'a dyn Fn(&str) -> Option<String>,
    pub(super) errors: Vec<SettingError>,
}

impl Parser<'_> {
    pub(super) fn fail(&mut self, variable: &'static str, reason: String) {
        self.errors.push(SettingError { variable, reason });
    }

    /// Parses `variable` with `parse`, or returns `default` when it is unset
    /// or empty; records the problem and returns `default` when invalid.
    pub(super) fn parse<T>(
        &mut self,
        variable: &'static str,
        default: T,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> T {
        let Some(raw) = (self.lookup)(variable) else {
            return default;
        };
        let value = raw.trim();
        if value.is_empty() {
            return default;
        }
        match parse(value) {
            Ok(v) => v,
            Err(reason) => {
                self.fail(variable, format!("{reason}, got {value:?}"));
                default
            }
        }
    }

    pub(super) fn millis(&mut self, variable: &'static str, default_ms: u64) -> Duration {
        self.parse(variable, Duration::from_millis(default_ms), |v| {
            int_in::<u64>(v, 1, 24 * 60 * 60 * 1000).map(Duration::from_millis)
        })
    }
}

pub(super) fn int_in<T>(value: &str, min: T, max: T) -> Result<T, String>
where
    T: FromStr + PartialOrd + fmt::Display + Copy,
{
    match value.parse::<T>() {
        Ok(n) if n >= min && n <= max => Ok(n),
        _ => Err(format!("must be an integer from {min} to {max}")),
    }
}

pub(super) fn parse_bool(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err("must be `true` or `false`".into()),
    }
}

/// Parses a comma-separated list of exact origins (`scheme://host[:port]`).
pub(super) fn parse_origins(value: &str) -> Result<Vec<HeaderValue>, String> {
    let mut origins = Vec::new();
    for origin in value.split(',').map(str::trim).filter(|o| !o.is_empty()) {
        let rest = origin
            .strip_prefix("https://")
            .or_else(|| origin.strip_prefix("http://"));
        let valid = rest.is_some_and(|host| {
            !host.is_empty()
                && !host.contains('/')
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
        });
        if !valid {
            return Err(format!(
                "must list exact origins like https://app.example.com, separated by commas; {origin:?} is not one"
            ));
        }
        origins.push(HeaderValue::from_str(origin).map_err(|e| e.to_string())?);
    }
    Ok(origins)
}
