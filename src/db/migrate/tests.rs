//! Unit tests of the runner's pure parts: embedding, checksums, drift and
//! version checks, messages.

use super::*;

#[test]
fn embedded_migrations_are_ordered_and_complete() {
    assert!(!MIGRATIONS.is_empty());
    assert!(MIGRATIONS.windows(2).all(|w| w[0].version < w[1].version));
    let first = MIGRATIONS[0];
    assert_eq!(first.name, "create_users");
    assert!(first.up.contains("CREATE TABLE users"));
    assert!(first.down.contains("DROP TABLE users"));
    assert_eq!(first.checksum().len(), 64);
}

fn recorded(version: i64, checksum: &str) -> Recorded {
    Recorded {
        version,
        name: "x".into(),
        checksum: checksum.into(),
        applied_at: Timestamp::from_unix_micros(0),
    }
}

#[test]
fn verify_detects_drift_and_unknown_versions() {
    let m = MIGRATIONS[0];
    assert!(verify(&[recorded(m.version, &m.checksum())], MIGRATIONS).is_ok());
    assert!(matches!(
        verify(&[recorded(m.version, "changed")], MIGRATIONS),
        Err(MigrateError::Drift { .. })
    ));
    assert!(matches!(
        verify(&[recorded(99_991_231_000_000, "x")], MIGRATIONS),
        Err(MigrateError::UnknownVersion {
            version: 99_991_231_000_000,
            ..
        })
    ));
    assert!(verify(&[], MIGRATIONS).is_ok());
}

const ONE: Migration = Migration {
    version: 20_260_101_000_000,
    name: "one",
    up: "CREATE TABLE one ()",
    down: "DROP TABLE one",
};
const TWO: Migration = Migration {
    version: 20_260_102_000_000,
    name: "two",
    up: "CREATE TABLE two ()",
    down: "DROP TABLE two",
};

#[test]
fn checksums_cover_the_up_and_the_down_sql() {
    // printf 'CREATE TABLE one ()\0DROP TABLE one' | sha256sum
    assert_eq!(
        ONE.checksum(),
        "38270f72932f219bf38d318941149d22846f6faa86ec380a2773e57c73ccaf6c"
    );
    // printf 'CREATE TABLE one ()' | sha256sum
    assert_eq!(
        ONE.legacy_checksum(),
        "76e852aa2c0d3e8ab391d64e77a455fbb5a93569534a1dbab343d47f42b1ef3a"
    );
    assert_ne!(ONE.checksum(), TWO.checksum());
    let down_changed = Migration {
        down: "something else",
        ..ONE
    };
    assert_ne!(down_changed.checksum(), ONE.checksum(), "`down` counts");
    assert_eq!(down_changed.legacy_checksum(), ONE.legacy_checksum());
    // The NUL between the parts: moving text across it changes the sum.
    let moved = Migration {
        up: "CREATE TABLE one ()DROP TABLE one",
        down: "",
        ..ONE
    };
    assert_ne!(moved.checksum(), ONE.checksum());
}

#[test]
fn verify_accepts_a_legacy_checksum_and_nothing_else_old() {
    assert!(verify(&[recorded(ONE.version, &ONE.legacy_checksum())], &[ONE]).is_ok());
    let down_changed = Migration {
        down: "DROP TABLE one CASCADE",
        ..ONE
    };
    // Recorded with the old down SQL: the current file's down differs.
    assert!(matches!(
        verify(&[recorded(ONE.version, &ONE.checksum())], &[down_changed]),
        Err(MigrateError::Drift { version, .. }) if version == ONE.version
    ));
    // TWO's legacy checksum is not ONE's.
    assert!(matches!(
        verify(&[recorded(ONE.version, &TWO.legacy_checksum())], &[ONE]),
        Err(MigrateError::Drift { .. })
    ));
}

#[test]
fn verify_checks_every_recorded_migration_against_its_own_file() {
    let both = [ONE, TWO];
    let good = [
        recorded(ONE.version, &ONE.checksum()),
        recorded(TWO.version, &TWO.checksum()),
    ];
    assert!(verify(&good, &both).is_ok());
    assert!(verify(&good[..1], &both).is_ok(), "pending ones are fine");
    // TWO recorded with ONE's checksum: drift, even though the checksum
    // is one this binary knows.
    let swapped = [
        recorded(ONE.version, &ONE.checksum()),
        recorded(TWO.version, &ONE.checksum()),
    ];
    assert!(matches!(
        verify(&swapped, &both),
        Err(MigrateError::Drift { version, .. }) if version == TWO.version
    ));
    assert!(matches!(
        verify(&good, &[ONE]),
        Err(MigrateError::UnknownVersion { version, .. }) if version == TWO.version
    ));
}

#[test]
fn errors_say_what_to_do_and_whether_to_retry() {
    let drift = MigrateError::Drift {
        version: 20_260_101_000_000,
        name: "one".into(),
    };
    assert_eq!(
        drift.to_string(),
        "migration 20260101000000_one was changed after it was applied (checksum mismatch); \
         restore its file and add a new migration instead"
    );
    let unknown = MigrateError::UnknownVersion {
        version: 20_991_231_000_000,
        name: "future".into(),
    };
    assert_eq!(
        unknown.to_string(),
        "the database has migration 20991231000000_future, which this binary does not know; \
         it was migrated by a newer version"
    );
    assert_eq!(
        MigrateError::ConnectTimeout.to_string(),
        "could not connect to the database in time"
    );
    assert!(MigrateError::ConnectTimeout.is_unreachable());
    assert!(!drift.is_unreachable());
    assert!(!unknown.is_unreachable());
    for error in [&drift, &unknown, &MigrateError::ConnectTimeout] {
        assert!(std::error::Error::source(error).is_none());
    }
}

#[test]
fn status_lines_name_the_state() {
    let at = Timestamp::from_unix_micros(1_795_949_599_123_456);
    let line = |applied_at, known, drifted| {
        Status {
            version: 20_260_101_000_000,
            name: "one".into(),
            applied_at,
            known,
            drifted,
        }
        .to_string()
    };
    let name = format!("{:<32}", "one");
    assert_eq!(
        line(Some(at), true, false),
        format!("20260101000000 {name} applied 2026-11-29T10:53:19.123456Z")
    );
    assert_eq!(
        line(None, true, false),
        format!("20260101000000 {name} pending")
    );
    assert_eq!(
        line(Some(at), true, true),
        format!("20260101000000 {name} DRIFTED (file changed after it was applied)")
    );
    assert_eq!(
        line(Some(at), false, false),
        format!("20260101000000 {name} UNKNOWN (applied by a newer binary)")
    );
}
