//! Waiting for the app's requests to be held on a row lock: the signal that
//! a request has reached the database, for tests that then stop, kill or
//! shut down something under it.

use std::time::{Duration, Instant};

/// How many of the app's sessions on this database wait on a lock. Asked
/// outside any transaction: inside one, pg_stat_activity is a snapshot
/// taken at its first use and never changes.
pub async fn lock_waiters(client: &tokio_postgres::Client) -> i64 {
    client
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'backend' \
             AND datname = current_database() AND wait_event_type = 'Lock'",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

/// Waits (bounded) until `n` of the app's sessions on `db` wait on a lock.
pub async fn wait_for_lock_waiters(db: &tokio_postgres::Config, n: i64) {
    let client = super::connect(db).await;
    wait_until_lock_waiters(&client, n).await;
}

/// [`wait_for_lock_waiters`] on a connection made beforehand, for a test
/// whose window is too short to connect in (a password check under load
/// can take longer than a statement timeout).
pub async fn wait_until_lock_waiters(client: &tokio_postgres::Client, n: i64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let waiting = lock_waiters(client).await;
        if waiting >= n {
            return;
        }
        assert!(Instant::now() < deadline, "{waiting} of {n} requests held");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
