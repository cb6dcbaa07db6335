//! The migration runner against a real database: up/down/up round trip,
//! drift and unknown versions refused, two runners at once applying each
//! migration once, and the `backend migrate` command.

use backend::db::migrate::{self, MIGRATIONS, MigrateError};

use crate::common::binary::command;
use crate::common::{connect, fresh_database, relation_exists as table_exists};

#[tokio::test]
async fn up_down_up_round_trips() {
    let db = fresh_database().await;
    let mut client = connect(&db).await;
    let applied = migrate::up(&mut client, MIGRATIONS).await.unwrap();
    assert_eq!(applied.len(), MIGRATIONS.len());
    assert!(table_exists(&client, "users").await);
    assert!(
        migrate::up(&mut client, MIGRATIONS)
            .await
            .unwrap()
            .is_empty(),
        "idempotent"
    );
    let row = client
        .query_one("SELECT name, checksum, duration_ms >= 0, applied_at <= now() FROM schema_migrations WHERE version = $1", &[&MIGRATIONS[0].version])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), MIGRATIONS[0].name);
    assert_eq!(row.get::<_, String>(1), MIGRATIONS[0].checksum());
    assert!(row.get::<_, bool>(2) && row.get::<_, bool>(3));

    for _ in MIGRATIONS {
        assert!(
            migrate::down(&mut client, MIGRATIONS)
                .await
                .unwrap()
                .is_some()
        );
    }
    assert!(!table_exists(&client, "users").await);
    assert!(
        migrate::down(&mut client, MIGRATIONS)
            .await
            .unwrap()
            .is_none()
    );
    let status = migrate::status(&mut client, MIGRATIONS).await.unwrap();
    assert!(status.iter().all(|s| s.applied_at.is_none()));

    assert_eq!(
        migrate::up(&mut client, MIGRATIONS).await.unwrap().len(),
        MIGRATIONS.len()
    );
    assert!(table_exists(&client, "users").await);
}

#[tokio::test]
async fn a_changed_migration_is_refused_as_drift() {
    let db = fresh_database().await;
    let mut client = connect(&db).await;
    migrate::up(&mut client, MIGRATIONS).await.unwrap();
    client
        .execute(
            "UPDATE schema_migrations SET checksum = 'edited' WHERE version = $1",
            &[&MIGRATIONS[0].version],
        )
        .await
        .unwrap();
    let error = migrate::up(&mut client, MIGRATIONS).await.unwrap_err();
    assert!(
        matches!(error, MigrateError::Drift { version, .. } if version == MIGRATIONS[0].version),
        "{error}"
    );
    assert!(matches!(
        migrate::down(&mut client, MIGRATIONS).await,
        Err(MigrateError::Drift { .. })
    ));
    let status = migrate::status(&mut client, MIGRATIONS).await.unwrap();
    assert!(status[0].drifted);
    assert!(status[0].to_string().contains("DRIFTED"));
    // The lock was released despite the error: another run gets it at once.
    let other = connect(&db).await;
    let free: bool = other
        .query_one(
            "SELECT pg_try_advisory_lock($1)",
            &[&0x6261_636b_656e_6431_i64],
        )
        .await
        .unwrap()
        .get(0);
    assert!(free);
}

#[tokio::test]
async fn a_version_unknown_to_this_binary_is_refused() {
    let db = fresh_database().await;
    let mut client = connect(&db).await;
    migrate::up(&mut client, MIGRATIONS).await.unwrap();
    client
        .execute(
            "INSERT INTO schema_migrations (version, name, checksum, duration_ms) VALUES (99991231235959, 'from_the_future', 'x', 0)",
            &[],
        )
        .await
        .unwrap();
    let error = migrate::up(&mut client, MIGRATIONS).await.unwrap_err();
    assert!(
        matches!(
            error,
            MigrateError::UnknownVersion {
                version: 99_991_231_235_959,
                ..
            }
        ),
        "{error}"
    );
    let status = migrate::status(&mut client, MIGRATIONS).await.unwrap();
    assert!(status.last().unwrap().to_string().contains("UNKNOWN"));
}

#[tokio::test]
async fn two_runners_at_once_apply_each_migration_once() {
    let db = fresh_database().await;
    let mut a = connect(&db).await;
    let mut b = connect(&db).await;
    // Bounded: a lock that is never released must fail the test, not hang it.
    let (ra, rb) = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        tokio::join!(
            migrate::up(&mut a, MIGRATIONS),
            migrate::up(&mut b, MIGRATIONS)
        )
    })
    .await
    .expect("the second runner gets the lock once the first is done");
    let total = ra.unwrap().len() + rb.unwrap().len();
    assert_eq!(total, MIGRATIONS.len());
    let rows: i64 = a
        .query_one("SELECT count(*) FROM schema_migrations", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, i64::try_from(MIGRATIONS.len()).unwrap());
}

#[tokio::test]
async fn the_migrate_command_reports_what_it_did() {
    let db = fresh_database().await;
    let url = crate::lifecycle::database_url(&db);
    let env = [("DATABASE_URL", url.as_str()), ("LOG_LEVEL", "warn")];
    let run = |action: &'static str| async move {
        let output = command(&["migrate", action], &env).output().await.unwrap();
        assert!(output.status.success(), "{action}: {output:?}");
        String::from_utf8(output.stdout).unwrap()
    };
    let name = format!("{}_{}", MIGRATIONS[0].version, MIGRATIONS[0].name);
    assert!(run("status").await.contains("pending"));
    assert!(run("up").await.contains(&format!("applied {name}")));
    assert!(run("up").await.contains("nothing to apply"));
    assert!(run("status").await.contains("applied 20"));
    assert!(run("down").await.contains(&format!(
            "reverted {}",
            MIGRATIONS
                .last()
                .map(|m| format!("{}_{}", m.version, m.name))
                .unwrap()
        )));
    let bad = command(&["migrate", "sideways"], &env)
        .output()
        .await
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}
