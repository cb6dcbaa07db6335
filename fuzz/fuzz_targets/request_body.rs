//! Fuzzes the path from request-body bytes to a validated command: JSON
//! object parsing, then the create and update rules. It must never panic, and
//! whatever it accepts must satisfy the rules it claims to enforce.

#![no_main]

use backend::error::AppError;
use backend::http::body::parse_object;
use backend::users::model::{Email, FullName};
use backend::users::model::{NewUser, UserPatch};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(object) = parse_object(data) else {
        return;
    };
    match NewUser::parse(object.clone()) {
        Ok(user) => {
            check_email(&user.email);
            if let Some(name) = &user.full_name {
                check_name(name);
            }
        }
        Err(AppError::Validation(problems)) => assert!(!problems.is_empty()),
        Err(other) => panic!("create validation answered {other:?}"),
    }
    match UserPatch::parse(object) {
        Ok(patch) => {
            if let Some(email) = &patch.email {
                check_email(email);
            }
            if let Some(Some(name)) = &patch.full_name {
                check_name(name);
            }
        }
        Err(AppError::Validation(problems)) => assert!(!problems.is_empty()),
        Err(other) => panic!("update validation answered {other:?}"),
    }
});

/// An accepted email obeys API.md's rules and parses to itself.
fn check_email(email: &Email) {
    let text = email.as_str();
    assert_eq!(text.trim(), text);
    let length = text.chars().count();
    assert!((3..=254).contains(&length));
    assert_eq!(text.matches('@').count(), 1);
    let (local, domain) = text.split_once('@').unwrap();
    assert!(!local.is_empty() && local.chars().count() <= 64 && !domain.is_empty());
    assert!(!text.chars().any(|c| c.is_whitespace() || c.is_control()));
    assert_eq!(Email::parse(text).as_ref(), Ok(email));
    assert_eq!(email.key(), text.to_lowercase());
}

/// An accepted name is trimmed, non-empty, short enough, free of controls.
fn check_name(name: &FullName) {
    let text = name.as_str();
    assert_eq!(text.trim(), text);
    assert!(!text.is_empty() && text.chars().count() <= 255);
    assert!(!text.chars().any(char::is_control));
}
