//! One request through the complete production layer stack, in-process (no
//! socket), against the same request through a bare `service_fn`: the
//! difference is what the layers cost per request. Logging is the production
//! configuration — JSON at INFO through the non-blocking writer — into a sink.
//!
//! `cargo bench --bench stack`

use std::convert::Infallible;
use std::hint::black_box;

use backend::config::LogFormat;
use backend::error::AppError;
use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http::StatusCode;
use http_body_util::Full;
use tower::{ServiceExt, service_fn};

mod common;

const CASES: &[(&str, &str)] = &[
    ("healthz", "/healthz"),
    ("not_found_404", "/nowhere"),
    ("invalid_id_422", "/api/v1/users/not-a-uuid"),
];

fn stack(c: &mut Criterion) {
    let _log = backend::telemetry::init_with_writer(LogFormat::Json, "info", std::io::sink());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let state = common::offline_state();
    let app = backend::app::app::<Full<Bytes>>(&state, backend::app::routes(&state));
    let bare = service_fn(|_req: http::Request<Full<Bytes>>| async {
        let response =
            backend::http::response::json(StatusCode::OK, &serde_json::json!({"status": "ok"}))
                .unwrap_or_else(AppError::into_response);
        Ok::<_, Infallible>(response)
    });

    let mut group = c.benchmark_group("stack");
    for (name, path) in CASES {
        group.bench_function(format!("full/{name}"), |b| {
            b.to_async(&runtime).iter(|| {
                let app = app.clone();
                async move { black_box(app.oneshot(common::get(path)).await.unwrap().status()) }
            });
        });
        group.bench_function(format!("bare/{name}"), |b| {
            b.to_async(&runtime).iter(|| async move {
                black_box(bare.oneshot(common::get(path)).await.unwrap().status())
            });
        });
    }
    group.finish();
}

criterion_group!(benches, stack);
criterion_main!(benches);
