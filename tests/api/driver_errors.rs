//! How real driver and pool errors map to problems: the one place
//! (`From<tokio_postgres::Error> for AppError`) that decides 409, 504, 503 or
//! 500, exercised with errors from a real PostgreSQL rather than mocks.

use std::time::Duration;

use backend::error::AppError;

use crate::common::fresh_database;

async fn connect(db: &tokio_postgres::Config) -> tokio_postgres::Client {
    let (client, connection) = db.connect(backend::db::tls::connector()).await.unwrap();
    tokio::spawn(connection);
    client
}

/// The status, detail and logged cause of the error `sql` raises.
async fn classify(client: &tokio_postgres::Client, sql: &str) -> (u16, String, Option<String>) {
    let error = AppError::from(client.batch_execute(sql).await.unwrap_err());
    (
        error.status().as_u16(),
        error.detail().into_owned(),
        error.source_chain(),
    )
}

#[tokio::test]
async fn server_errors_map_to_the_status_they_mean() {
    let db = fresh_database().await;
    let client = connect(&db).await;
    client
        .batch_execute("CREATE TABLE t (k text UNIQUE); INSERT INTO t VALUES ('a')")
        .await
        .unwrap();

    let (status, detail, cause) = classify(&client, "INSERT INTO t VALUES ('a')").await;
    assert_eq!(status, 409);
    assert_eq!(detail, "the value of a unique field is already taken");
    assert_eq!(cause, None, "a 4xx logs no cause");

    let (status, detail, _) =
        classify(&client, "SET statement_timeout = 50; SELECT pg_sleep(5)").await;
    assert_eq!(
        (status, detail.as_str()),
        (504, "the request took too long and was abandoned")
    );
    client
        .batch_execute("RESET statement_timeout")
        .await
        .unwrap();

    let (status, detail, cause) = classify(&client, "SELECT * FROM missing").await;
    assert_eq!(status, 503, "migrations not applied yet: may pass");
    assert_eq!(detail, "the database schema is not ready; retry shortly");
    assert!(cause.unwrap().contains("missing"));

    let (status, detail, cause) = classify(&client, "SELECT 1 / 0").await;
    assert_eq!(status, 500, "any other server error is ours");
    assert_eq!(detail, "an internal error occurred");
    assert!(cause.unwrap().contains("division by zero"));

    let (status, _, _) = classify(&client, "SELECT pg_terminate_backend(pg_backend_pid())").await;
    assert_eq!(status, 503, "an administrator's shutdown may pass");
}

#[tokio::test]
async fn client_side_errors_are_500s_and_lost_connections_503s() {
    let db = fresh_database().await;
    let client = connect(&db).await;

    // Not a server error, not a connection problem: a bug of ours.
    let error = client
        .query_one("SELECT 1 WHERE false", &[])
        .await
        .unwrap_err();
    let error = AppError::from(error);
    assert_eq!(error.status(), 500);
    assert!(error.source_chain().is_some());

    // The connection killed from another session: the next use of this one
    // fails, and that is a 503 whether the driver saw the server's FATAL
    // message or only the closed socket.
    let pid: i32 = client
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    let admin = connect(&db).await;
    // With a timeout, pg_terminate_backend returns once the session is gone
    // (PostgreSQL 14+): no sleep standing in for it.
    let gone: bool = admin
        .query_one("SELECT pg_terminate_backend($1, 5000)", &[&pid])
        .await
        .unwrap()
        .get(0);
    assert!(gone, "the session ended within 5 s");
    let error = AppError::from(client.batch_execute("SELECT 1").await.unwrap_err());
    assert_eq!(error.status(), 503);
    assert_eq!(error.detail(), "the database is unavailable; retry shortly");
    let error = AppError::from(client.batch_execute("SELECT 1").await.unwrap_err());
    assert_eq!(error.status(), 503, "and so is every use after it");
}

#[tokio::test]
async fn a_server_that_cannot_be_reached_is_a_503() {
    // A port nobody listens on, held for the whole test: the connect fails
    // with an I/O error.
    let reserved = crate::common::ports::ClosedPort::new();
    let port = reserved.port();
    let mut config = tokio_postgres::Config::new();
    config
        .host("127.0.0.1")
        .port(port)
        .user("nobody")
        .connect_timeout(Duration::from_secs(2));
    let Err(error) = config.connect(tokio_postgres::NoTls).await else {
        panic!("connected to a closed port");
    };
    let error = AppError::from(error);
    assert_eq!(error.status(), 503);
    assert_eq!(error.detail(), "the database is unavailable; retry shortly");

    // Through the pool, the same failure is a pool error wrapping it.
    let settings =
        backend::config::Settings::for_database(backend::config::DatabaseUrl::from_config(config));
    let pool = backend::db::build_pool(&settings).unwrap();
    let error = AppError::from(pool.get().await.unwrap_err());
    assert_eq!(error.status(), 503);
    assert_eq!(error.detail(), "the database is unavailable; retry shortly");
}

#[tokio::test]
async fn a_pool_aimed_at_a_missing_database_is_a_500_not_a_retry() {
    // A wrong DATABASE_URL will not pass by itself: no "retry shortly".
    let mut config = fresh_database().await;
    config.dbname("no_such_database");
    let settings =
        backend::config::Settings::for_database(backend::config::DatabaseUrl::from_config(config));
    let pool = backend::db::build_pool(&settings).unwrap();
    let error = AppError::from(pool.get().await.unwrap_err());
    assert_eq!(error.status(), 500);
    assert!(error.source_chain().unwrap().contains("no_such_database"));
}
