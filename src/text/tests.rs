use std::borrow::Cow;

use unicode_normalization::UnicodeNormalization;

use super::*;

#[test]
fn trimming_comes_first_then_nfc() {
    assert_eq!(normalize("  e\u{301}\u{3000}\n"), "\u{e9}");
    assert_eq!(
        normalize("\u{2003}A\u{30a}ngstro\u{308}m "),
        "\u{c5}ngstr\u{f6}m"
    );
    // Singleton decompositions: the Angstrom sign becomes Å, and the EN
    // QUAD (white space) is trimmed before NFC would turn it into EN SPACE.
    assert_eq!(normalize("\u{2000}\u{212b}\u{2000}"), "\u{c5}");
    // Decompositions that never recompose make the text longer.
    assert_eq!(normalize("\u{958}").chars().count(), 2);
}

#[test]
fn text_already_in_nfc_is_borrowed() {
    assert!(matches!(
        normalize(" ada@example.com "),
        Cow::Borrowed("ada@example.com")
    ));
    assert!(matches!(normalize("\u{e9}"), Cow::Borrowed(_)));
    assert!(matches!(normalize("e\u{301}"), Cow::Owned(_)));
}

#[test]
fn the_format_table_is_sorted_disjoint_and_names_the_known_ones() {
    for pair in FORMAT.windows(2) {
        assert!(pair[0].0 <= pair[0].1 && pair[0].1 < pair[1].0, "{pair:?}");
    }
    for c in [
        '\u{ad}',
        '\u{200b}',
        '\u{200c}',
        '\u{200d}',
        '\u{200e}',
        '\u{202e}',
        '\u{2066}',
        '\u{feff}',
        '\u{e0001}',
        '\u{e007f}',
    ] {
        assert!(is_format(c), "{c:?}");
    }
    for c in [
        'a',
        '@',
        ' ',
        '\u{0}',
        '\u{ac}',
        '\u{ae}',
        '\u{2065}',
        '\u{fffc}',
        '\u{e0002}',
        '\u{e0080}',
    ] {
        assert!(!is_format(c), "{c:?}");
    }
    let count: u32 = FORMAT
        .iter()
        .map(|&(l, h)| u32::from(h) - u32::from(l) + 1)
        .sum();
    assert_eq!(count, 170, "Unicode 17.0 has 170 Cf code points");
}

#[test]
fn format_characters_are_neither_white_space_nor_controls() {
    // The rules report each kind apart; no character may be two kinds.
    for &(low, high) in FORMAT {
        for c in low..=high {
            assert!(!c.is_whitespace() && !c.is_control(), "{c:?}");
        }
    }
}

#[test]
fn bidi_controls_are_format_characters_and_nothing_else_is_one() {
    let bidi: Vec<char> = ('\0'..=char::MAX).filter(|&c| is_bidi_control(c)).collect();
    assert_eq!(
        bidi,
        [
            '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}', '\u{2066}', '\u{2067}',
            '\u{2068}', '\u{2069}'
        ]
    );
    assert!(bidi.iter().all(|&c| is_format(c)));
    assert!(!is_bidi_control('\u{200d}') && !is_bidi_control('\u{200c}'));
}

/// The classes the rules refuse, by character.
fn classes(c: char) -> [bool; 5] {
    [
        c.is_whitespace(),
        c.is_control(),
        is_format(c),
        is_bidi_control(c),
        c == '@',
    ]
}

#[test]
fn nfc_neither_adds_nor_removes_a_refused_character() {
    // A character's full canonical decomposition holds a white space,
    // control, format, bidi control or `@` exactly when the character is
    // one; compositions are the reverse, so checking rules before or after
    // NFC finds the same characters, and the OpenAPI patterns, which see
    // the raw text, can state these rules exactly.
    for c in '\0'..=char::MAX {
        let mut found = [false; 5];
        for d in std::iter::once(c).nfd() {
            for (f, k) in found.iter_mut().zip(classes(d)) {
                *f |= k;
            }
        }
        assert_eq!(found, classes(c), "{c:?}");
    }
}

#[test]
fn text_without_nfc_sensitive_characters_keeps_its_length() {
    let pool: Vec<char> = [
        'a', 'e', '\u{e9}', '\u{1ec7}', '\u{1d6}', '\u{1f82}', '\u{ac00}', '\u{316}', '\u{35c}',
        '\u{5b0}', '\u{200d}', '@', '\u{2000}', '\u{2001}', '\u{340}',
    ]
    .into_iter()
    .filter(|&c| !nfc_may_change_length(c))
    .collect();
    assert!(pool.len() >= 12, "the sample must stay meaningful");
    let white_space: Vec<char> = ('\0'..=char::MAX)
        .filter(|&c| {
            c.is_whitespace() && !matches!(is_nfc_quick(std::iter::once(c)), IsNormalized::Yes)
        })
        .collect();
    assert_eq!(white_space, ['\u{2000}', '\u{2001}']);
    for &a in &pool {
        for &b in &pool {
            for &c in &pool {
                let text: String = [a, b, c].into_iter().collect();
                assert_eq!(text.nfc().count(), 3, "{text:?}");
            }
        }
    }
    for c in [
        '\u{301}', '\u{323}', '\u{958}', '\u{1161}', '\u{212b}', '\u{344}', '\u{340}',
    ] {
        assert!(nfc_may_change_length(c), "{c:?}");
    }
}
