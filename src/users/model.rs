//! The user, its field types and the commands on it. A value of [`Email`]
//! or [`FullName`] can only exist if it satisfies the contract's rules:
//! parse, don't validate twice.

use serde::Serialize;
use uuid::Uuid;

use crate::text;
use crate::timestamp::Timestamp;

/// A user as stored and as returned by the API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// UUIDv7, assigned on creation.
    pub id: Uuid,
    /// As given on creation or update, trimmed and in NFC.
    pub email: String,
    /// Trimmed, in NFC; `None` when absent, null or blank.
    pub full_name: Option<String>,
    /// Whether the account is active.
    pub is_active: bool,
    /// When the user was created.
    pub created_at: Timestamp,
    /// When the user was last changed (every successful update moves it).
    pub updated_at: Timestamp,
}

/// An email address: trimmed, then in NFC ([`text::normalize`]); 3 to 254
/// characters; exactly one `@` with a local part of 1 to 64 characters and
/// a non-empty domain; no whitespace, control or format characters (format
/// characters are invisible: `admin\u{200b}@…` must not pass for `admin@…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Parses `raw`, or says which rule it breaks.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let email = text::normalize(raw);
        if email.chars().any(char::is_control) {
            return Err("must not contain control characters");
        }
        if email.chars().any(char::is_whitespace) {
            return Err("must not contain whitespace");
        }
        if email.chars().any(text::is_format) {
            return Err("must not contain format characters (Unicode Cf)");
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
        Ok(Self(email.into_owned()))
    }

    /// The address as given, trimmed and in NFC.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The uniqueness key: Unicode lower-casing of the normalised address,
    /// so composed and decomposed letters are the same address.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

/// A full name: trimmed, then in NFC; 1 to 255 characters; no control
/// characters nor bidirectional embedding, override or isolate controls
/// (other format characters, such as the zero-width joiners of Persian and
/// Indic names, are legal). A blank name is no name: [`FullName::parse`]
/// returns `None` for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FullName(String);

impl FullName {
    /// Parses `raw`: `Ok(None)` when blank after trimming.
    pub fn parse(raw: &str) -> Result<Option<Self>, &'static str> {
        let name = text::normalize(raw);
        if name.chars().any(char::is_control) {
            return Err("must not contain control characters");
        }
        if name.chars().any(text::is_bidi_control) {
            return Err("must not contain bidirectional embedding, override or isolate controls");
        }
        if name.chars().count() > 255 {
            return Err("must be at most 255 characters long");
        }
        Ok((!name.is_empty()).then(|| Self(name.into_owned())))
    }

    /// The name, trimmed and in NFC.
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
mod tests;
