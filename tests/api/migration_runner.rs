//! The migration runner's failure paths against a real database: a failing
//! migration is undone whole and stops the run, a database that cannot be
//! reached (or answers nothing) is told apart from a schema problem, and
//! `prepare` leaves the schema alone unless asked.

use std::time::{Duration, Instant};

use backend::config::{DatabaseUrl, Settings};
use backend::db::migrate::{self, MIGRATIONS, MigrateError, Migration};

use crate::common::{connect, fresh_database, relation_exists as exists};

async fn recorded(client: &tokio_postgres::Client) -> Vec<i64> {
    client
        .query(
            "SELECT version FROM schema_migrations ORDER BY version",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

const FIRST: Migration = Migration {
    version: 20_260_101_000_000,
    name: "first",
    up: "CREATE TABLE first (id int)",
    down: "DROP TABLE first",
};
/// Creates a table, then fails: the table must not survive.
const BROKEN: Migration = Migration {
    version: 20_260_102_000_000,
    name: "broken",
    up: "CREATE TABLE half_done (id int); SELECT no_such_function()",
    down: "DROP TABLE half_done",
};
const THIRD: Migration = Migration {
    version: 20_260_103_000_000,
    name: "third",
    up: "CREATE TABLE third (id int)",
    down: "DROP TABLE third",
};

#[tokio::test]
async fn a_failing_migration_is_undone_whole_and_stops_the_run() {
    let db = fresh_database().await;
    let mut client = connect(&db).await;
    let error = migrate::up(&mut client, &[FIRST, BROKEN, THIRD])
        .await
        .unwrap_err();
    assert!(matches!(error, MigrateError::Database(_)), "{error:?}");
    assert!(
        !error.is_unreachable(),
        "an SQL error is not worth retrying"
    );
    let text = error.to_string();
    assert!(text.starts_with("database error: "), "{text}");
    assert!(text.contains("no_such_function"), "{text}");
    assert!(std::error::Error::source(&error).is_some());

    assert_eq!(recorded(&client).await, [FIRST.version]);
    assert!(exists(&client, "first").await);
    assert!(
        !exists(&client, "half_done").await,
        "rolled back with its row"
    );
    assert!(!exists(&client, "third").await, "nothing after it ran");
    let status = migrate::status(&mut client, &[FIRST, BROKEN, THIRD])
        .await
        .unwrap();
    let applied_flags: Vec<_> = status.iter().map(|s| s.applied_at.is_some()).collect();
    assert_eq!(applied_flags, [true, false, false]);

    // Fixed, the run resumes where it stopped.
    let fixed = Migration {
        up: "CREATE TABLE half_done (id int)",
        ..BROKEN
    };
    let applied = migrate::up(&mut client, &[FIRST, fixed, THIRD])
        .await
        .unwrap();
    let versions: Vec<_> = applied.iter().map(|a| a.version).collect();
    assert_eq!(versions, [BROKEN.version, THIRD.version]);
    assert_eq!(applied[0].name, "broken");
}

#[tokio::test]
async fn down_reverts_only_the_latest_and_a_failing_revert_changes_nothing() {
    let db = fresh_database().await;
    let mut client = connect(&db).await;
    // A down that fails until the database has what it needs: the same
    // SQL both times (changing it after apply would be drift).
    let stuck = Migration {
        down: "DROP TABLE third; DROP TABLE needed_by_down",
        ..THIRD
    };
    migrate::up(&mut client, &[FIRST, stuck]).await.unwrap();
    let error = migrate::down(&mut client, &[FIRST, stuck])
        .await
        .unwrap_err();
    assert!(!error.is_unreachable());
    assert_eq!(recorded(&client).await, [FIRST.version, THIRD.version]);
    assert!(
        exists(&client, "third").await,
        "the failed revert rolled back"
    );

    client
        .batch_execute("CREATE TABLE needed_by_down ()")
        .await
        .unwrap();
    let reverted = migrate::down(&mut client, &[FIRST, stuck])
        .await
        .unwrap()
        .unwrap();
    assert_eq!((reverted.version, reverted.name), (THIRD.version, "third"));
    assert!(reverted.duration_ms >= 0);
    assert_eq!(recorded(&client).await, [FIRST.version]);
    assert!(!exists(&client, "third").await);
    assert!(exists(&client, "first").await, "only the latest one");
}

fn settings_for(config: tokio_postgres::Config, connect_timeout: Duration) -> Settings {
    let mut settings = Settings::for_database(DatabaseUrl::from_config(config));
    settings.connect_timeout = connect_timeout;
    settings
}

#[tokio::test]
async fn an_unreachable_database_is_worth_retrying() {
    // Held for the whole test, never listening: the connect is refused.
    let reserved = crate::common::ports::ClosedPort::new();
    let mut config = tokio_postgres::Config::new();
    config
        .host("127.0.0.1")
        .port(reserved.port())
        .user("nobody");
    let error = migrate::connect(&settings_for(config, Duration::from_secs(2)))
        .await
        .unwrap_err();
    assert!(matches!(error, MigrateError::Database(_)), "{error:?}");
    assert!(error.is_unreachable());
    assert!(error.to_string().starts_with("database error: "), "{error}");
}

#[tokio::test]
async fn a_server_that_accepts_and_says_nothing_times_out() {
    // The kernel completes the TCP handshake; nobody ever answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut config = tokio_postgres::Config::new();
    config
        .host("127.0.0.1")
        .port(silent.local_addr().unwrap().port())
        .user("nobody");
    let started = Instant::now();
    let error = migrate::connect(&settings_for(config, Duration::from_millis(300)))
        .await
        .unwrap_err();
    assert!(matches!(error, MigrateError::ConnectTimeout), "{error:?}");
    assert!(error.is_unreachable());
    assert!(started.elapsed() < Duration::from_secs(3), "bounded");
}

#[tokio::test]
async fn a_missing_database_is_not_worth_retrying() {
    let mut config = fresh_database().await;
    config.dbname("no_such_database");
    let error = migrate::connect(&settings_for(config, Duration::from_secs(3)))
        .await
        .unwrap_err();
    assert!(!error.is_unreachable(), "{error}");
    assert!(error.to_string().contains("no_such_database"), "{error}");
}

#[tokio::test]
async fn prepare_applies_migrations_only_when_asked() {
    let db = fresh_database().await;
    let mut settings = settings_for(db.clone(), Duration::from_secs(3));
    settings.migrate_on_start = false;
    let state = backend::state::AppState::new(settings.clone()).unwrap();
    backend::db::prepare(&state.settings).await.unwrap();
    let client = connect(&db).await;
    assert!(!exists(&client, "schema_migrations").await);

    settings.migrate_on_start = true;
    let state = backend::state::AppState::new(settings).unwrap();
    backend::db::prepare(&state.settings).await.unwrap();
    assert_eq!(recorded(&client).await.len(), MIGRATIONS.len());
    // A second start finds nothing to do.
    backend::db::prepare(&state.settings).await.unwrap();
    assert_eq!(recorded(&client).await.len(), MIGRATIONS.len());
}

#[tokio::test]
async fn status_lists_each_known_and_each_recorded_migration_once() {
    let db = fresh_database().await;
    let mut client = connect(&db).await;
    migrate::up(&mut client, &[FIRST, THIRD]).await.unwrap();
    client
        .batch_execute(
            "INSERT INTO schema_migrations (version, name, checksum, duration_ms) \
             VALUES (20991231000000, 'from_the_future', 'x', 0); \
             UPDATE schema_migrations SET checksum = 'edited' WHERE version = 20260103000000",
        )
        .await
        .unwrap();
    let lines = migrate::status(&mut client, &[FIRST, BROKEN, THIRD])
        .await
        .unwrap();
    let summary: Vec<_> = lines
        .iter()
        .map(|s| {
            (
                s.version,
                s.name.as_str(),
                s.applied_at.is_some(),
                s.known,
                s.drifted,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (FIRST.version, "first", true, true, false),
            (BROKEN.version, "broken", false, true, false),
            (THIRD.version, "third", true, true, true),
            (20_991_231_000_000, "from_the_future", true, false, false),
        ]
    );
}

#[tokio::test]
async fn every_run_releases_the_lock_for_the_next() {
    let db = fresh_database().await;
    let mut client = connect(&db).await;
    let other = connect(&db).await;
    let lock_is_free = || async {
        let free: bool = other
            .query_one(
                "SELECT pg_try_advisory_lock($1)",
                &[&0x6261_636b_656e_6431_i64],
            )
            .await
            .unwrap()
            .get(0);
        if free {
            other
                .execute(
                    "SELECT pg_advisory_unlock($1)",
                    &[&0x6261_636b_656e_6431_i64],
                )
                .await
                .unwrap();
        }
        free
    };
    migrate::up(&mut client, &[FIRST]).await.unwrap();
    assert!(lock_is_free().await, "after up");
    migrate::status(&mut client, &[FIRST]).await.unwrap();
    assert!(lock_is_free().await, "after status");
    migrate::down(&mut client, &[FIRST]).await.unwrap();
    assert!(lock_is_free().await, "after down");
    migrate::up(&mut client, &[FIRST, BROKEN])
        .await
        .unwrap_err();
    assert!(lock_is_free().await, "after a failed run");
}
