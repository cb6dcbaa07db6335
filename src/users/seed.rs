//! Demo and load-test data: `backend seed N` (`make seed`) creates N users
//! with realistic names through the same operation as `POST /api/v1/users`,
//! so every rule (and every event for the webhooks) applies as it would.

use uuid::Uuid;

use super::model::{Email, FullName, NewUser};
use super::service;
use crate::db::Pool;
use crate::error::AppError;

/// First names, with the ASCII form used in the email's local part; some
/// are not ASCII themselves, as real ones are not.
const FIRST: [(&str, &str); 16] = [
    ("Ada", "ada"),
    ("Grace", "grace"),
    ("Alan", "alan"),
    ("Élise", "elise"),
    ("Jürgen", "juergen"),
    ("Zoë", "zoe"),
    ("Søren", "soren"),
    ("Chidi", "chidi"),
    ("Mei", "mei"),
    ("Aarav", "aarav"),
    ("Leila", "leila"),
    ("Tomás", "tomas"),
    ("Ngozi", "ngozi"),
    ("Hiroshi", "hiroshi"),
    ("Olga", "olga"),
    ("Kwame", "kwame"),
];

/// Last names, likewise.
const LAST: [(&str, &str); 16] = [
    ("Lovelace", "lovelace"),
    ("Hopper", "hopper"),
    ("Turing", "turing"),
    ("Dubois", "dubois"),
    ("Müller", "mueller"),
    ("O'Brien", "obrien"),
    ("Kierkegaard", "kierkegaard"),
    ("Okafor", "okafor"),
    ("Chen", "chen"),
    ("Sharma", "sharma"),
    ("Haddad", "haddad"),
    ("García", "garcia"),
    ("Adeyemi", "adeyemi"),
    ("Tanaka", "tanaka"),
    ("Ivanova", "ivanova"),
    ("Mensah", "mensah"),
];

/// What a seeding run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seeded {
    /// Users created.
    pub created: usize,
    /// Users skipped because their email was taken (an earlier run's).
    pub skipped: usize,
}

/// The `n`-th user of the run tagged `run`: a name from the lists above,
/// an email unique to the run, every seventh one inactive, every fifth one
/// without a name.
pub fn user(run: &str, n: usize) -> NewUser {
    let (first, first_ascii) = FIRST[n % FIRST.len()];
    let (last, last_ascii) = LAST[(n / FIRST.len()) % LAST.len()];
    let email = format!("{first_ascii}.{last_ascii}.{run}{n}@example.com");
    NewUser {
        email: Email::parse(&email).unwrap_or_else(|e| unreachable!("{email}: {e}")),
        full_name: if n % 5 == 4 {
            None
        } else {
            FullName::parse(&format!("{first} {last}")).unwrap_or_else(|e| unreachable!("{e}"))
        },
        is_active: n % 7 != 6,
    }
}

/// Creates `count` users; an email already taken is skipped, not an error.
pub async fn seed(pool: &Pool, count: usize) -> Result<Seeded, AppError> {
    let run = Uuid::new_v4().simple().to_string()[..6].to_owned();
    let mut seeded = Seeded {
        created: 0,
        skipped: 0,
    };
    for n in 0..count {
        match service::create(pool, user(&run, n), None).await {
            Ok(_) => seeded.created += 1,
            Err(AppError::Conflict(_)) => seeded.skipped += 1,
            Err(other) => return Err(other),
        }
    }
    Ok(seeded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_users_are_valid_varied_and_unique_within_a_run() {
        let users: Vec<NewUser> = (0..300).map(|n| user("abc123", n)).collect();
        let mut emails: Vec<&str> = users.iter().map(|u| u.email.as_str()).collect();
        emails.sort_unstable();
        emails.dedup();
        assert_eq!(emails.len(), 300, "unique emails");
        assert!(users.iter().any(|u| !u.is_active));
        assert!(users.iter().any(|u| u.full_name.is_none()));
        assert!(
            users
                .iter()
                .filter_map(|u| u.full_name.as_ref())
                .any(|n| !n.as_str().is_ascii())
        );
        assert_ne!(user("run1", 0).email, user("run2", 0).email);
        // Every fifth without a name, every seventh inactive.
        assert_eq!(users.iter().filter(|u| u.full_name.is_none()).count(), 60);
        assert_eq!(users.iter().filter(|u| !u.is_active).count(), 42);
    }
}
