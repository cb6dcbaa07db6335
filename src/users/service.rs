//! The users' business rules: turning a request's JSON and query into
//! validated commands (every problem reported at once), and carrying them
//! out against the repository.

use std::borrow::Cow;

use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use super::model::{Email, FullName, User};
use super::{cursor, repository};
use crate::db::Pool;
use crate::error::{AppError, FieldError, Location};
use crate::http::body::JsonObject;
use crate::http::query;

/// The members a user body may have, on create and on update.
pub const MEMBERS: [&str; 3] = ["email", "full_name", "is_active"];

/// The detail of a 409 on a taken email.
const EMAIL_TAKEN: &str = "a user with this email already exists";

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

/// The members of a body, each parsed or with its problem.
#[derive(Default)]
struct Members {
    email: Option<Email>,
    full_name: Option<Option<FullName>>,
    is_active: Option<bool>,
    problems: Vec<FieldError>,
}

impl Members {
    fn parse(body: JsonObject) -> Self {
        let mut members = Self::default();
        let mut seen: Vec<&str> = Vec::new();
        for (name, value) in body.0 {
            let problem =
                |message: &'static str| FieldError::new(Location::Body, field_name(&name), message);
            let Some(known) = MEMBERS.iter().find(|m| **m == name.as_str()) else {
                members.problems.push(problem("is not a known member"));
                continue;
            };
            if seen.contains(known) {
                members.problems.push(problem("must appear only once"));
                continue;
            }
            seen.push(known);
            let result = match *known {
                "email" => match value {
                    Value::String(s) => Email::parse(&s).map(|e| members.email = Some(e)),
                    Value::Null => Err("must not be null"),
                    _ => Err("must be a string"),
                },
                "full_name" => match value {
                    Value::String(s) => FullName::parse(&s).map(|n| members.full_name = Some(n)),
                    Value::Null => {
                        members.full_name = Some(None);
                        Ok(())
                    }
                    _ => Err("must be a string or null"),
                },
                _ => match value {
                    Value::Bool(b) => {
                        members.is_active = Some(b);
                        Ok(())
                    }
                    Value::Null => Err("must not be null"),
                    _ => Err("must be a boolean"),
                },
            };
            if let Err(message) = result {
                members.problems.push(problem(message));
            }
        }
        members
    }
}

/// A member name as reported back: long names are cut, not echoed whole.
fn field_name(name: &str) -> Cow<'static, str> {
    Cow::Owned(name.chars().take(100).collect())
}

impl NewUser {
    /// Validates a create body; every problem is reported at once.
    pub fn parse(body: JsonObject) -> Result<Self, AppError> {
        let mut members = Members::parse(body);
        let missing_email =
            members.email.is_none() && !members.problems.iter().any(|p| p.field == "email");
        if missing_email {
            members
                .problems
                .push(FieldError::new(Location::Body, "email", "is required"));
        }
        match members.email {
            Some(email) if members.problems.is_empty() => Ok(Self {
                email,
                full_name: members.full_name.flatten(),
                is_active: members.is_active.unwrap_or(true),
            }),
            _ => Err(AppError::Validation(members.problems)),
        }
    }
}

impl UserPatch {
    /// Validates an update body; every problem is reported at once.
    pub fn parse(body: JsonObject) -> Result<Self, AppError> {
        let members = Members::parse(body);
        if !members.problems.is_empty() {
            return Err(AppError::Validation(members.problems));
        }
        Ok(Self {
            email: members.email,
            full_name: members.full_name,
            is_active: members.is_active,
        })
    }

    /// Whether the patch changes nothing (`{}`): a no-op, not an update.
    pub fn is_empty(&self) -> bool {
        self.email.is_none() && self.full_name.is_none() && self.is_active.is_none()
    }
}

/// A validated `GET /api/v1/users` query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListQuery {
    /// Continue after this id (from the cursor).
    pub after: Option<Uuid>,
    /// Page size, 1 to 100.
    pub limit: u8,
    /// Only users with this `is_active`, if given.
    pub is_active: Option<bool>,
}

/// The default page size.
pub const DEFAULT_LIMIT: u8 = 20;
/// The largest page size.
pub const MAX_LIMIT: u8 = 100;

