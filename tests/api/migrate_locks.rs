//! The migration runner never waits without bound: a second runner gives up
//! on the migration lock within `MIGRATE_LOCK_TIMEOUT_MS` and names the
//! holder, and a migration whose table is locked fails by `lock_timeout`
//! instead of queueing (and making every later query on the table queue).

use std::time::{Duration, Instant};

use backend::db::migrate::{self, LOCK_KEY, MIGRATIONS, MigrateError, Migration};
use tokio_postgres::error::SqlState;

use crate::common::{connect, fresh_database};

const TIMEOUT: Duration = Duration::from_millis(400);

#[tokio::test]
async fn a_second_runner_gives_up_on_the_lock_and_names_its_holder() {
    let db = fresh_database().await;
    let holder = connect(&db).await;
    holder
        .execute("SELECT pg_advisory_lock($1)", &[&LOCK_KEY])
        .await
        .unwrap();
    let pid: i32 = holder
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);

    let mut runner = connect(&db).await;
    let started = Instant::now();
    let error = migrate::up_within(&mut runner, MIGRATIONS, TIMEOUT)
        .await
        .unwrap_err();
    let waited = started.elapsed();
    assert!(
        waited >= TIMEOUT && waited < TIMEOUT + Duration::from_secs(1),
        "{waited:?}"
    );
    assert!(
        matches!(error, MigrateError::LockTimeout { holder: Some(p), .. } if p == pid),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains(&format!("backend pid {pid}")), "{message}");
    assert!(message.contains("MIGRATE_LOCK_TIMEOUT_MS"), "{message}");
    assert!(!error.is_unreachable());

    // Once the holder lets go, the same runner migrates.
    holder
        .execute("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY])
        .await
        .unwrap();
    let applied = migrate::up_within(&mut runner, MIGRATIONS, TIMEOUT)
        .await
        .unwrap();
    assert_eq!(applied.len(), MIGRATIONS.len());
}

#[tokio::test]
async fn ddl_behind_a_table_lock_fails_by_lock_timeout() {
    let db = fresh_database().await;
    let mut runner = connect(&db).await;
    migrate::up_within(&mut runner, MIGRATIONS, TIMEOUT)
        .await
        .unwrap();
    // A long reader: holds ACCESS SHARE on users until it ends.
    let mut reader = connect(&db).await;
    let tx = reader.transaction().await.unwrap();
    tx.batch_execute("LOCK TABLE users IN ACCESS SHARE MODE")
        .await
        .unwrap();

    let alter = Migration {
        version: 29_991_231_000_000,
        name: "add_column",
        up: "ALTER TABLE users ADD COLUMN nickname text",
        down: "ALTER TABLE users DROP COLUMN nickname",
    };
    let all: Vec<Migration> = MIGRATIONS.iter().copied().chain([alter]).collect();
    let started = Instant::now();
    let error = migrate::up_within(&mut runner, &all, TIMEOUT)
        .await
        .unwrap_err();
    let waited = started.elapsed();
    assert!(waited < TIMEOUT + Duration::from_secs(1), "{waited:?}");
    let MigrateError::Database(e) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(e.code(), Some(&SqlState::LOCK_NOT_AVAILABLE), "{error}");

    // Nothing half-applied; the lock was released, so a later run succeeds.
    tx.rollback().await.unwrap();
    let applied = migrate::up_within(&mut runner, &all, TIMEOUT)
        .await
        .unwrap();
    assert_eq!(applied.len(), 1);
}
