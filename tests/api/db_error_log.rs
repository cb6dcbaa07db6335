//! What a server error's log line may say: real PostgreSQL errors run
//! through the classifier give their SQLSTATE, table, column and
//! constraint, never the DETAIL that quotes the row.

use backend::error::AppError;

use crate::common::{connect, fresh_database};

#[tokio::test]
async fn logged_driver_errors_name_the_constraint_never_the_row() {
    let client = connect(&fresh_database().await).await;
    client
        .batch_execute(
            "CREATE TABLE accounts (
                 email text NOT NULL CONSTRAINT accounts_email_unique UNIQUE
                     CONSTRAINT accounts_email_not_blocked CHECK (email <> 'ada@example.com'),
                 note  text NOT NULL
             )",
        )
        .await
        .unwrap();

    // A check violation: DETAIL is "Failing row contains (ada@example.com, …)".
    let error = client
        .execute(
            "INSERT INTO accounts (email, note) VALUES ('ada@example.com', 'secret note')",
            &[],
        )
        .await
        .unwrap_err();
    let detail = error.as_db_error().and_then(|db| db.detail()).unwrap();
    assert!(detail.contains("ada@example.com"), "the premise: {detail}");
    let logged = AppError::from(error);
    assert_eq!(logged.status(), 500);
    let line = logged.source_chain().unwrap();
    for expected in [
        "SQLSTATE 23514",
        "table=accounts",
        "constraint=accounts_email_not_blocked",
    ] {
        assert!(line.contains(expected), "{expected} missing: {line}");
    }
    for secret in ["ada@example.com", "secret note", "Failing row"] {
        assert!(!line.contains(secret), "{secret} leaked: {line}");
    }
    assert!(
        !format!("{logged:?}").contains("ada@example.com"),
        "Debug leaks the row"
    );

    // A not-null violation names the column.
    let error = client
        .execute(
            "INSERT INTO accounts (email) VALUES ('grace@example.com')",
            &[],
        )
        .await
        .unwrap_err();
    let line = AppError::from(error).source_chain().unwrap();
    assert!(
        line.contains("SQLSTATE 23502") && line.contains("column=note"),
        "{line}"
    );
    assert!(!line.contains("grace@example.com"), "{line}");

    // A unique violation is the client's 409 and logs nothing.
    client
        .execute(
            "INSERT INTO accounts VALUES ('grace@example.com', 'x')",
            &[],
        )
        .await
        .unwrap();
    let error = client
        .execute(
            "INSERT INTO accounts VALUES ('grace@example.com', 'y')",
            &[],
        )
        .await
        .unwrap_err();
    let conflict = AppError::from(error);
    assert_eq!(conflict.status(), 409);
    assert!(conflict.source_chain().is_none());
    assert!(!format!("{conflict:?}").contains("grace@example.com"));
}
