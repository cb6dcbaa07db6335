//! Keyset pagination, shared by every list route: the opaque cursor (the
//! last id of a page, versioned) and the page body that carries it.
//!
//! Clients must treat the cursor as opaque; it is `01` followed by the 32 hex
//! digits of the UUIDv7 to continue after. Only cursors this service could
//! have issued decode: the prefix, lower-case hex, and a version-7 UUID.

use serde::Serialize;
use uuid::Uuid;

/// A page of a list route as sent: `{"items": [...], "next_cursor": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    /// The items, in the route's order.
    pub items: Vec<T>,
    /// Where to continue; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// A page of `items`, continued after `next_after` when more exist.
    pub fn new(items: Vec<T>, next_after: Option<Uuid>) -> Self {
        Self {
            items,
            next_cursor: next_after.map(encode),
        }
    }
}

const PREFIX: &str = "01";

/// The regular expression every issued cursor matches (for the OpenAPI
/// document).
pub const PATTERN: &str = "^01[0-9a-f]{12}7[0-9a-f]{3}[89ab][0-9a-f]{15}$";

/// Encodes the position after `last_id`.
pub fn encode(last_id: Uuid) -> String {
    let mut out = String::with_capacity(34);
    out.push_str(PREFIX);
    out.push_str(last_id.simple().encode_lower(&mut Uuid::encode_buffer()));
    out
}

/// Decodes a cursor from [`encode`]; `None` for anything else.
pub fn decode(cursor: &str) -> Option<Uuid> {
    let hex = cursor.strip_prefix(PREFIX)?;
    if hex.len() != 32 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let id = Uuid::try_parse(hex).ok()?;
    (id.get_version_num() == 7 && id.get_variant() == uuid::Variant::RFC4122).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_v7_ids() {
        for _ in 0..100 {
            let id = Uuid::now_v7();
            let cursor = encode(id);
            assert_eq!(cursor.len(), 34);
            assert_eq!(decode(&cursor), Some(id));
        }
    }

    /// Whether `text` matches [`PATTERN`], read as the sequence of literal
    /// characters, `[...]` classes and `{n}` repeats it is written in.
    fn matches_pattern(text: &str) -> bool {
        let body = PATTERN
            .strip_prefix('^')
            .and_then(|p| p.strip_suffix('$'))
            .unwrap();
        let mut classes: Vec<(Vec<char>, usize)> = Vec::new();
        let mut chars = body.chars().peekable();
        while let Some(c) = chars.next() {
            let class = if c == '[' {
                let mut set = Vec::new();
                let inner: String = chars.by_ref().take_while(|c| *c != ']').collect();
                let inner: Vec<char> = inner.chars().collect();
                let mut i = 0;
                while i < inner.len() {
                    if i + 2 < inner.len() && inner[i + 1] == '-' {
                        set.extend(inner[i]..=inner[i + 2]);
                        i += 3;
                    } else {
                        set.push(inner[i]);
                        i += 1;
                    }
                }
                set
            } else {
                vec![c]
            };
            let repeat = if chars.peek() == Some(&'{') {
                chars.next();
                let n: String = chars.by_ref().take_while(|c| *c != '}').collect();
                n.parse().unwrap()
            } else {
                1
            };
            classes.push((class, repeat));
        }
        let mut text = text.chars();
        for (class, repeat) in classes {
            for _ in 0..repeat {
                match text.next() {
                    Some(c) if class.contains(&c) => {}
                    _ => return false,
                }
            }
        }
        text.next().is_none()
    }

    #[test]
    fn the_published_pattern_matches_every_issued_cursor_and_nothing_refused() {
        for _ in 0..200 {
            let cursor = encode(Uuid::now_v7());
            assert!(matches_pattern(&cursor), "{cursor}");
        }
        let good = encode(Uuid::now_v7());
        for bad in [
            good.to_uppercase(),
            format!("02{}", &good[2..]),
            encode(Uuid::new_v4()),
            good[..33].to_string(),
        ] {
            assert!(!matches_pattern(&bad), "{bad}");
            assert_eq!(decode(&bad), None, "{bad}");
        }
    }

    #[test]
    fn pages_carry_the_cursor_of_their_last_id() {
        let id = Uuid::now_v7();
        let page = Page::new(vec![1, 2], Some(id));
        assert_eq!(page.next_cursor.as_deref().and_then(decode), Some(id));
        let last = Page::new(vec![3], None);
        assert_eq!(
            serde_json::to_value(&last).unwrap(),
            serde_json::json!({"items": [3], "next_cursor": null})
        );
    }

    #[test]
    fn rejects_anything_not_issued() {
        let good = encode(Uuid::now_v7());
        let cases = [
            String::new(),
            "01".into(),
            "garbage".into(),
            good.to_uppercase(),
            format!("02{}", &good[2..]),
            format!("{good}0"),
            good[..33].to_string(),
            encode(Uuid::new_v4()),
            encode(Uuid::nil()),
            format!("01{}", Uuid::now_v7().hyphenated()),
        ];
        for bad in cases {
            assert_eq!(decode(&bad), None, "{bad}");
        }
    }
}
