//! Hand-written SQL for users: bound, typed parameters only, every query one
//! round trip; [`Db`] decides whether statements are cached or unnamed.
//!
//! Columns are always named, never `*`: a cached plan must not change shape
//! when a migration adds a column.

use tokio_postgres::Row;
use tokio_postgres::types::Type;
use uuid::Uuid;

use crate::db::Db;

use super::model::{Email, FullName, NewUser, User, UserPatch};

macro_rules! user_columns {
    () => {
        "id, email, full_name, is_active, created_at, updated_at"
    };
}

const SELECT_ONE: &str = concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1");

const SELECT_PAGE: &str = concat!(
    "SELECT ",
    user_columns!(),
    " FROM users WHERE id > $1 ORDER BY id LIMIT $2"
);

const SELECT_PAGE_BY_ACTIVE: &str = concat!(
    "SELECT ",
    user_columns!(),
    " FROM users WHERE is_active = $2 AND id > $1 ORDER BY id LIMIT $3"
);

const INSERT: &str = concat!(
    "INSERT INTO users (id, email, email_key, full_name, is_active) VALUES ($1, $2, $3, $4, $5) RETURNING ",
    user_columns!()
);

/// `$4` says whether to set `full_name` (to `$5`, possibly null); the other
/// members keep their value when their parameter is null. `updated_at`
/// always moves forward, even within one clock tick.
const UPDATE: &str = concat!(
    "UPDATE users SET email = COALESCE($2, email), email_key = COALESCE($3, email_key), \
     full_name = CASE WHEN $4 THEN $5 ELSE full_name END, is_active = COALESCE($6, is_active), \
     updated_at = GREATEST(clock_timestamp(), updated_at + interval '1 microsecond') \
     WHERE id = $1 RETURNING ",
    user_columns!()
);

const DELETE: &str = "DELETE FROM users WHERE id = $1";

fn user(row: &Row) -> Result<User, tokio_postgres::Error> {
    Ok(User {
        id: row.try_get(0)?,
        email: row.try_get(1)?,
        full_name: row.try_get(2)?,
        is_active: row.try_get(3)?,
        created_at: row.try_get(4)?,
        updated_at: row.try_get(5)?,
    })
}

/// The user with `id`, if any.
pub async fn find(db: &Db, id: Uuid) -> Result<Option<User>, tokio_postgres::Error> {
    db.query_opt(SELECT_ONE, &[(&id, Type::UUID)])
        .await?
        .as_ref()
        .map(user)
        .transpose()
}

/// Up to `limit` users with ids after `after`, in id order, optionally only
/// those with `is_active = active`.
pub async fn page(
    db: &Db,
    after: Uuid,
    active: Option<bool>,
    limit: i64,
) -> Result<Vec<User>, tokio_postgres::Error> {
    let rows = match active {
        None => {
            db.query(SELECT_PAGE, &[(&after, Type::UUID), (&limit, Type::INT8)])
                .await?
        }
        Some(active) => {
            db.query(
                SELECT_PAGE_BY_ACTIVE,
                &[
                    (&after, Type::UUID),
                    (&active, Type::BOOL),
                    (&limit, Type::INT8),
                ],
            )
            .await?
        }
    };
    rows.iter().map(user).collect()
}

/// Inserts `new` as the user `id`; a taken email fails with a unique
/// violation.
pub async fn insert(db: &Db, id: Uuid, new: &NewUser) -> Result<User, tokio_postgres::Error> {
    let row = db
        .query_one(
            INSERT,
            &[
                (&id, Type::UUID),
                (&new.email.as_str(), Type::TEXT),
                (&new.email.key(), Type::TEXT),
                (&new.full_name.as_ref().map(FullName::as_str), Type::TEXT),
                (&new.is_active, Type::BOOL),
            ],
        )
        .await?;
    user(&row)
}

/// Applies `patch` to the user with `id`; `None` if there is no such user.
pub async fn update(
    db: &Db,
    id: Uuid,
    patch: &UserPatch,
) -> Result<Option<User>, tokio_postgres::Error> {
    let email = patch.email.as_ref().map(Email::as_str);
    let email_key = patch.email.as_ref().map(Email::key);
    let set_full_name = patch.full_name.is_some();
    let full_name = patch
        .full_name
        .as_ref()
        .and_then(Option::as_ref)
        .map(FullName::as_str);
    let row = db
        .query_opt(
            UPDATE,
            &[
                (&id, Type::UUID),
                (&email, Type::TEXT),
                (&email_key, Type::TEXT),
                (&set_full_name, Type::BOOL),
                (&full_name, Type::TEXT),
                (&patch.is_active, Type::BOOL),
            ],
        )
        .await?;
    row.as_ref().map(user).transpose()
}

/// Deletes the user with `id`; `false` if there was none.
pub async fn delete(db: &Db, id: Uuid) -> Result<bool, tokio_postgres::Error> {
    Ok(db.execute(DELETE, &[(&id, Type::UUID)]).await? == 1)
}
