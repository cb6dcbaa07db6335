//! The subscription, its field types, the commands on it, and a delivery as
//! the API lists it. A [`WebhookUrl`] or [`Events`] value can only exist if
//! it satisfies the contract: parse, don't validate twice.

use serde::Serialize;
use uuid::Uuid;

use super::address;
use crate::timestamp::Timestamp;

pub use crate::users::model::FullName as Description;

/// A subscription as stored and returned (never with its secret, except
/// once in [`Created`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Webhook {
    /// UUIDv7, assigned on creation.
    pub id: Uuid,
    /// Where deliveries are POSTed, as given.
    pub url: String,
    /// The event types delivered, in the order given.
    pub events: Vec<String>,
    /// Free text, trimmed and in NFC; `None` when absent, null or blank.
    pub description: Option<String>,
    /// An inactive subscription gets no new deliveries.
    pub is_active: bool,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was last changed.
    pub updated_at: Timestamp,
}

/// The answer to a create: the subscription and, this once, its secret.
#[derive(Debug, Clone, Serialize)]
pub struct Created {
    /// The subscription.
    #[serde(flatten)]
    pub webhook: Webhook,
    /// `whsec_` + base64 of 32 random bytes: the signing key.
    pub secret: String,
}

/// Whether URLs may name special-purpose addresses
/// (`WEBHOOK_ALLOW_PRIVATE_NETWORKS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UrlPolicy {
    /// `true`: loopback, private … hosts are allowed.
    pub allow_private_networks: bool,
}

/// A webhook URL: absolute `http` or `https`, at most 2048 bytes, no
/// whitespace, no user info, no fragment; with the private networks not
/// allowed, no literal special-purpose host ([`address::is_special`]).
/// Kept exactly as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl(String);

impl WebhookUrl {
    /// The most bytes a URL may have.
    pub const MAX_BYTES: usize = 2048;

    /// Parses `raw` under `policy`, or says which rule it breaks.
    pub fn parse(raw: &str, policy: UrlPolicy) -> Result<Self, &'static str> {
        if raw.len() > Self::MAX_BYTES {
            return Err("must be at most 2048 bytes long");
        }
        if raw.chars().any(char::is_whitespace) {
            return Err("must not contain whitespace");
        }
        if raw.contains('#') {
            return Err("must not have a fragment");
        }
        let uri: http::Uri = raw
            .parse()
            .map_err(|_| "must be an absolute http or https URL")?;
        let scheme_ok = uri
            .scheme_str()
            .is_some_and(|s| s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https"));
        let Some(authority) = uri.authority().filter(|_| scheme_ok) else {
            return Err("must be an absolute http or https URL");
        };
        if authority.as_str().contains('@') {
            return Err("must not contain user info");
        }
        let host = authority.host();
        if host.is_empty() {
            return Err("must be an absolute http or https URL");
        }
        if !policy.allow_private_networks && address::literal(host).is_some_and(address::is_special)
        {
            return Err(
                "must not name a loopback, private, link-local or other special-purpose address",
            );
        }
        Ok(Self(raw.to_owned()))
    }

    /// The URL as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The event types a subscription can list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    /// `user.created`.
    UserCreated,
    /// `user.updated`.
    UserUpdated,
    /// `user.deleted`.
    UserDeleted,
}

impl EventType {
    /// Every type, in the order the API documents them.
    pub const ALL: [Self; 3] = [Self::UserCreated, Self::UserUpdated, Self::UserDeleted];

    /// The type's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserCreated => "user.created",
            Self::UserUpdated => "user.updated",
            Self::UserDeleted => "user.deleted",
        }
    }
}

/// A non-empty list of distinct event types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Events(Vec<EventType>);

impl Events {
    /// Parses a JSON value, or says which rule it breaks.
    pub fn parse(value: &serde_json::Value) -> Result<Self, &'static str> {
        const RULE: &str = "must be a non-empty array of distinct event types: user.created, user.updated, user.deleted";
        let items = value.as_array().ok_or(RULE)?;
        let mut events = Vec::with_capacity(items.len());
        for item in items {
            let name = item.as_str().ok_or(RULE)?;
            let event = EventType::ALL
                .into_iter()
                .find(|e| e.as_str() == name)
                .ok_or(RULE)?;
            if events.contains(&event) {
                return Err(RULE);
            }
            events.push(event);
        }
        if events.is_empty() {
            return Err(RULE);
        }
        Ok(Self(events))
    }

    /// The names, in the order given.
    pub fn names(&self) -> Vec<&'static str> {
        self.0.iter().map(|e| e.as_str()).collect()
    }
}

/// A validated create command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWebhook {
    /// Required.
    pub url: WebhookUrl,
    /// Required.
    pub events: Events,
    /// Optional; `None` when absent, null or blank.
    pub description: Option<Description>,
    /// Optional, default `true`.
    pub is_active: bool,
}

/// A validated partial update: `None` members are left unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookPatch {
    /// A new URL.
    pub url: Option<WebhookUrl>,
    /// New event types.
    pub events: Option<Events>,
    /// A new description; `Some(None)` clears it.
    pub description: Option<Option<Description>>,
    /// A new active flag.
    pub is_active: Option<bool>,
}

impl WebhookPatch {
    /// Whether the patch changes nothing (`{}`): a no-op, not an update.
    pub fn is_empty(&self) -> bool {
        self.url.is_none()
            && self.events.is_none()
            && self.description.is_none()
            && self.is_active.is_none()
    }
}

/// A delivery as `GET /api/v1/webhooks/{id}/deliveries` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Delivery {
    /// The `webhook-id` sent.
    pub id: Uuid,
    /// The event's type.
    pub event_type: String,
    /// `pending`, `succeeded` or `failed`.
    pub status: String,
    /// Attempts made so far.
    pub attempts: i32,
    /// When the event was written.
    pub created_at: Timestamp,
    /// The last attempt's start; null before the first.
    pub last_attempt_at: Option<Timestamp>,
    /// When the next attempt is due; null once succeeded or failed.
    pub next_attempt_at: Option<Timestamp>,
    /// The last attempt's HTTP status; null when it got none.
    pub last_response_status: Option<i32>,
    /// Why the last attempt failed; null once succeeded.
    pub last_error: Option<String>,
}

#[cfg(test)]
mod tests;
