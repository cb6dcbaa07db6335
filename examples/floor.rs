//! The floor: the least a server can do to answer the load test's three
//! requests — `GET /api/v1/users/{id}`, the first page of `GET /api/v1/users`
//! and `POST /api/v1/users` — with the same SQL (the repository) and the same
//! JSON (the same types), on hyper and a deadpool of tokio-postgres
//! connections, and nothing else: no layers, no logging, no request ids, no
//! validation beyond what the types need.
//!
//! Every performance figure of the real server is stated as a ratio to this,
//! measured in the same run (see `make loadtest`).
//!
//! `DATABASE_URL=... PORT=8001 cargo run --release --example floor`

use std::convert::Infallible;
use std::str::FromStr;

use backend::http::cursor::Page;
use backend::users::model::{Email, FullName, NewUser};
use backend::users::repository;
use bytes::Bytes;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio::net::TcpListener;

/// The same allocator as the `backend` binary, so ratios compare the stacks.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Deserialize)]
struct CreateBody {
    email: String,
    full_name: Option<String>,
    is_active: Option<bool>,
}

fn reply(status: StatusCode, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

async fn handle(pool: Pool, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let Ok(db) = pool.get().await.map(|c| backend::db::Db::new(c, true)) else {
        return Ok(reply(StatusCode::SERVICE_UNAVAILABLE, Vec::new()));
    };
    let path = req.uri().path().to_owned();
    let response = match (req.method().clone(), path.as_str()) {
        (Method::GET, "/api/v1/users") => {
            let mut items = repository::page(&db, uuid::Uuid::nil(), None, 21)
                .await
                .unwrap_or_default();
            let next_after = (items.len() > 20).then(|| {
                items.truncate(20);
                items[19].id
            });
            reply(
                StatusCode::OK,
                serde_json::to_vec(&Page::new(items, next_after)).unwrap(),
            )
        }
        (Method::POST, "/api/v1/users") => {
            let body = req
                .into_body()
                .collect()
                .await
                .map(http_body_util::Collected::to_bytes)
                .unwrap_or_default();
            let parsed = serde_json::from_slice::<CreateBody>(&body)
                .ok()
                .and_then(|b| {
                    let email = Email::parse(&b.email).ok()?;
                    let name = FullName::parse(b.full_name.as_deref().unwrap_or("")).ok()?;
                    Some(NewUser {
                        email,
                        full_name: name,
                        is_active: b.is_active.unwrap_or(true),
                    })
                });
            match parsed {
                Some(new) => match repository::insert(&db, uuid::Uuid::now_v7(), &new).await {
                    Ok(user) => reply(StatusCode::CREATED, serde_json::to_vec(&user).unwrap()),
                    Err(_) => reply(StatusCode::CONFLICT, Vec::new()),
                },
                None => reply(StatusCode::UNPROCESSABLE_ENTITY, Vec::new()),
            }
        }
        (Method::GET, p) => match p
            .strip_prefix("/api/v1/users/")
            .and_then(|id| uuid::Uuid::parse_str(id).ok())
        {
            Some(id) => match repository::find(&db, id).await {
                Ok(Some(user)) => reply(StatusCode::OK, serde_json::to_vec(&user).unwrap()),
                _ => reply(StatusCode::NOT_FOUND, Vec::new()),
            },
            None => reply(StatusCode::NOT_FOUND, Vec::new()),
        },
        _ => reply(StatusCode::NOT_FOUND, Vec::new()),
    };
    Ok(response)
}

#[tokio::main]
async fn main() {
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL is required");
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8001);
    let size: usize = std::env::var("DATABASE_POOL_SIZE")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(16);
    let config = tokio_postgres::Config::from_str(&url).expect("a valid DATABASE_URL");
    let manager = Manager::from_config(
        config,
        backend::db::tls::connector(),
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let pool = Pool::builder(manager)
        .max_size(size)
        .runtime(Runtime::Tokio1)
        .build()
        .unwrap();
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let pool = pool.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| handle(pool.clone(), req));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
