//! Query strings: split into percent-decoded `name=value` pairs, and read
//! strictly against the parameters a route accepts.
//!
//! Strict by design: invalid percent-encoding or text that is not UTF-8 is an
//! error, not silently replaced. `+` means a space, as in HTML forms.
//!
//! A query string over [`MAX_QUERY_BYTES`] or with more than
//! [`MAX_PARAMETERS`] parameters is refused as a whole, with one fixed
//! problem that echoes nothing, before any parameter is decoded: no route
//! takes more than a few, and reporting thousands one by one made a 14 KB
//! request answer with a 490 KB body.

use std::borrow::Cow;

use super::Names;
use super::members::field_name;
use crate::error::{AppError, FieldError, Location};

/// The longest query string a strict route reads, in bytes (8 KiB).
pub const MAX_QUERY_BYTES: usize = 8 * 1024;

/// The most parameters a strict route reads (empty segments not counted).
pub const MAX_PARAMETERS: usize = 100;

/// The field named by the one problem of a query refused as a whole.
pub const WHOLE_QUERY: &str = "query";

/// Reads the query string `raw` strictly: one over [`MAX_QUERY_BYTES`] or
/// with more than [`MAX_PARAMETERS`] parameters is one problem for the whole
/// query (field [`WHOLE_QUERY`]); otherwise an unknown or repeated parameter,
/// or one that is not valid percent-encoded UTF-8, is a problem; every other
/// parameter's decoded value goes to `parse`, whose refusal is a problem for
/// that parameter. Every problem is reported at once, as a 422.
pub fn read<P: Names>(
    raw: Option<&str>,
    mut parse: impl FnMut(P, &str) -> Result<(), &'static str>,
) -> Result<(), AppError> {
    let problem = |field: &str, message: &'static str| {
        FieldError::new(Location::Query, field_name(field), message)
    };
    let raw = raw.unwrap_or("");
    if let Some(message) = too_large(raw) {
        return Err(AppError::Validation(vec![FieldError::new(
            Location::Query,
            WHOLE_QUERY,
            message,
        )]));
    }
    let pairs = parse_pairs(raw).map_err(|name| {
        AppError::Validation(vec![problem(&name, "is not valid percent-encoded UTF-8")])
    })?;
    let mut problems = Vec::new();
    let mut seen: Vec<P> = Vec::with_capacity(P::ALL.len());
    for (name, value) in &pairs {
        let Some(param) = P::named(name) else {
            problems.push(problem(name, "is not a known parameter"));
            continue;
        };
        if seen.contains(&param) {
            problems.push(problem(name, "must appear only once"));
            continue;
        }
        seen.push(param);
        if let Err(message) = parse(param, value) {
            problems.push(problem(name, message));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(AppError::Validation(problems))
    }
}

/// Why `raw` is refused unread, if it is: the length is checked first, so
/// counting the parameters costs at most [`MAX_QUERY_BYTES`].
fn too_large(raw: &str) -> Option<&'static str> {
    if raw.len() > MAX_QUERY_BYTES {
        return Some("must be at most 8192 bytes long");
    }
    let count = raw.split('&').filter(|s| !s.is_empty()).count();
    (count > MAX_PARAMETERS).then_some("must have at most 100 parameters")
}

/// A `true` or `false` parameter.
pub fn boolean(value: &str) -> Result<bool, &'static str> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err("must be true or false"),
    }
}

/// The page size of a list route when `limit` is absent.
pub const DEFAULT_LIMIT: u8 = 20;
/// The largest page size of a list route.
pub const MAX_LIMIT: u8 = 100;

/// A page size: a decimal integer from 1 to [`MAX_LIMIT`] (leading zeros
/// allowed, no sign, no spaces).
pub fn limit(value: &str) -> Result<u8, &'static str> {
    const MESSAGE: &str = "must be an integer from 1 to 100";
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(MESSAGE);
    }
    let digits = value.trim_start_matches('0');
    if digits.len() > 3 {
        return Err(MESSAGE);
    }
    match digits.parse::<u8>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(MESSAGE),
    }
}

/// A decoded `name=value` pair, borrowed from the query when nothing needed
/// decoding.
pub type Pair<'a> = (Cow<'a, str>, Cow<'a, str>);

/// Splits `query` (without the `?`) into decoded pairs, in order; an empty
/// segment (`a=1&&b=2`) is skipped. Errors name the offending raw segment.
pub fn parse_pairs(query: &str) -> Result<Vec<Pair<'_>>, String> {
    let mut pairs = Vec::new();
    for segment in query.split('&').filter(|s| !s.is_empty()) {
        let (name, value) = segment.split_once('=').unwrap_or((segment, ""));
        let name = percent_decode(name).ok_or_else(|| truncate(name))?;
        let value = percent_decode(value).ok_or_else(|| truncate(name.as_ref()))?;
        pairs.push((name, value));
    }
    Ok(pairs)
}

fn truncate(text: &str) -> String {
    text.chars().take(64).collect()
}

