//! The opaque pagination cursor: the last id of a page, versioned.
//!
//! Clients must treat it as opaque; it is `01` followed by the 32 hex digits
//! of the UUIDv7 to continue after. Only cursors this service could have
//! issued decode: the prefix, lower-case hex, and a version-7 UUID.

use uuid::Uuid;

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

    #[test]
    fn the_pattern_matches_what_encode_issues() {
        // A hand-rolled check of PATTERN's shape against real cursors.
        let cursor = encode(Uuid::now_v7());
        let bytes = cursor.as_bytes();
        assert!(cursor.starts_with("01"));
        assert_eq!(bytes[14], b'7');
        assert!(b"89ab".contains(&bytes[18]));
        assert!(PATTERN.starts_with("^01") && PATTERN.ends_with('$'));
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
