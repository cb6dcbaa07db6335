//! The floor: the least a server can do to answer the load test's three
//! requests — `GET /api/v1/users/{id}`, the first page of `GET /api/v1/users`
//! and `POST /api/v1/users` — with the same SQL and the same JSON (the same
//! types), on hyper and a deadpool of tokio-postgres connections, and nothing
//! else: no layers, no logging, no request ids, no validation beyond what
//! the types need.
//!
//! The two reads go through the repository. The create does the backend's
//! database work by hand on the connection: the user INSERT (the
//! repository's) and the transactional outbox's INSERT (`src/webhooks/
//! outbox.rs`, with the same `user.created` body) in one transaction,
//! pipelined as the backend pipelines them — `BEGIN` with the user INSERT,
//! the outbox INSERT with `COMMIT` — which is two round trips, the fewest
//! these statements allow (the event's body needs the inserted row).
//!
//! Every performance figure of the real server is stated as a ratio to this,
//! measured in the same run (see `make loadtest`).
//!
//! `DATABASE_URL=... PORT=8001 cargo run --release --example floor`

use std::convert::Infallible;
use std::str::FromStr;

use backend::http::cursor::Page;
use backend::timestamp::Timestamp;
use backend::users::model::{Email, FullName, NewUser, User};
use backend::users::repository;
use bytes::Bytes;
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio_postgres::types::{ToSql, Type};

/// The same allocator as the `backend` binary, so ratios compare the stacks.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The repository's user INSERT (`src/users/repository.rs`), word for word.
const INSERT_USER: &str = "INSERT INTO users (id, email, email_key, full_name, is_active) \
    VALUES ($1, $2, $3, $4, $5) RETURNING id, email, full_name, is_active, created_at, updated_at";

/// The outbox's INSERT (`src/webhooks/outbox.rs`), word for word: a
/// delivery job per active subscription to `$1`, and `pg_notify` when any.
const INSERT_DELIVERIES: &str = "WITH subscribers AS (\
        SELECT uuid_v7() AS id, w.id AS webhook_id FROM webhooks w \
        WHERE w.is_active AND $1 = ANY (w.events)), \
     queued AS (\
        INSERT INTO jobs (id, kind) SELECT id, $4 FROM subscribers) \
     INSERT INTO webhook_deliveries (id, webhook_id, event_type, body, request_id, traceparent) \
     SELECT id, webhook_id, $1, $2, $3, $5 FROM subscribers \
     RETURNING pg_notify('backend_jobs', '')";

#[derive(Deserialize)]
struct CreateBody {
    email: String,
    full_name: Option<String>,
    is_active: Option<bool>,
}

/// A webhook event's body, as the outbox stores it.
#[derive(Serialize)]
struct Event<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    timestamp: Timestamp,
    data: &'a User,
}

/// A connection with a transaction open on it. Dropped open (the request
/// was cancelled between `BEGIN` and `COMMIT`), it leaves the pool and
/// closes, and the server rolls the transaction back.
struct Open(Option<Object>);

impl Open {
    fn client(&self) -> &Object {
        self.0.as_ref().expect("taken only by close")
    }

    /// The transaction is over: the connection goes back to the pool.
    fn close(mut self) {
        self.0.take();
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        if let Some(object) = self.0.take() {
            drop(Object::take(object));
        }
    }
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

fn parse(body: &[u8]) -> Option<NewUser> {
    let body = serde_json::from_slice::<CreateBody>(body).ok()?;
    Some(NewUser {
        email: Email::parse(&body.email).ok()?,
        full_name: FullName::parse(body.full_name.as_deref().unwrap_or("")).ok()?,
        is_active: body.is_active.unwrap_or(true),
    })
}

async fn insert_user(client: &Object, new: &NewUser) -> Result<User, tokio_postgres::Error> {
    let types = [Type::UUID, Type::TEXT, Type::TEXT, Type::TEXT, Type::BOOL];
    let statement = client.prepare_typed_cached(INSERT_USER, &types).await?;
    let row = client
        .query_one(
            &statement,
            &[
                &uuid::Uuid::now_v7(),
                &new.email.as_str(),
                &new.email.key(),
                &new.full_name.as_ref().map(FullName::as_str),
                &new.is_active,
            ],
        )
        .await?;
    Ok(User {
        id: row.try_get(0)?,
        email: row.try_get(1)?,
        full_name: row.try_get(2)?,
        is_active: row.try_get(3)?,
        created_at: row.try_get(4)?,
        updated_at: row.try_get(5)?,
    })
}

/// Creates the user and its `user.created` deliveries in one transaction,
/// in two round trips: `BEGIN` + user INSERT, then outbox INSERT + `COMMIT`.
/// Each pair is polled together, the first of each sent first, as
/// tokio-postgres pipelines concurrent requests on one connection.
async fn create(connection: Object, new: NewUser) -> Response<Full<Bytes>> {
    let tx = Open(Some(connection));
    let client = tx.client();
    let (begun, inserted) = tokio::join!(client.batch_execute("BEGIN"), insert_user(client, &new));
    let user = match (begun, inserted) {
        (Ok(()), Ok(user)) => user,
        (Ok(()), Err(_)) => {
            if client.batch_execute("ROLLBACK").await.is_ok() {
                tx.close();
            }
            return reply(StatusCode::CONFLICT, Vec::new());
        }
        (Err(_), _) => return reply(StatusCode::INTERNAL_SERVER_ERROR, Vec::new()),
    };
    let event = serde_json::to_string(&Event {
        kind: "user.created",
        timestamp: user.updated_at,
        data: &user,
    })
    .unwrap();
    let (request_id, traceparent) = (None::<&str>, None::<&str>);
    let params: [(&(dyn ToSql + Sync), Type); 5] = [
        (&"user.created", Type::TEXT),
        (&event, Type::TEXT),
        (&request_id, Type::TEXT),
        (&"webhook.delivery", Type::TEXT),
        (&traceparent, Type::TEXT),
    ];
    let (published, committed) = tokio::join!(
        client.query_typed(INSERT_DELIVERIES, &params),
        client.batch_execute("COMMIT")
    );
    // A failed outbox INSERT aborts the transaction, and the COMMIT then
    // rolls it back: the session is clean whenever the COMMIT got an answer.
    if committed.is_ok() {
        tx.close();
    }
    match (published, committed) {
        (Ok(_), Ok(())) => reply(StatusCode::CREATED, serde_json::to_vec(&user).unwrap()),
        _ => reply(StatusCode::INTERNAL_SERVER_ERROR, Vec::new()),
    }
}

async fn handle(pool: Pool, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    if req.method() == Method::POST && path == "/api/v1/users" {
        let body = req
            .into_body()
            .collect()
            .await
            .map(http_body_util::Collected::to_bytes)
            .unwrap_or_default();
        let Some(new) = parse(&body) else {
            return Ok(reply(StatusCode::UNPROCESSABLE_ENTITY, Vec::new()));
        };
        return Ok(match pool.get().await {
            Ok(connection) => create(connection, new).await,
            Err(_) => reply(StatusCode::SERVICE_UNAVAILABLE, Vec::new()),
        });
    }
    let Ok(db) = pool.get().await.map(|c| backend::db::Db::new(c, true)) else {
        return Ok(reply(StatusCode::SERVICE_UNAVAILABLE, Vec::new()));
    };
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