impl ListQuery {
    /// Parses the raw query string strictly: unknown or repeated parameters,
    /// bad values and undecodable cursors are all reported.
    pub fn parse(raw: Option<&str>) -> Result<Self, AppError> {
        let problem = |field: &str, message: &'static str| {
            FieldError::new(Location::Query, field_name(field), message)
        };
        let pairs = query::parse_pairs(raw.unwrap_or("")).map_err(|name| {
            AppError::Validation(vec![problem(&name, "is not valid percent-encoded UTF-8")])
        })?;
        let mut parsed = Self {
            after: None,
            limit: DEFAULT_LIMIT,
            is_active: None,
        };
        let mut problems = Vec::new();
        let mut seen: Vec<&str> = Vec::new();
        for (name, value) in &pairs {
            let name = name.as_ref();
            let Some(known) = ["limit", "cursor", "is_active"]
                .into_iter()
                .find(|k| *k == name)
            else {
                problems.push(problem(name, "is not a known parameter"));
                continue;
            };
            if seen.contains(&known) {
                problems.push(problem(name, "must appear only once"));
                continue;
            }
            seen.push(known);
            let result = match known {
                "limit" => parse_limit(value).map(|l| parsed.limit = l),
                "cursor" => cursor::decode(value)
                    .map(|id| parsed.after = Some(id))
                    .ok_or("is not a cursor issued by this service"),
                _ => match value.as_ref() {
                    "true" => Ok(true),
                    "false" => Ok(false),
                    _ => Err("must be true or false"),
                }
                .map(|active| parsed.is_active = Some(active)),
            };
            if let Err(message) = result {
                problems.push(problem(name, message));
            }
        }
        if problems.is_empty() {
            Ok(parsed)
        } else {
            Err(AppError::Validation(problems))
        }
    }
}

fn parse_limit(value: &str) -> Result<u8, &'static str> {
    const MESSAGE: &str = "must be an integer from 1 to 100";
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(MESSAGE);
    }
    let digits = value.trim_start_matches('0');
    if digits.len() > 3 {
        return Err(MESSAGE);
    }
    match digits.parse::<u8>() {
        Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        _ => Err(MESSAGE),
    }
}

/// One page of users and the cursor to the next, if more exist.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    /// The users, in id order.
    pub items: Vec<User>,
    /// Where to continue; `null` on the last page.
    pub next_cursor: Option<String>,
}

fn email_taken(error: AppError) -> AppError {
    match error {
        AppError::Conflict(_) => AppError::Conflict(EMAIL_TAKEN.into()),
        other => other,
    }
}

/// Creates a user with a fresh UUIDv7.
pub async fn create(pool: &Pool, new: NewUser) -> Result<User, AppError> {
    let db = pool.get().await?;
    repository::insert(
        &db,
        Uuid::now_v7(),
        &new.email,
        new.full_name.as_ref(),
        new.is_active,
    )
    .await
    .map_err(|e| email_taken(e.into()))
}

/// The user with `id`, or 404.
pub async fn get(pool: &Pool, id: Uuid) -> Result<User, AppError> {
    let db = pool.get().await?;
    repository::find(&db, id).await?.ok_or(AppError::NotFound)
}

/// One page of users; reads one row more than asked to know if more exist.
pub async fn list(pool: &Pool, query: ListQuery) -> Result<Page, AppError> {
    let db = pool.get().await?;
    let limit = usize::from(query.limit);
    let mut items = repository::page(
        &db,
        query.after.unwrap_or(Uuid::nil()),
        query.is_active,
        i64::from(query.limit) + 1,
    )
    .await?;
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|u| cursor::encode(u.id))
    } else {
        None
    };
    Ok(Page { items, next_cursor })
}

/// Applies `patch` to the user with `id`; `{}` returns the user unchanged.
pub async fn update(pool: &Pool, id: Uuid, patch: UserPatch) -> Result<User, AppError> {
    let db = pool.get().await?;
    if patch.is_empty() {
        return repository::find(&db, id).await?.ok_or(AppError::NotFound);
    }
    let changes = repository::Changes {
        email: patch.email.as_ref(),
        full_name: patch.full_name.as_ref().map(Option::as_ref),
        is_active: patch.is_active,
    };
    repository::update(&db, id, &changes)
        .await
        .map_err(|e| email_taken(e.into()))?
        .ok_or(AppError::NotFound)
}

