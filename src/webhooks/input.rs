//! Reading the webhook requests: a body into a [`NewWebhook`] or a
//! [`WebhookPatch`], a query string into a [`ListQuery`] — every problem
//! reported at once, with the shared strict readers.

use serde_json::Value;
use uuid::Uuid;

use super::model::{Description, Events, NewWebhook, UrlPolicy, WebhookPatch, WebhookUrl};
use crate::error::{AppError, FieldError, Location};
use crate::http::body::JsonObject;
use crate::http::{Names, cursor, members, query};

/// The members a subscription body may have (`secret` is not one: it is
/// generated, never given).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Member {
    /// `url`.
    Url,
    /// `events`.
    Events,
    /// `description`.
    Description,
    /// `is_active`.
    IsActive,
}

impl Names for Member {
    const ALL: &'static [(&'static str, Self)] = &[
        ("url", Self::Url),
        ("events", Self::Events),
        ("description", Self::Description),
        ("is_active", Self::IsActive),
    ];
}

#[derive(Default)]
struct Parsed {
    url: Option<WebhookUrl>,
    events: Option<Events>,
    description: Option<Option<Description>>,
    is_active: Option<bool>,
    problems: Vec<FieldError>,
}

impl Parsed {
    fn read(body: JsonObject, policy: UrlPolicy) -> Self {
        let mut parsed = Self::default();
        parsed.problems = members::read(body, |member, value: Value| match member {
            Member::Url => {
                parsed.url = Some(WebhookUrl::parse(&members::string(value)?, policy)?);
                Ok(())
            }
            Member::Events => {
                if value.is_null() {
                    return Err("must not be null");
                }
                parsed.events = Some(Events::parse(&value)?);
                Ok(())
            }
            Member::Description => {
                parsed.description = Some(match members::nullable_string(value)? {
                    Some(text) => Description::parse(&text)?,
                    None => None,
                });
                Ok(())
            }
            Member::IsActive => {
                parsed.is_active = Some(members::boolean(&value)?);
                Ok(())
            }
        });
        parsed
    }

    fn require(&mut self, name: &'static str, present: bool) {
        if !present && !self.problems.iter().any(|p| p.field == name) {
            self.problems
                .push(FieldError::new(Location::Body, name, "is required"));
        }
    }
}

impl NewWebhook {
    /// Validates a create body under `policy`; every problem at once.
    pub fn parse(body: JsonObject, policy: UrlPolicy) -> Result<Self, AppError> {
        let mut parsed = Parsed::read(body, policy);
        parsed.require("url", parsed.url.is_some());
        parsed.require("events", parsed.events.is_some());
        match (parsed.url, parsed.events) {
            (Some(url), Some(events)) if parsed.problems.is_empty() => Ok(Self {
                url,
                events,
                description: parsed.description.flatten(),
                is_active: parsed.is_active.unwrap_or(true),
            }),
            _ => Err(AppError::Validation(parsed.problems)),
        }
    }
}

impl WebhookPatch {
    /// Validates an update body under `policy`; every problem at once.
    pub fn parse(body: JsonObject, policy: UrlPolicy) -> Result<Self, AppError> {
        let parsed = Parsed::read(body, policy);
        if !parsed.problems.is_empty() {
            return Err(AppError::Validation(parsed.problems));
        }
        Ok(Self {
            url: parsed.url,
            events: parsed.events,
            description: parsed.description,
            is_active: parsed.is_active,
        })
    }
}

/// The parameters of the two list routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Param {
    /// `limit`: the page size.
    Limit,
    /// `cursor`: where to continue.
    Cursor,
}

impl Names for Param {
    const ALL: &'static [(&'static str, Self)] =
        &[("limit", Self::Limit), ("cursor", Self::Cursor)];
}

/// A validated list query (subscriptions, or one's deliveries).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListQuery {
    /// Continue after this id (from the cursor).
    pub after: Option<Uuid>,
    /// Page size, 1 to 100.
    pub limit: u8,
}

impl ListQuery {
    /// Parses the raw query string strictly.
    pub fn parse(raw: Option<&str>) -> Result<Self, AppError> {
        let mut parsed = Self {
            after: None,
            limit: query::DEFAULT_LIMIT,
        };
        query::read(raw, |param, value| {
            match param {
                Param::Limit => parsed.limit = query::limit(value)?,
                Param::Cursor => {
                    parsed.after = Some(
                        cursor::decode(value).ok_or("is not a cursor issued by this service")?,
                    );
                }
            }
            Ok(())
        })?;
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::body::parse_object;

    const DEV: UrlPolicy = UrlPolicy {
        allow_private_networks: true,
    };

    fn body(json: &str) -> JsonObject {
        parse_object(json.as_bytes()).unwrap()
    }

    fn fields(error: AppError) -> Vec<String> {
        match error {
            AppError::Validation(list) => list.into_iter().map(|p| p.field.into_owned()).collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn create_reports_every_problem() {
        let error = NewWebhook::parse(body(r#"{"secret":"x","is_active":null}"#), DEV).unwrap_err();
        assert_eq!(fields(error), ["secret", "is_active", "url", "events"]);
        let new = NewWebhook::parse(
            body(r#"{"url":"https://a.example/","events":["user.created"],"description":" "}"#),
            DEV,
        )
        .unwrap();
        assert!(new.is_active);
        assert_eq!(new.description, None);
    }

    #[test]
    fn patch_tells_absent_from_null() {
        assert!(WebhookPatch::parse(body("{}"), DEV).unwrap().is_empty());
        let patch = WebhookPatch::parse(body(r#"{"description":null}"#), DEV).unwrap();
        assert_eq!(patch.description, Some(None));
        let error = WebhookPatch::parse(
            body(r#"{"url":null,"events":null,"is_active":null,"secret":"whsec_x"}"#),
            DEV,
        )
        .unwrap_err();
        assert_eq!(fields(error), ["url", "events", "is_active", "secret"]);
    }

    #[test]
    fn list_query_is_strict() {
        assert_eq!(ListQuery::parse(None).unwrap().limit, 20);
        assert!(ListQuery::parse(Some("is_active=true")).is_err());
        assert!(ListQuery::parse(Some("limit=0")).is_err());
    }
}
