//! The migration runner against a real database: up/down/up round trip,
//! drift and unknown versions refused, two runners at once applying each
//! migration once, and the `backend migrate` command.

use backend::db::migrate::{self, MIGRATIONS, MigrateError};

use crate::common::binary::command;
use crate::common::pg::PrivateServer;
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

#[tokio::test]
async fn a_legacy_up_only_checksum_is_accepted_and_upgraded_under_the_lock() {
    let db = fresh_database().await;
    let mut client = connect(&db).await;
    migrate::up(&mut client, MIGRATIONS).await.unwrap();
    // As a database migrated before the checksum covered down.sql has it.
    for m in MIGRATIONS {
        client
            .execute(
                "UPDATE schema_migrations SET checksum = $1 WHERE version = $2",
                &[&m.legacy_checksum(), &m.version],
            )
            .await
            .unwrap();
    }
    let checksums = async |client: &tokio_postgres::Client| -> Vec<String> {
        client
            .query(
                "SELECT checksum FROM schema_migrations ORDER BY version",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    let status = migrate::status(&mut client, MIGRATIONS).await.unwrap();
    assert!(status.iter().all(|s| !s.drifted), "legacy is not drift");
    let legacy: Vec<String> = MIGRATIONS
        .iter()
        .map(migrate::Migration::legacy_checksum)
        .collect();
    assert_eq!(checksums(&client).await, legacy, "status writes nothing");

    assert!(
        migrate::up(&mut client, MIGRATIONS)
            .await
            .unwrap()
            .is_empty()
    );
    let current: Vec<String> = MIGRATIONS
        .iter()
        .map(migrate::Migration::checksum)
        .collect();
    assert_eq!(checksums(&client).await, current, "upgraded by `up`");
    assert_ne!(current, legacy);
}

#[tokio::test]
async fn a_down_sql_changed_after_apply_is_drift() {
    let db = fresh_database().await;
    let mut client = connect(&db).await;
    migrate::up(&mut client, MIGRATIONS).await.unwrap();
    let mut edited = MIGRATIONS.to_vec();
    let last = edited.last_mut().unwrap();
    last.down = "-- edited after it was applied\nDROP TABLE users";
    let last = *last;
    let error = migrate::up(&mut client, &edited).await.unwrap_err();
    assert!(
        matches!(error, MigrateError::Drift { version, .. } if version == last.version),
        "{error}"
    );
    assert!(matches!(
        migrate::down(&mut client, &edited).await,
        Err(MigrateError::Drift { .. })
    ));
    let status = migrate::status(&mut client, &edited).await.unwrap();
    assert!(status.last().unwrap().drifted);
}

/// `pg_dump --schema-only` of `db`, by the private server's own pg_dump
/// (the same version as the server), without comments and the per-dump
/// random `\restrict` keys.
fn schema_of(server: &PrivateServer, db: &str) -> String {
    let output = std::process::Command::new(server.bin("pg_dump"))
        .args(["--schema-only", "--no-owner", "--no-privileges", "-d"])
        .arg(crate::common::url_of(&server.database(db)))
        .output()
        .expect("run pg_dump");
    assert!(
        output.status.success(),
        "pg_dump: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter(|l| {
            !l.starts_with("--") && !l.starts_with("\\restrict") && !l.starts_with("\\unrestrict")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn down_then_up_of_every_migration_leaves_the_schema_of_a_fresh_up() {
    let Some(server) = PrivateServer::start_or_skip("down_then_up_of_every_migration").await else {
        return;
    };
    let admin = server.client().await;
    for name in ["fresh", "cycled"] {
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
    }
    let mut fresh = connect_plain(&server.database("fresh")).await;
    migrate::up(&mut fresh, MIGRATIONS).await.unwrap();
    let mut cycled = connect_plain(&server.database("cycled")).await;
    migrate::up(&mut cycled, MIGRATIONS).await.unwrap();
    // Every migration reverted, newest first, then every one applied again;
    // then the newest down and up once more, from a schema that has it.
    for _ in MIGRATIONS {
        assert!(
            migrate::down(&mut cycled, MIGRATIONS)
                .await
                .unwrap()
                .is_some()
        );
    }
    assert_eq!(
        migrate::up(&mut cycled, MIGRATIONS).await.unwrap().len(),
        MIGRATIONS.len()
    );
    migrate::down(&mut cycled, MIGRATIONS).await.unwrap();
    migrate::up(&mut cycled, MIGRATIONS).await.unwrap();

    let (expected, got) = tokio::task::spawn_blocking(move || {
        (schema_of(&server, "fresh"), schema_of(&server, "cycled"))
    })
    .await
    .unwrap();
    assert!(expected.contains("CREATE TABLE"), "{expected}");
    assert_eq!(got, expected, "down then up differs from a fresh up");
}

async fn connect_plain(db: &tokio_postgres::Config) -> tokio_postgres::Client {
    let (client, connection) = db.connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}
