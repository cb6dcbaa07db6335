//! [`Db`]: one request's database connection, and the one place that
//! decides how a statement is sent.
//!
//! With `DATABASE_STATEMENT_CACHE=on` (the default) statements are prepared
//! once per connection under a name and cached: one round trip per query
//! after the first. With `off` each is sent unnamed with its parameter
//! types (`query_typed`: parse, bind and execute in one round trip), so no
//! statement name exists that another client of a transaction-mode pooler
//! could run with its own parameters.
//!
//! A connection whose last statement did not finish (the request was
//! dropped mid-query by its deadline, or the server cancelled the statement,
//! SQLSTATE 57014) is taken out of the pool when the [`Db`] drops, never
//! handed to the next request: its socket may still carry the outstanding
//! query, and the next request would wait behind it.

use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};

use deadpool_postgres::Object;
use futures_util::TryStreamExt;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Error, Row};

use crate::telemetry::otel;

/// A statement parameter with its PostgreSQL type (needed to send it
/// unnamed, and used to prepare it when cached).
pub type Param<'a> = (&'a (dyn ToSql + Sync), Type);

/// A pooled connection for one request's queries; see the module docs.
#[derive(Debug)]
pub struct Db {
    object: Option<Object>,
    statement_cache: bool,
    settled: AtomicBool,
}

impl Db {
    /// Wraps a connection fresh from the pool.
    pub fn new(object: Object, statement_cache: bool) -> Self {
        Self {
            object: Some(object),
            statement_cache,
            settled: AtomicBool::new(true),
        }
    }

    fn client(&self) -> &deadpool_postgres::Client {
        self.object
            .as_ref()
            .unwrap_or_else(|| unreachable!("the object is taken only on drop"))
    }

    /// The rows `sql` returns.
    pub async fn query(&self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, Error> {
        self.settle(sql, async {
            let client = self.client();
            if self.statement_cache {
                let statement = client.prepare_typed_cached(sql, &types(params)).await?;
                client.query(&statement, &values(params)).await
            } else {
                client.query_typed(sql, params).await
            }
        })
        .await
    }

    /// The one row `sql` returns (an error if it returns none or more).
    pub async fn query_one(&self, sql: &str, params: &[Param<'_>]) -> Result<Row, Error> {
        self.settle(sql, async {
            let client = self.client();
            if self.statement_cache {
                let statement = client.prepare_typed_cached(sql, &types(params)).await?;
                client.query_one(&statement, &values(params)).await
            } else {
                client.query_typed_one(sql, params).await
            }
        })
        .await
    }

    /// The row `sql` returns, if any (an error if more than one).
    pub async fn query_opt(&self, sql: &str, params: &[Param<'_>]) -> Result<Option<Row>, Error> {
        self.settle(sql, async {
            let client = self.client();
            if self.statement_cache {
                let statement = client.prepare_typed_cached(sql, &types(params)).await?;
                client.query_opt(&statement, &values(params)).await
            } else {
                client.query_typed_opt(sql, params).await
            }
        })
        .await
    }

    /// Runs `sql`; returns how many rows it changed.
    pub async fn execute(&self, sql: &str, params: &[Param<'_>]) -> Result<u64, Error> {
        self.settle(sql, async {
            let client = self.client();
            if self.statement_cache {
                let statement = client.prepare_typed_cached(sql, &types(params)).await?;
                client.execute(&statement, &values(params)).await
            } else {
                execute_unnamed(client, sql, params).await
            }
        })
        .await
    }

    /// Runs `sql` unnamed whatever the cache mode: parse, bind and execute
    /// leave in one write, so a statement sent after it (a pipelined
    /// `COMMIT`) can never overtake it, as it could a first-time prepare.
    pub async fn execute_unnamed(&self, sql: &str, params: &[Param<'_>]) -> Result<u64, Error> {
        self.settle(sql, execute_unnamed(self.client(), sql, params))
            .await
    }

    /// Runs `sql` as a simple query (no statement is named or cached, so it
    /// is safe behind a transaction-mode pooler): `BEGIN`, `COMMIT` …
    pub(super) async fn batch(&self, sql: &str) -> Result<(), Error> {
        self.settle(sql, self.client().batch_execute(sql)).await
    }

    /// Marks the connection as not reusable: it is closed when this [`Db`]
    /// drops (e.g. a transaction left open).
    pub(super) fn discard_on_drop(&self) {
        self.settled.store(false, Ordering::Release);
    }

    /// One empty round trip (a simple query: nothing named), for readiness.
    pub async fn ping(&self) -> Result<(), Error> {
        self.settle("", async { self.client().simple_query("").await.map(drop) })
            .await
    }

    /// Runs `query` (the text `sql`, empty for a ping), marking the
    /// connection unsettled until it finishes with an answer that leaves the
    /// session usable; inside a traced request, in a span of its own.
    async fn settle<T>(
        &self,
        sql: &str,
        query: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        let mut span = otel::spans::statement(if sql.is_empty() { "PING" } else { sql });
        self.settled.store(false, Ordering::Release);
        let result = query.await;
        if let (Some(span), Err(e)) = (&mut span, &result) {
            span.fail(e.code().map_or("unfinished", SqlState::code).to_owned());
        }
        drop(span);
        let settled = match &result {
            Ok(_) => true,
            // The server answered and is ready for the next statement,
            // unless it cancelled this one (a timeout): discard those too.
            Err(e) => e
                .as_db_error()
                .is_some_and(|db| *db.code() != SqlState::QUERY_CANCELED),
        };
        self.settled.store(settled, Ordering::Release);
        result
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if self.settled.load(Ordering::Acquire) {
            return;
        }
        if let Some(object) = self.object.take() {
            // Out of the pool for good; dropping the client closes it.
            drop(Object::take(object));
            tracing::debug!("database connection discarded: its last statement did not finish");
        }
    }
}

async fn execute_unnamed(
    client: &deadpool_postgres::Client,
    sql: &str,
    params: &[Param<'_>],
) -> Result<u64, Error> {
    let typed = params.iter().map(|(v, t)| (*v, t.clone()));
    let mut rows = pin!(client.query_typed_raw(sql, typed).await?);
    while rows.try_next().await?.is_some() {}
    Ok(rows.rows_affected().unwrap_or(0))
}

fn types(params: &[Param<'_>]) -> Vec<Type> {
    params.iter().map(|(_, t)| t.clone()).collect()
}

fn values<'a>(params: &'a [Param<'a>]) -> Vec<&'a (dyn ToSql + Sync)> {
    params.iter().map(|(v, _)| *v).collect()
}
