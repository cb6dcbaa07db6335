//! Regular expressions for the text rules the resources share, so schemas
//! are exactly as strict as the server where a regular expression can be:
//! strings are trimmed before their rules apply, so a pattern must accept
//! surrounding white space.
//!
//! A pattern sees the text as sent; the server checks it after trimming and
//! NFC ([`crate::text::normalize`]). The character rules (white space,
//! control, format and bidi characters, `@`) read the same either way: NFC
//! neither adds nor removes such a character (a test in [`crate::text`]
//! checks every code point). Lengths are another matter: NFC can shorten a
//! text (`e` + U+0301 becomes `é`) or lengthen it (U+0958 never recomposes),
//! and no regular expression computes NFC. So a pattern states a length
//! limit only for text made of characters whose NFC quick check is Yes,
//! whose length NFC keeps; text holding any other character is held to the
//! character rules only, and the description states the limit. A schema
//! thus never refuses what the server accepts.
//!
//! Characters outside the Basic Multilingual Plane appear literally in the
//! classes: `\u{…}` escapes are not understood by every regex dialect that
//! reads the document (ECMA-262 in Unicode mode and Python's `re` both read
//! literal characters).

use std::fmt::Write as _;
use std::sync::OnceLock;

use crate::text::{BIDI_CONTROLS, FORMAT, nfc_may_change_length};

/// Unicode White_Space, what trimming removes (Rust's `char::is_whitespace`),
/// as a regular-expression class body.
pub const WHITE_SPACE: &str =
    "\\t\\n\\x0b\\x0c\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";

/// White space other than the ASCII controls (those are in [`CONTROL`]).
pub const NON_CONTROL_WHITE_SPACE: &str =
    " \\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";

/// Control characters (general category Cc, Rust's `char::is_control`).
pub const CONTROL: &str = "\\x00-\\x1f\\x7f-\\x9f";

/// Format characters (general category Cf), as a class body.
pub fn format() -> &'static str {
    static CLASS: OnceLock<String> = OnceLock::new();
    CLASS.get_or_init(|| class(FORMAT))
}

/// The bidirectional embedding, override and isolate controls, as a class
/// body.
pub fn bidi_controls() -> &'static str {
    static CLASS: OnceLock<String> = OnceLock::new();
    CLASS.get_or_init(|| class(BIDI_CONTROLS))
}

/// The characters around which NFC may change a text's length (their NFC
/// quick check is No or Maybe), as a class body; computed once from the
/// same tables the server normalises with.
pub fn nfc_sensitive() -> &'static str {
    static CLASS: OnceLock<String> = OnceLock::new();
    CLASS.get_or_init(|| {
        let mut ranges: Vec<(char, char)> = Vec::new();
        for c in ('\0'..=char::MAX).filter(|&c| nfc_may_change_length(c)) {
            match ranges.last_mut() {
                Some((_, high)) if char::from_u32(u32::from(*high) + 1) == Some(c) => *high = c,
                _ => ranges.push((c, c)),
            }
        }
        class(&ranges)
    })
}

/// A class body for inclusive `ranges`.
fn class(ranges: &[(char, char)]) -> String {
    let mut out = String::new();
    for &(low, high) in ranges {
        push_char(&mut out, low);
        if high != low {
            out.push('-');
            push_char(&mut out, high);
        }
    }
    out
}

fn push_char(out: &mut String, c: char) {
    if u32::from(c) > 0xFFFF {
        out.push(c);
    } else {
        let _ = write!(out, "\\u{:04x}", u32::from(c));
    }
}

/// An optional name-like text (a full name, a description): optional
/// surrounding white space around text with no control characters nor
/// bidirectional controls, at most `max` characters long when NFC keeps
/// its length (see the module doc).
pub fn trimmed_text(max: usize) -> String {
    let ws = WHITE_SPACE;
    let bidi = bidi_controls();
    let sensitive = nfc_sensitive();
    let visible = format!("[^{CONTROL}{bidi}{ws}]");
    let inner = format!("[^{CONTROL}{bidi}]");
    let middle = max.saturating_sub(2);
    let exact = format!("(?=[^{sensitive}]*$){visible}(?:{inner}{{0,{middle}}}{visible})?");
    let loose = format!("(?![^{sensitive}]*$){visible}(?:{inner}*{visible})?");
    format!("^[{ws}]*(?:{exact}|{loose})?[{ws}]*$")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_use_escapes_in_the_bmp_and_literals_beyond() {
        assert_eq!(bidi_controls(), "\\u202a-\\u202e\\u2066-\\u2069");
        assert!(format().starts_with("\\u00ad\\u0600-\\u0605"));
        assert!(format().ends_with("\u{e0001}\u{e0020}-\u{e007f}"));
    }

    #[test]
    fn the_nfc_sensitive_class_holds_composing_and_decomposing_characters() {
        let class = nfc_sensitive();
        for needle in [
            "\\u0300-\\u0304",
            "\\u0958-\\u095f",
            "\\u1161-\\u1175",
            "\\u212b",
        ] {
            assert!(class.contains(needle), "{needle}");
        }
        assert!(!class.contains("\\u0041") && !class.contains("\\u00e9"));
    }
}
