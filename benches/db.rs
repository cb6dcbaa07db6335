//! Database round trips: the repository's get-by-id, list page, insert and
//! update, and the same GET through the whole app in-process.
//!
//! Needs PostgreSQL: `make bench` provides one; with `cargo bench` alone set
//! TEST_DATABASE_URL (an admin URL; a fresh database is created). Without
//! one, the bench says so and is skipped.
//!
//! `make bench` or `TEST_DATABASE_URL=... cargo bench --bench db`

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

use backend::users::model::{Email, FullName, NewUser, UserPatch};
use backend::users::repository;
use criterion::{Criterion, criterion_group, criterion_main};
use tower::ServiceExt;

mod common;

fn db(c: &mut Criterion) {
    let Some((runtime, state)) = common::database_state("db") else {
        return;
    };
    runtime.block_on(async {
        let db = state.pool.db().await.unwrap();
        for i in 0..1000 {
            let new = NewUser {
                email: Email::parse(&format!("seed{i}@example.com")).unwrap(),
                full_name: None,
                is_active: true,
            };
            repository::insert(&db, uuid::Uuid::now_v7(), &new)
                .await
                .unwrap();
        }
    });
    let (id, path) = runtime.block_on(async {
        let db = state.pool.db().await.unwrap();
        let first = repository::page(&db, uuid::Uuid::nil(), None, 1)
            .await
            .unwrap();
        let id = first[0].id;
        (id, format!("/api/v1/users/{id}"))
    });
    let app = backend::app::app::<http_body_util::Full<bytes::Bytes>>(
        &state,
        backend::app::routes(&state),
    );
    let counter = AtomicU64::new(0);
    let name = FullName::parse("Bench Mark").unwrap();

    let mut group = c.benchmark_group("db");
    group.bench_function("repository_get", |b| {
        b.to_async(&runtime).iter(|| async {
            let db = state.pool.db().await.unwrap();
            black_box(repository::find(&db, id).await.unwrap())
        });
    });
    group.bench_function("repository_list_page_20", |b| {
        b.to_async(&runtime).iter(|| async {
            let db = state.pool.db().await.unwrap();
            black_box(
                repository::page(&db, uuid::Uuid::nil(), None, 21)
                    .await
                    .unwrap(),
            )
        });
    });
    group.bench_function("repository_insert", |b| {
        b.to_async(&runtime).iter(|| async {
            let n = counter.fetch_add(1, Ordering::Relaxed);
            let new = NewUser {
                email: Email::parse(&format!("bench{n}@example.com")).unwrap(),
                full_name: None,
                is_active: true,
            };
            let db = state.pool.db().await.unwrap();
            black_box(
                repository::insert(&db, uuid::Uuid::now_v7(), &new)
                    .await
                    .unwrap(),
            )
        });
    });
    group.bench_function("repository_update", |b| {
        b.to_async(&runtime).iter(|| async {
            let db = state.pool.db().await.unwrap();
            let rename = UserPatch {
                full_name: Some(name.clone()),
                ..UserPatch::default()
            };
            black_box(repository::update(&db, id, &rename).await.unwrap())
        });
    });
    group.bench_function("app_get_user", |b| {
        b.to_async(&runtime).iter(|| {
            let app = app.clone();
            let request = common::get(&path);
            async move { black_box(app.oneshot(request).await.unwrap().status()) }
        });
    });
    group.finish();
}

criterion_group!(benches, db);
criterion_main!(benches);
