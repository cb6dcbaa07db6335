//! Regular expressions for the text rules the resources share, so schemas
//! are exactly as strict as the server: strings are trimmed before their
//! rules apply, so a pattern must accept surrounding white space.

/// Unicode White_Space, what trimming removes (Rust's `char::is_whitespace`),
/// as a regular-expression class body.
pub const WHITE_SPACE: &str =
    "\\t\\n\\x0b\\x0c\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";

/// White space other than the ASCII controls (those are in [`CONTROL`]).
pub const NON_CONTROL_WHITE_SPACE: &str =
    " \\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";

/// Control characters (general category Cc, Rust's `char::is_control`).
pub const CONTROL: &str = "\\x00-\\x1f\\x7f-\\x9f";

/// An optional name-like text (a full name, a description): optional
/// surrounding white space around at most `max` characters with no control
/// characters.
pub fn trimmed_text(max: usize) -> String {
    let ws = WHITE_SPACE;
    let visible = format!("[^{CONTROL}{ws}]");
    let inner = format!("[^{CONTROL}]");
    let middle = max.saturating_sub(2);
    format!("^[{ws}]*(?:{visible}(?:{inner}{{0,{middle}}}{visible})?)?[{ws}]*$")
}
