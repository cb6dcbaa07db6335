//! The text rules every string field shares: trimming, then Unicode
//! Normalization Form C, and the character sets some fields refuse (format
//! characters, bidirectional controls).
//!
//! A module of its own at the crate root, not under `http/`: these are rules
//! of the domain values (`users::model`'s `Email` and `FullName`, and any
//! later resource's text), which the OpenAPI patterns (`openapi::text`) must
//! restate exactly; none of it is about the wire.
//!
//! The character tables follow the Unicode version of the Rust standard
//! library the service is built with (17.0 for Rust 1.95), so they agree
//! with `char::is_whitespace` and `char::is_control`, which the rules also
//! use.

use std::borrow::Cow;

use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};

/// Trims Unicode White_Space (`char::is_whitespace`) from both ends, then
/// puts the rest in NFC. Every other rule applies to what this returns, and
/// it is what gets stored.
///
/// Trimming first is safe: no character's canonical decomposition holds
/// white space unless the character is white space itself, so NFC can
/// neither add nor remove white space at the ends (a test checks this over
/// every code point). Text already in NFC (nearly all of it) is borrowed.
pub fn normalize(raw: &str) -> Cow<'_, str> {
    let trimmed = raw.trim();
    match is_nfc_quick(trimmed.chars()) {
        IsNormalized::Yes => Cow::Borrowed(trimmed),
        IsNormalized::No | IsNormalized::Maybe => Cow::Owned(trimmed.nfc().collect()),
    }
}

/// General category Cf (format characters), Unicode 17.0: inclusive ranges,
/// sorted. Invisible, or changing how the text around them is shown; refused
/// in emails, where two addresses must not look alike.
pub const FORMAT: &[(char, char)] = &[
    ('\u{00AD}', '\u{00AD}'),
    ('\u{0600}', '\u{0605}'),
    ('\u{061C}', '\u{061C}'),
    ('\u{06DD}', '\u{06DD}'),
    ('\u{070F}', '\u{070F}'),
    ('\u{0890}', '\u{0891}'),
    ('\u{08E2}', '\u{08E2}'),
    ('\u{180E}', '\u{180E}'),
    ('\u{200B}', '\u{200F}'),
    ('\u{202A}', '\u{202E}'),
    ('\u{2060}', '\u{2064}'),
    ('\u{2066}', '\u{206F}'),
    ('\u{FEFF}', '\u{FEFF}'),
    ('\u{FFF9}', '\u{FFFB}'),
    ('\u{110BD}', '\u{110BD}'),
    ('\u{110CD}', '\u{110CD}'),
    ('\u{13430}', '\u{1343F}'),
    ('\u{1BCA0}', '\u{1BCA3}'),
    ('\u{1D173}', '\u{1D17A}'),
    ('\u{E0001}', '\u{E0001}'),
    ('\u{E0020}', '\u{E007F}'),
];

/// The bidirectional embedding, override and isolate controls (LRE, RLE,
/// PDF, LRO, RLO; LRI, RLI, FSI, PDI): they can make text display in an
/// order other than the one stored. Refused in names, where the other
/// format characters stay legal (zero-width joiners belong to Persian and
/// Indic names).
pub const BIDI_CONTROLS: &[(char, char)] = &[('\u{202A}', '\u{202E}'), ('\u{2066}', '\u{2069}')];

/// Whether `c` is a format character (general category Cf).
pub fn is_format(c: char) -> bool {
    c >= '\u{00AD}' && in_ranges(FORMAT, c)
}

/// Whether `c` is a bidirectional embedding, override or isolate control.
pub fn is_bidi_control(c: char) -> bool {
    in_ranges(BIDI_CONTROLS, c)
}

/// Whether putting text in NFC may change its length around `c`: `c`'s NFC
/// quick check is not Yes (it decomposes for good, or may compose with what
/// comes before it), and it is not white space. Text made only of other
/// characters keeps its length; the OpenAPI patterns use this to state
/// length limits exactly where they can.
///
/// The only white space whose quick check is not Yes, U+2000 and U+2001,
/// become EN SPACE and EM SPACE, which compose with nothing: one character
/// each, whatever surrounds them (a test checks it).
pub fn nfc_may_change_length(c: char) -> bool {
    !c.is_whitespace() && !matches!(is_nfc_quick(std::iter::once(c)), IsNormalized::Yes)
}

fn in_ranges(ranges: &[(char, char)], c: char) -> bool {
    ranges.iter().any(|&(low, high)| (low..=high).contains(&c))
}

#[cfg(test)]
mod tests;
