//! `backend seed N`: demo users through the real binary, with every rule.

use std::time::Duration;

use crate::common::binary::{command, output_within};
use crate::common::{connect, fresh_database, url_of};

#[tokio::test]
async fn seed_creates_the_users_asked_for_and_again_on_a_second_run() {
    let db = fresh_database().await;
    let url = url_of(&db);
    let env = [("DATABASE_URL", url.as_str()), ("LOG_LEVEL", "warn")];
    let migrated = output_within(
        &mut command(&["migrate", "up"], &env),
        Duration::from_secs(60),
    )
    .await;
    assert!(migrated.status.success(), "{migrated:?}");
    for _ in 0..2 {
        let output =
            output_within(&mut command(&["seed", "25"], &env), Duration::from_secs(60)).await;
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{output:?}");
        assert!(stdout.contains("created 25 users (0 skipped"), "{stdout}");
    }
    let client = connect(&db).await;
    let row = client
        .query_one(
            "SELECT count(*), count(*) FILTER (WHERE NOT is_active), count(*) FILTER (WHERE full_name IS NULL) FROM users",
            &[],
        )
        .await
        .unwrap();
    let (all, inactive, unnamed): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    assert_eq!(all, 50);
    assert!(inactive > 0 && unnamed > 0);
    let bad = output_within(
        &mut command(&["seed", "many"], &env),
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(bad.status.code(), Some(2));
}
