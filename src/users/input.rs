//! Reading the user requests: a body into a [`NewUser`] or a [`UserPatch`],
//! a query string into a [`ListQuery`] — every problem reported at once.
//!
//! The strict readers are shared ([`crate::http::members`],
//! [`crate::http::query`]); this file says which names users accept and
//! what each must hold.

use serde_json::Value;
use uuid::Uuid;

use super::model::{Email, FullName, NewUser, UserPatch};
use crate::error::{AppError, FieldError, Location};
use crate::http::body::JsonObject;
use crate::http::{Names, cursor, members, query};

/// The members a user body may have, on create and on update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Member {
    /// `email`.
    Email,
    /// `full_name`.
    FullName,
    /// `is_active`.
    IsActive,
}

impl Names for Member {
    const ALL: &'static [(&'static str, Self)] = &[
        ("email", Self::Email),
        ("full_name", Self::FullName),
        ("is_active", Self::IsActive),
    ];
}

/// The members of a body, each parsed, and the problems found.
#[derive(Default)]
struct Parsed {
    email: Option<Email>,
    full_name: Option<Option<FullName>>,
    is_active: Option<bool>,
    problems: Vec<FieldError>,
}

impl Parsed {
    fn read(body: JsonObject) -> Self {
        let mut parsed = Self::default();
        parsed.problems = members::read(body, |member, value: Value| match member {
            Member::Email => {
                parsed.email = Some(Email::parse(&members::string(value)?)?);
                Ok(())
            }
            Member::FullName => {
                parsed.full_name = Some(match members::nullable_string(value)? {
                    Some(text) => FullName::parse(&text)?,
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
}

impl NewUser {
    /// Validates a create body; every problem is reported at once.
    pub fn parse(body: JsonObject) -> Result<Self, AppError> {
        let mut parsed = Parsed::read(body);
        let missing_email =
            parsed.email.is_none() && !parsed.problems.iter().any(|p| p.field == "email");
        if missing_email {
            parsed
                .problems
                .push(FieldError::new(Location::Body, "email", "is required"));
        }
        match parsed.email {
            Some(email) if parsed.problems.is_empty() => Ok(Self {
                email,
                full_name: parsed.full_name.flatten(),
                is_active: parsed.is_active.unwrap_or(true),
            }),
            _ => Err(AppError::Validation(parsed.problems)),
        }
    }
}

impl UserPatch {
    /// Validates an update body; every problem is reported at once.
    pub fn parse(body: JsonObject) -> Result<Self, AppError> {
        let parsed = Parsed::read(body);
        if !parsed.problems.is_empty() {
            return Err(AppError::Validation(parsed.problems));
        }
        Ok(Self {
            email: parsed.email,
            full_name: parsed.full_name,
            is_active: parsed.is_active,
        })
    }
}

/// The parameters of `GET /api/v1/users`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Param {
    /// `limit`: the page size.
    Limit,
    /// `cursor`: where to continue.
    Cursor,
    /// `is_active`: a filter.
    IsActive,
}

impl Names for Param {
    const ALL: &'static [(&'static str, Self)] = &[
        ("limit", Self::Limit),
        ("cursor", Self::Cursor),
        ("is_active", Self::IsActive),
    ];
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

impl ListQuery {
    /// Parses the raw query string strictly: unknown or repeated parameters,
    /// bad values and undecodable cursors are all reported.
    pub fn parse(raw: Option<&str>) -> Result<Self, AppError> {
        let mut parsed = Self {
            after: None,
            limit: query::DEFAULT_LIMIT,
            is_active: None,
        };
        query::read(raw, |param, value| {
            match param {
                Param::Limit => parsed.limit = query::limit(value)?,
                Param::Cursor => {
                    parsed.after = Some(
                        cursor::decode(value).ok_or("is not a cursor issued by this service")?,
                    );
                }
                Param::IsActive => parsed.is_active = Some(query::boolean(value)?),
            }
            Ok(())
        })?;
        Ok(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Location;
    use crate::http::body::parse_object;
    use crate::http::cursor;

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
