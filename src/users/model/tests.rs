use super::*;

#[test]
fn emails_are_trimmed_and_kept_as_given() {
    let email = Email::parse("  Ada@Example.com\u{3000}\n").unwrap();
    assert_eq!(email.as_str(), "Ada@Example.com");
    assert_eq!(email.key(), "ada@example.com");
    assert_eq!(
        Email::parse("ÉLISE@example.com").unwrap().key(),
        "élise@example.com"
    );
}

#[test]
fn email_rules() {
    let ok = ["a@b", "x@y.z", "\"quoted\"@host", "ünï@cödé.example"];
    for e in ok {
        assert!(Email::parse(e).is_ok(), "{e}");
    }
    let local64 = format!("{}@d", "l".repeat(64));
    assert!(Email::parse(&local64).is_ok());
    let cases = [
        ("a@", "must be 3 to 254 characters long"),
        ("ab", "must be 3 to 254 characters long"),
        ("   ", "must be 3 to 254 characters long"),
        ("abc", "must contain exactly one @"),
        ("a@b@c", "must contain exactly one @"),
        ("@bc", "must have 1 to 64 characters before the @"),
        ("ab@", "must have a domain after the @"),
        ("a b@c", "must not contain whitespace"),
        ("a\u{a0}b@c", "must not contain whitespace"),
        ("a\u{0}b@c", "must not contain control characters"),
        ("a\u{85}b@c", "must not contain control characters"),
        ("a\u{7f}b@c", "must not contain control characters"),
    ];
    for (input, message) in cases {
        assert_eq!(Email::parse(input), Err(message), "{input:?}");
    }
    let local65 = format!("{}@d", "l".repeat(65));
    assert_eq!(
        Email::parse(&local65),
        Err("must have 1 to 64 characters before the @")
    );
    let long = format!("a@{}", "d".repeat(252));
    assert!(Email::parse(&long).is_ok(), "254 characters");
    let too_long = format!("a@{}", "d".repeat(253));
    assert_eq!(
        Email::parse(&too_long),
        Err("must be 3 to 254 characters long")
    );
    let multibyte = format!("a@{}", "é".repeat(252));
    assert!(
        Email::parse(&multibyte).is_ok(),
        "lengths count characters, not bytes"
    );
}

#[test]
fn full_name_rules() {
    assert_eq!(
        FullName::parse("  Ada Lovelace ")
            .unwrap()
            .unwrap()
            .as_str(),
        "Ada Lovelace"
    );
    assert_eq!(FullName::parse("   ").unwrap(), None);
    assert_eq!(FullName::parse("").unwrap(), None);
    assert!(FullName::parse(&"é".repeat(255)).unwrap().is_some());
    assert_eq!(
        FullName::parse(&"é".repeat(256)),
        Err("must be at most 255 characters long")
    );
    let padded = format!("  {}  ", "n".repeat(255));
    assert!(
        FullName::parse(&padded).unwrap().is_some(),
        "length is measured after trimming"
    );
    assert_eq!(
        FullName::parse("a\u{0}b"),
        Err("must not contain control characters")
    );
    assert_eq!(
        FullName::parse("a\u{9f}b"),
        Err("must not contain control characters")
    );
    assert_eq!(
        FullName::parse("tab\tinside"),
        Err("must not contain control characters")
    );
}

#[test]
fn emails_are_normalised_to_nfc_before_every_rule() {
    let decomposed = Email::parse(" e\u{301}lise@example.com ").unwrap();
    let composed = Email::parse("\u{e9}lise@example.com").unwrap();
    assert_eq!(decomposed.as_str(), "\u{e9}lise@example.com");
    assert_eq!(decomposed, composed);
    assert_eq!(decomposed.key(), composed.key());
    assert_eq!(
        Email::parse("E\u{301}LISE@example.com").unwrap().key(),
        composed.key(),
        "the key is the lower-cased normalised address"
    );
    // 254 characters once composed, 304 as sent.
    let long = format!("a@{}", "e\u{301}".repeat(50) + &"d".repeat(202));
    assert_eq!(Email::parse(&long).unwrap().as_str().chars().count(), 254);
    // 64 characters before the @ once composed.
    let local = format!("{}@d", "o\u{308}".repeat(64));
    assert!(Email::parse(&local).is_ok());
    // A decomposition that never recomposes makes the address longer.
    let grown = format!("{}@d", "\u{958}".repeat(33));
    assert_eq!(
        Email::parse(&grown),
        Err("must have 1 to 64 characters before the @")
    );
}

#[test]
fn emails_refuse_format_characters() {
    for c in [
        '\u{ad}',
        '\u{200b}',
        '\u{200d}',
        '\u{200e}',
        '\u{202e}',
        '\u{2066}',
        '\u{feff}',
        '\u{e0041}',
    ] {
        let input = format!("admin{c}@example.com");
        assert_eq!(
            Email::parse(&input),
            Err("must not contain format characters (Unicode Cf)"),
            "{input:?}"
        );
    }
    // Trimming removes white space only: a format character at the end stays.
    assert_eq!(
        Email::parse("admin@example.com\u{feff}"),
        Err("must not contain format characters (Unicode Cf)")
    );
}

#[test]
fn full_names_are_normalised_and_refuse_only_bidi_controls() {
    let name = FullName::parse(" Rene\u{301} ").unwrap().unwrap();
    assert_eq!(name.as_str(), "Ren\u{e9}");
    for c in [
        '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}', '\u{2066}', '\u{2067}',
        '\u{2068}', '\u{2069}',
    ] {
        assert_eq!(
            FullName::parse(&format!("a{c}b")),
            Err("must not contain bidirectional embedding, override or isolate controls"),
            "{c:?}"
        );
    }
    // Persian and Indic names need the zero-width (non-)joiner; kept as sent.
    for name in [
        "\u{645}\u{6cc}\u{200c}\u{62e}\u{648}\u{627}\u{647}\u{645}",
        "\u{915}\u{94d}\u{200d}\u{937}",
        "soft\u{ad}hyphen",
    ] {
        assert_eq!(FullName::parse(name).unwrap().unwrap().as_str(), name);
    }
    // The length limit counts the normalised name.
    assert!(FullName::parse(&"e\u{301}".repeat(255)).unwrap().is_some());
    assert_eq!(
        FullName::parse(&"\u{958}".repeat(128)),
        Err("must be at most 255 characters long")
    );
}
