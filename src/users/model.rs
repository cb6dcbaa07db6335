//! The user, its field types and the commands on it. A value of [`Email`]
//! or [`FullName`] can only exist if it satisfies the contract's rules:
//! parse, don't validate twice.

use serde::Serialize;
use uuid::Uuid;

use crate::timestamp::Timestamp;

/// A user as stored and as returned by the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// UUIDv7, assigned on creation.
    pub id: Uuid,
    /// As given on creation or update, trimmed.
    pub email: String,
    /// Trimmed; `None` when absent, null or blank.
    pub full_name: Option<String>,
    /// Whether the account is active.
    pub is_active: bool,
    /// When the user was created.
    pub created_at: Timestamp,
    /// When the user was last changed (every successful update moves it).
    pub updated_at: Timestamp,
}

/// An email address: trimmed; 3 to 254 characters; exactly one `@` with a
/// local part of 1 to 64 characters and a non-empty domain; no whitespace
/// or control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Parses `raw`, or says which rule it breaks.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let email = raw.trim();
        if email.chars().any(char::is_control) {
            return Err("must not contain control characters");
        }
        if email.chars().any(char::is_whitespace) {
            return Err("must not contain whitespace");
        }
        let length = email.chars().count();
        if !(3..=254).contains(&length) {
            return Err("must be 3 to 254 characters long");
        }
        let mut parts = email.split('@');
        let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err("must contain exactly one @");
        };
        if local.is_empty() || local.chars().count() > 64 {
            return Err("must have 1 to 64 characters before the @");
        }
        if domain.is_empty() {
            return Err("must have a domain after the @");
        }
        Ok(Self(email.to_owned()))
    }

    /// The address as given (trimmed).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The uniqueness key: Unicode lower-casing, as API.md defines sameness.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

/// A full name: trimmed, 1 to 255 characters, no control characters. A
/// blank name is no name: [`FullName::parse`] returns `None` for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FullName(String);

impl FullName {
    /// Parses `raw`: `Ok(None)` when blank after trimming.
    pub fn parse(raw: &str) -> Result<Option<Self>, &'static str> {
        let name = raw.trim();
        if name.chars().any(char::is_control) {
            return Err("must not contain control characters");
        }
        if name.chars().count() > 255 {
            return Err("must be at most 255 characters long");
        }
        Ok((!name.is_empty()).then(|| Self(name.to_owned())))
    }

    /// The name (trimmed).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A validated create command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// Required.
    pub email: Email,
    /// Optional; `None` when absent, null or blank.
    pub full_name: Option<FullName>,
    /// Optional, default `true`.
    pub is_active: bool,
}

/// A validated partial update: `None` members are left unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserPatch {
    /// A new email.
    pub email: Option<Email>,
    /// A new full name; `Some(None)` clears it.
    pub full_name: Option<Option<FullName>>,
    /// A new active flag.
    pub is_active: Option<bool>,
}

impl UserPatch {
    /// Whether the patch changes nothing (`{}`): a no-op, not an update.
    pub fn is_empty(&self) -> bool {
        self.email.is_none() && self.full_name.is_none() && self.is_active.is_none()
    }
}

#[cfg(test)]
mod tests {
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
}