/// Deletes the user with `id`, or 404.
pub async fn delete(pool: &Pool, id: Uuid) -> Result<(), AppError> {
    let db = pool.get().await?;
    if repository::delete(&db, id).await? {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::body::parse_object;

    fn body(json: &str) -> JsonObject {
        parse_object(json.as_bytes()).unwrap()
    }

    fn problems(error: AppError) -> Vec<(String, String)> {
        match error {
            AppError::Validation(list) => list
                .into_iter()
                .map(|p| {
                    assert_eq!(p.location, Location::Body);
                    (p.field.into_owned(), p.message.into_owned())
                })
                .collect(),
            other => panic!("not a validation error: {other:?}"),
        }
    }

    #[test]
    fn create_defaults_and_trims() {
        let new = NewUser::parse(body(r#"{"email":" a@b.c "}"#)).unwrap();
        assert_eq!(new.email.as_str(), "a@b.c");
        assert_eq!(new.full_name, None);
        assert!(new.is_active);
        let new = NewUser::parse(body(
            r#"{"email":"a@b.c","full_name":"  ","is_active":false}"#,
        ))
        .unwrap();
        assert_eq!(new.full_name, None);
        assert!(!new.is_active);
        let new = NewUser::parse(body(r#"{"email":"a@b.c","full_name":null}"#)).unwrap();
        assert_eq!(new.full_name, None);
    }

    #[test]
    fn create_reports_every_problem() {
        let error = NewUser::parse(body(
            r#"{"full_name":1,"is_active":null,"role":"admin","extra":[]}"#,
        ))
        .unwrap_err();
        assert_eq!(
            problems(error),
            [
                ("full_name".into(), "must be a string or null".into()),
                ("is_active".into(), "must not be null".into()),
                ("role".into(), "is not a known member".into()),
                ("extra".into(), "is not a known member".into()),
                ("email".into(), "is required".into()),
            ]
        );
    }

    #[test]
    fn create_rejects_null_and_wrong_types() {
        let cases = [
            (r#"{"email":null}"#, "email", "must not be null"),
            (r#"{"email":5}"#, "email", "must be a string"),
            (
                r#"{"email":"x"}"#,
                "email",
                "must be 3 to 254 characters long",
            ),
            (
                r#"{"email":"a@b.c","is_active":"yes"}"#,
                "is_active",
                "must be a boolean",
            ),
            (
                r#"{"email":"a@b.c","email":"d@e.f"}"#,
                "email",
                "must appear only once",
            ),
        ];
        for (json, field, message) in cases {
            let found = problems(NewUser::parse(body(json)).unwrap_err());
            assert_eq!(found, [(field.to_owned(), message.to_owned())], "{json}");
        }
    }

    #[test]
    fn patch_tells_absent_from_null() {
        let patch = UserPatch::parse(body("{}")).unwrap();
        assert!(patch.is_empty());
        let patch = UserPatch::parse(body(r#"{"full_name":null}"#)).unwrap();
        assert_eq!(patch.full_name, Some(None));
        assert!(!patch.is_empty());
        let patch = UserPatch::parse(body(r#"{"full_name":" Ada "}"#)).unwrap();
        assert_eq!(patch.full_name.unwrap().unwrap().as_str(), "Ada");
        let error =
            UserPatch::parse(body(r#"{"email":null,"is_active":null,"id":"x"}"#)).unwrap_err();
        assert_eq!(problems(error).len(), 3);
    }

    fn query_problems(raw: &str) -> Vec<(String, String)> {
        match ListQuery::parse(Some(raw)).unwrap_err() {
            AppError::Validation(list) => list
                .into_iter()
                .map(|p| {
                    assert_eq!(p.location, Location::Query);
                    (p.field.into_owned(), p.message.into_owned())
                })
                .collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn list_query_defaults_and_values() {
        let q = ListQuery::parse(None).unwrap();
        assert_eq!((q.after, q.limit, q.is_active), (None, 20, None));
        let id = Uuid::now_v7();
        let raw = format!("limit=100&is_active=false&cursor={}", cursor::encode(id));
        let q = ListQuery::parse(Some(&raw)).unwrap();
        assert_eq!(
            (q.after, q.limit, q.is_active),
            (Some(id), 100, Some(false))
        );
        assert_eq!(ListQuery::parse(Some("limit=007")).unwrap().limit, 7);
        let q = ListQuery::parse(Some("is_active=true&limit=1")).unwrap();
        assert_eq!((q.is_active, q.limit), (Some(true), 1));
        assert_eq!(ListQuery::parse(Some("limit=%31")).unwrap().limit, 1);
    }

    #[test]
    fn list_query_is_strict() {
        for bad in [
            "0",
            "101",
            "-1",
            "+5",
            "1.0",
            "",
            "abc",
            "99999999999999999999999",
            " 5",
            "%2B5",
            "%2B",
        ] {
            let found = query_problems(&format!("limit={bad}"));
            assert_eq!(
                found,
                [("limit".into(), "must be an integer from 1 to 100".into())],
                "{bad}"
            );
        }
        assert_eq!(
            query_problems("is_active=TRUE")[0].1,
            "must be true or false"
        );
        assert_eq!(query_problems("is_active=1")[0].1, "must be true or false");
        assert_eq!(
            query_problems("cursor=abc")[0].1,
            "is not a cursor issued by this service"
        );
        assert_eq!(
            query_problems("limit=5&limit=5")[0].1,
            "must appear only once"
        );
        assert_eq!(query_problems("offset=5")[0].1, "is not a known parameter");
        assert_eq!(
            query_problems("limit=%zz")[0].1,
            "is not valid percent-encoded UTF-8"
        );
        assert_eq!(query_problems("limit=0&offset=1&is_active=x").len(), 3);
    }
}
