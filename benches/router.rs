//! Route lookup for every route, hits and misses.
//!
//! `cargo bench --bench router`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use http::Method;

mod common;

const CASES: &[(&str, Method, &str)] = &[
    ("healthz", Method::GET, "/healthz"),
    ("readyz", Method::GET, "/readyz"),
    ("openapi", Method::GET, "/api/v1/openapi.json"),
    ("users_list", Method::GET, "/api/v1/users"),
    ("users_create", Method::POST, "/api/v1/users"),
    (
        "user_get",
        Method::GET,
        "/api/v1/users/019ad3c4-1f5e-7c3a-9b1e-4c2d8f6a0b12",
    ),
    (
        "user_head",
        Method::HEAD,
        "/api/v1/users/019ad3c4-1f5e-7c3a-9b1e-4c2d8f6a0b12",
    ),
    (
        "user_patch",
        Method::PATCH,
        "/api/v1/users/019ad3c4-1f5e-7c3a-9b1e-4c2d8f6a0b12",
    ),
    (
        "user_delete",
        Method::DELETE,
        "/api/v1/users/019ad3c4-1f5e-7c3a-9b1e-4c2d8f6a0b12",
    ),
    ("miss_unknown_path", Method::GET, "/api/v2/users"),
    ("miss_trailing_slash", Method::GET, "/api/v1/users/"),
    ("miss_method_405", Method::PUT, "/api/v1/users"),
];

fn lookup(c: &mut Criterion) {
    let state = common::offline_state();
    let router = backend::router::Router::new(backend::app::routes(&state));
    let mut group = c.benchmark_group("router");
    for (name, method, path) in CASES {
        group.bench_function(*name, |b| {
            b.iter(|| {
                let found = router.lookup(black_box(method), black_box(path));
                black_box(found.is_ok())
            });
        });
    }
    group.finish();
}

criterion_group!(benches, lookup);
criterion_main!(benches);