/// Decodes `%XX` escapes and `+`; `None` when an escape is invalid or the
/// result is not UTF-8.
pub fn percent_decode(text: &str) -> Option<Cow<'_, str>> {
    if !text.bytes().any(|b| b == b'%' || b == b'+') {
        return Some(Cow::Borrowed(text));
    }
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'%' => {
                let hi = hex(bytes.next()?)?;
                let lo = hex(bytes.next()?)?;
                out.push(hi << 4 | lo);
            }
            b'+' => out.push(b' '),
            _ => out.push(b),
        }
    }
    String::from_utf8(out).ok().map(Cow::Owned)
}

/// Decodes `%XX` escapes only (`+` is literal), as in a path segment.
pub fn percent_decode_path(text: &str) -> Option<Cow<'_, str>> {
    if !text.contains('%') {
        return Some(Cow::Borrowed(text));
    }
    percent_decode(&text.replace('+', "%2B")).map(|c| Cow::Owned(c.into_owned()))
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_decodes() {
        let pairs = parse_pairs("limit=5&&cursor=a%2Fb&x+y=1+2&flag").unwrap();
        let pairs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(a, b)| (a.as_ref(), b.as_ref()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("limit", "5"),
                ("cursor", "a/b"),
                ("x y", "1 2"),
                ("flag", "")
            ]
        );
        assert!(parse_pairs("").unwrap().is_empty());
    }

    #[test]
    fn rejects_bad_escapes_and_non_utf8() {
        for bad in ["a=%", "a=%4", "a=%zz", "a=%ff", "%c3=1", "a=%C3%28"] {
            assert!(parse_pairs(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_pairs("a=%C3%A9").unwrap()[0].1, "é");
    }

    #[test]
    fn path_decoding_keeps_plus() {
        assert_eq!(percent_decode_path("a+b%41").unwrap(), "a+bA");
        assert_eq!(percent_decode_path("plain").unwrap(), "plain");
        assert!(percent_decode_path("%g0").is_none());
    }

    #[test]
    fn escapes_take_either_case_of_hex() {
        assert_eq!(percent_decode("%c3%a9%2f%2F%41%4a%4A").unwrap(), "é//AJJ");
        assert_eq!(percent_decode("%7e%7E%60%0a").unwrap(), "~~`\n");
        for bad in ["%g1", "%1g", "%G1", "%:1", "%@1", "%`1"] {
            assert!(percent_decode(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn text_needing_no_decoding_is_borrowed() {
        assert!(matches!(
            percent_decode("plain-text_1.2"),
            Some(Cow::Borrowed("plain-text_1.2"))
        ));
        assert!(matches!(percent_decode("a+b"), Some(Cow::Owned(s)) if s == "a b"));
        assert!(matches!(percent_decode("a%20b"), Some(Cow::Owned(s)) if s == "a b"));
        assert!(matches!(
            percent_decode_path("a+b"),
            Some(Cow::Borrowed("a+b"))
        ));
    }

    /// The parameters `read` reported, by field name.
    fn fields(query: &str) -> Vec<String> {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        struct One;
        impl Names for One {
            const ALL: &'static [(&'static str, Self)] = &[("limit", One)];
        }
        match read::<One>(Some(query), |_, _| Ok(())) {
            Ok(()) => Vec::new(),
            Err(AppError::Validation(errors)) => {
                errors.into_iter().map(|e| e.field.into_owned()).collect()
            }
            Err(other) => panic!("{other}"),
        }
    }

    #[test]
    fn a_query_too_long_or_with_too_many_parameters_is_one_problem() {
        let hundred: Vec<String> = (0..MAX_PARAMETERS).map(|i| format!("p{i}")).collect();
        assert_eq!(
            fields(&hundred.join("&")),
            hundred,
            "100 are read one by one"
        );
        let with_empty = format!("{}&&&", hundred.join("&"));
        assert_eq!(
            fields(&with_empty).len(),
            100,
            "empty segments do not count"
        );
        assert_eq!(fields(&format!("{}&x", hundred.join("&"))), [WHOLE_QUERY]);
        assert_eq!(fields(&vec!["a"; 7000].join("&")), [WHOLE_QUERY]);
        let long = format!("limit={}", "9".repeat(MAX_QUERY_BYTES - 6));
        assert_eq!(long.len(), MAX_QUERY_BYTES);
        assert!(fields(&long).is_empty(), "8 KiB is still read");
        assert_eq!(fields(&format!("{long}9")), [WHOLE_QUERY]);
        assert_eq!(
            too_large(&format!("{long}9")),
            Some("must be at most 8192 bytes long")
        );
    }

    #[test]
    fn errors_name_the_raw_segment_cut_to_64_characters() {
        assert_eq!(parse_pairs("ok=1&li%zzmit=5").unwrap_err(), "li%zzmit");
        assert_eq!(parse_pairs("limit=%zz").unwrap_err(), "limit");
        let long = format!("{}%zz", "n".repeat(100));
        assert_eq!(parse_pairs(&long).unwrap_err(), "n".repeat(64));
    }
}
