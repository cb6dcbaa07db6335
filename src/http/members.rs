//! The strict reader of a JSON object's members: each member must be one the
//! resource knows, appear once, and have the type that member takes; every
//! problem is reported, not just the first.
//!
//! A resource names its members as an enum implementing [`Names`]; the
//! reader finds the member for each name and hands its value to the
//! resource's parser, which matches the enum exhaustively.

use std::borrow::Cow;

use serde_json::Value;

use super::Names;
use super::body::JsonObject;
use crate::error::{FieldError, Location};

/// Reads `body`: an unknown or repeated member is a problem; every other
/// member's value goes to `parse`, whose refusal is a problem for that
/// member. Returns the problems found, in the body's order.
pub fn read<M: Names>(
    body: JsonObject,
    mut parse: impl FnMut(M, Value) -> Result<(), &'static str>,
) -> Vec<FieldError> {
    let mut problems = Vec::new();
    let mut seen: Vec<M> = Vec::with_capacity(M::ALL.len());
    for (name, value) in body.0 {
        let problem =
            |message: &'static str| FieldError::new(Location::Body, field_name(&name), message);
        let Some(member) = M::named(&name) else {
            problems.push(problem("is not a known member"));
            continue;
        };
        if seen.contains(&member) {
            problems.push(problem("must appear only once"));
            continue;
        }
        seen.push(member);
        if let Err(message) = parse(member, value) {
            problems.push(problem(message));
        }
    }
    problems
}

/// A name as reported back: long names are cut, not echoed whole.
pub fn field_name(name: &str) -> Cow<'static, str> {
    Cow::Owned(name.chars().take(100).collect())
}

/// A string member that must not be null.
pub fn string(value: Value) -> Result<String, &'static str> {
    match value {
        Value::String(s) => Ok(s),
        Value::Null => Err("must not be null"),
        _ => Err("must be a string"),
    }
}

/// A string member that may be null (`None`).
pub fn nullable_string(value: Value) -> Result<Option<String>, &'static str> {
    match value {
        Value::String(s) => Ok(Some(s)),
        Value::Null => Ok(None),
        _ => Err("must be a string or null"),
    }
}

/// A boolean member that must not be null.
pub fn boolean(value: &Value) -> Result<bool, &'static str> {
    match *value {
        Value::Bool(b) => Ok(b),
        Value::Null => Err("must not be null"),
        _ => Err("must be a boolean"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::body::parse_object;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Pet {
        Name,
        Age,
    }

    impl Names for Pet {
        const ALL: &'static [(&'static str, Self)] = &[("name", Self::Name), ("age", Self::Age)];
    }

    type Visited = Vec<(Pet, Value)>;
    type Found = Vec<(String, String)>;

    fn problems(json: &str) -> (Visited, Found) {
        let mut visited = Vec::new();
        let found = read::<Pet>(parse_object(json.as_bytes()).unwrap(), |m, v| {
            visited.push((m, v.clone()));
            match m {
                Pet::Name => string(v).map(drop),
                Pet::Age => v.as_u64().map(drop).ok_or("must be a whole number"),
            }
        });
        let found = found
            .into_iter()
            .map(|p| {
                assert_eq!(p.location, Location::Body);
                (p.field.into_owned(), p.message.into_owned())
            })
            .collect();
        (visited, found)
    }

    #[test]
    fn known_members_are_parsed_once_in_order() {
        let (visited, found) = problems(r#"{"age":3,"name":"Rex"}"#);
        assert!(found.is_empty());
        assert_eq!(
            visited,
            [(Pet::Age, Value::from(3)), (Pet::Name, Value::from("Rex"))]
        );
    }

    #[test]
    fn unknown_repeated_and_mistyped_members_are_all_reported() {
        let (visited, found) = problems(r#"{"name":1,"colour":"red","name":"Rex","age":"x"}"#);
        assert_eq!(visited.len(), 2, "a repeat is not parsed again");
        assert_eq!(
            found,
            [
                ("name".into(), "must be a string".into()),
                ("colour".into(), "is not a known member".into()),
                ("name".into(), "must appear only once".into()),
                ("age".into(), "must be a whole number".into()),
            ]
        );
    }

    #[test]
    fn long_names_are_cut_when_reported() {
        let long = "n".repeat(300);
        let (_, found) = problems(&format!(r#"{{"{long}":1}}"#));
        assert_eq!(found[0].0.chars().count(), 100);
    }

    #[test]
    fn members_know_their_names() {
        assert_eq!(Pet::named("age"), Some(Pet::Age));
        assert_eq!(Pet::named("Age"), None);
        assert_eq!(Pet::Name.name(), "name");
    }

    #[test]
    fn value_readers_tell_null_from_wrong_types() {
        assert_eq!(string(Value::from("a")), Ok("a".into()));
        assert_eq!(string(Value::Null), Err("must not be null"));
        assert_eq!(string(Value::from(1)), Err("must be a string"));
        assert_eq!(nullable_string(Value::Null), Ok(None));
        assert_eq!(nullable_string(Value::from("a")), Ok(Some("a".into())));
        assert_eq!(
            nullable_string(Value::Bool(true)),
            Err("must be a string or null")
        );
        assert_eq!(boolean(&Value::Bool(false)), Ok(false));
        assert_eq!(boolean(&Value::Null), Err("must not be null"));
        assert_eq!(boolean(&Value::from("true")), Err("must be a boolean"));
    }
}
