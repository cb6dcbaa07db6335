//! Leasing jobs by id, as the Redis mode does for the entries it reads:
//! on a real database, with two workers' brokers, a lease names which of
//! the other jobs another worker holds (their entries must stay pending)
//! apart from the ones that are done.

use std::time::Duration;

use backend::jobs::postgres::PgBroker;
use uuid::Uuid;

use crate::common::spawn_app;

fn sorted(mut ids: Vec<Uuid>) -> Vec<Uuid> {
    ids.sort_unstable();
    ids
}

#[tokio::test]
async fn a_lease_by_id_names_the_jobs_another_worker_holds() {
    let app = spawn_app().await;
    let db = app.db_client().await;
    let ids = sorted((0..4).map(|_| Uuid::now_v7()).collect());
    for id in &ids {
        db.execute("INSERT INTO jobs (id, kind) VALUES ($1, 'test')", &[id])
            .await
            .unwrap();
    }
    let lease = Duration::from_secs(30);
    let a = PgBroker::new(app.state.pool.clone(), "worker-a".to_owned(), lease);
    let b = PgBroker::new(app.state.pool.clone(), "worker-b".to_owned(), lease);

    let (held, busy) = a.lease(&ids[..2]).await.unwrap();
    assert_eq!(sorted(held.iter().map(|j| j.id).collect()), ids[..2]);
    assert!(busy.is_empty(), "{busy:?}");

    // b asks for all four: it gets the two free ones and is told a holds
    // the other two.
    let (leased, busy) = b.lease(&ids).await.unwrap();
    assert_eq!(sorted(leased.iter().map(|j| j.id).collect()), ids[2..]);
    assert!(leased.iter().all(|j| j.attempt == 1 && j.kind == "test"));
    assert_eq!(sorted(busy), ids[..2]);

    // Once a has recorded its job as done, it is neither leased nor busy:
    // its entry is stale.
    a.succeed(ids[0]).await.unwrap();
    let (leased, busy) = b.lease(&ids[..2]).await.unwrap();
    assert!(leased.is_empty(), "{leased:?}");
    assert_eq!(busy, [ids[1]]);
}
