//! [`Transaction`]: several statements on one [`Db`] that commit or roll
//! back together (a change and the events it publishes).
//!
//! `BEGIN`, `COMMIT` and `ROLLBACK` are simple queries, and the statements
//! in between go through [`Db`] as usual, so both statement-cache modes
//! work unchanged (a transaction-mode pooler keeps one server connection for
//! the whole transaction). A transaction dropped while open (its future was
//! cancelled by a deadline) takes its connection out of the pool: the server
//! rolls it back when the connection closes, and no later request inherits
//! it.

use std::ops::Deref;

use tokio_postgres::Error;

use super::Db;

/// An open transaction on a [`Db`]; statements run through `Deref`.
#[derive(Debug)]
pub struct Transaction<'a> {
    db: &'a Db,
    open: bool,
}

/// Takes the connection out of the pool if dropped armed (a pipelined
/// exchange was cancelled half-way).
struct Armed<'a>(Option<&'a Db>);

impl Drop for Armed<'_> {
    fn drop(&mut self) {
        if let Some(db) = self.0 {
            db.discard_on_drop();
        }
    }
}

impl Db {
    /// Starts a transaction on this connection.
    pub async fn begin(&self) -> Result<Transaction<'_>, Error> {
        self.batch("BEGIN").await?;
        Ok(Transaction {
            db: self,
            open: true,
        })
    }

    /// Starts a transaction and runs `first` (a statement on this [`Db`])
    /// in it, `BEGIN` and the statement pipelined: one round trip less
    /// than [`Db::begin`] then the statement. `BEGIN` is sent before
    /// `first` is polled, so `first` always runs inside the transaction.
    /// On `first`'s error the transaction is rolled back.
    pub async fn begin_with<T, E: From<Error>>(
        &self,
        first: impl Future<Output = Result<T, E>>,
    ) -> Result<(Transaction<'_>, T), E> {
        let mut armed = Armed(Some(self));
        let (begun, value) = tokio::join!(self.batch("BEGIN"), first);
        armed.0 = None;
        let tx = Transaction {
            db: self,
            open: true,
        };
        if let Err(e) = begun {
            // Nothing ran in a transaction; never reuse this session.
            self.discard_on_drop();
            drop(tx);
            return Err(e.into());
        }
        match value {
            Ok(value) => Ok((tx, value)),
            Err(e) => {
                let _ = tx.rollback().await;
                Err(e)
            }
        }
    }
}

impl Transaction<'_> {
    /// Commits the transaction.
    pub async fn commit(mut self) -> Result<(), Error> {
        self.open = false;
        let result = self.db.batch("COMMIT").await;
        if result.is_err() {
            // The outcome is unknown; never hand this session out again.
            self.db.discard_on_drop();
        }
        result
    }

    /// Rolls the transaction back.
    pub async fn rollback(mut self) -> Result<(), Error> {
        self.open = false;
        let result = self.db.batch("ROLLBACK").await;
        if result.is_err() {
            self.db.discard_on_drop();
        }
        result
    }

    /// Runs `last` and commits, pipelined: one round trip. `last` must send
    /// its whole statement on its first poll (an unnamed statement, see
    /// [`Db::execute_unnamed`]) so `COMMIT` cannot overtake it; if it fails
    /// in the server, the transaction is aborted and the `COMMIT` rolls it
    /// back. Returns `last`'s error, or the commit's.
    pub async fn commit_with<T, E: From<Error>>(
        mut self,
        last: impl Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        self.open = false;
        let mut armed = Armed(Some(self.db));
        let (value, committed) = tokio::join!(last, self.db.batch("COMMIT"));
        armed.0 = None;
        match (value, committed) {
            (Ok(value), Ok(())) => Ok(value),
            (Err(e), committed) => {
                if committed.is_err() {
                    self.db.discard_on_drop();
                }
                Err(e)
            }
            (Ok(_), Err(e)) => {
                self.db.discard_on_drop();
                Err(e.into())
            }
        }
    }

    /// Commits when `result` is `Ok`, rolls back when it is `Err`, and
    /// returns `result` (or the commit's error).
    pub async fn finish<T, E: From<Error>>(self, result: Result<T, E>) -> Result<T, E> {
        match result {
            Ok(value) => {
                self.commit().await?;
                Ok(value)
            }
            Err(error) => {
                // The statement's error is the one worth reporting; a failed
                // rollback has already discarded the connection.
                let _ = self.rollback().await;
                Err(error)
            }
        }
    }
}

impl Deref for Transaction<'_> {
    type Target = Db;

    fn deref(&self) -> &Db {
        self.db
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if self.open {
            self.db.discard_on_drop();
        }
    }
}
