//! JSON on the request path: encoding a page of 100 users, and parsing plus
//! validating create and patch bodies.
//!
//! `cargo bench --bench json`

use std::hint::black_box;

use backend::http::body::parse_object;
use backend::http::cursor::Page;
use backend::timestamp::Timestamp;
use backend::users::model::User;
use backend::users::model::{NewUser, UserPatch};
use criterion::{Criterion, criterion_group, criterion_main};

fn page_of_100() -> Page<User> {
    let items = (0..100)
        .map(|i| User {
            id: uuid::Uuid::now_v7(),
            email: format!("user{i}@example.com"),
            full_name: (i % 2 == 0).then(|| format!("User Number {i}")),
            is_active: i % 3 != 0,
            created_at: Timestamp::now(),
            updated_at: Timestamp::now(),
        })
        .collect();
    Page::new(items, Some(uuid::Uuid::now_v7()))
}

fn json(c: &mut Criterion) {
    let mut group = c.benchmark_group("json");
    let page = page_of_100();
    group.bench_function("encode_page_100", |b| {
        b.iter(|| black_box(serde_json::to_vec(black_box(&page)).unwrap()));
    });
    let create = br#"{"email": "  Ada.Lovelace@Example.com ", "full_name": "Ada Lovelace", "is_active": true}"#;
    group.bench_function("parse_validate_create", |b| {
        b.iter(|| black_box(NewUser::parse(parse_object(black_box(create)).unwrap()).unwrap()));
    });
    let patch = br#"{"full_name": null, "is_active": false}"#;
    group.bench_function("parse_validate_patch", |b| {
        b.iter(|| black_box(UserPatch::parse(parse_object(black_box(patch)).unwrap()).unwrap()));
    });
    group.finish();
}

criterion_group!(benches, json);
criterion_main!(benches);
