//! PostgreSQL and pool errors, classified once: what the client is told
//! (conflict, timeout, unavailable, internal) and what only the log sees.
//!
//! The log sees a [`DbFailure`], never the driver's error itself: a server
//! error's `Display` carries its DETAIL, which holds row values (`Key
//! (email_key)=(ada@example.com) already exists`).

use std::error::Error as StdError;
use std::fmt::{self, Write as _};

use tokio_postgres::error::SqlState;

use super::AppError;

impl From<tokio_postgres::Error> for AppError {
    /// Classifies a driver error: a unique violation is a conflict, a
    /// cancelled statement a timeout, a lost connection a 503, anything else
    /// a 500.
    fn from(error: tokio_postgres::Error) -> Self {
        if let Some(db) = error.as_db_error() {
            let code = db.code();
            if *code == SqlState::UNIQUE_VIOLATION {
                return Self::Conflict("the value of a unique field is already taken".into());
            }
            if *code == SqlState::QUERY_CANCELED {
                return Self::Timeout;
            }
            if *code == SqlState::UNDEFINED_TABLE {
                // Migrations have not been applied (yet): not the client's
                // fault, and it may pass.
                return Self::unavailable(
                    "the database schema is not ready; retry shortly",
                    DbFailure::from(&error),
                );
            }
            if is_transient(code) {
                return Self::unavailable(
                    "the database is unavailable; retry shortly",
                    DbFailure::from(&error),
                );
            }
            return Self::internal(DbFailure::from(&error));
        }
        if error.is_closed() || error_has_io_source(&error) {
            return Self::unavailable(
                "the database is unavailable; retry shortly",
                DbFailure::from(&error),
            );
        }
        Self::internal(DbFailure::from(&error))
    }
}

/// A driver error as the log may show it: for a server error its SQLSTATE,
/// message, schema, table, column, data type and constraint when known;
/// never its DETAIL, HINT or WHERE, which quote row values.
#[derive(Debug)]
pub struct DbFailure(String);

impl From<&tokio_postgres::Error> for DbFailure {
    fn from(error: &tokio_postgres::Error) -> Self {
        let Some(db) = error.as_db_error() else {
            // No server error in the chain: I/O, closed, protocol.
            return Self(super::error_chain(error));
        };
        let mut text = format!("db error: SQLSTATE {}: {}", db.code().code(), db.message());
        for (name, value) in [
            ("schema", db.schema()),
            ("table", db.table()),
            ("column", db.column()),
            ("datatype", db.datatype()),
            ("constraint", db.constraint()),
        ] {
            if let Some(value) = value {
                let _ = write!(text, " {name}={value}");
            }
        }
        Self(text)
    }
}

impl fmt::Display for DbFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl StdError for DbFailure {}

impl From<deadpool_postgres::PoolError> for AppError {
    /// A pool error is a 503: no connection in time, or none could be made.
    fn from(error: deadpool_postgres::PoolError) -> Self {
        use deadpool_postgres::PoolError;
        match error {
            PoolError::Backend(e)
            | PoolError::PostCreateHook(deadpool_postgres::HookError::Backend(e)) => Self::from(e),
            PoolError::Timeout(_) => Self::unavailable(
                "no database connection available in time; retry shortly",
                error,
            ),
            _ => Self::unavailable("the database is unavailable; retry shortly", error),
        }
    }
}

/// Server-side states that mean "try again later": shutting down, too many
/// connections, starting up, crash recovery.
pub fn is_transient(code: &SqlState) -> bool {
    let class = &code.code()[..2];
    // 08: connection exception, 53: insufficient resources, 57: operator
    // intervention (admin shutdown, crash shutdown, cannot connect now).
    matches!(class, "08" | "53" | "57")
}

fn error_has_io_source(error: &tokio_postgres::Error) -> bool {
    let mut next = error.source();
    while let Some(e) = next {
        if e.is::<std::io::Error>() {
            return true;
        }
        next = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use http::header;

    use super::*;

    #[test]
    fn pool_errors_are_503s_that_keep_their_cause() {
        use deadpool_postgres::{PoolError, TimeoutType};
        let error = AppError::from(PoolError::Timeout(TimeoutType::Wait));
        assert_eq!(error.status(), 503);
        assert_eq!(
            error.detail(),
            "no database connection available in time; retry shortly"
        );
        assert!(error.source_chain().unwrap().contains("Timeout"));
        for pool_error in [PoolError::Closed, PoolError::NoRuntimeSpecified] {
            let error = AppError::from(pool_error);
            assert_eq!(error.status(), 503);
            assert_eq!(error.detail(), "the database is unavailable; retry shortly");
            assert!(error.source_chain().is_some());
            let response = error.into_response();
            assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        }
    }

    #[test]
    fn server_states_that_may_pass_are_unavailable() {
        for state in [
            SqlState::CONNECTION_FAILURE,
            SqlState::CONNECTION_EXCEPTION,
            SqlState::TOO_MANY_CONNECTIONS,
            SqlState::OUT_OF_MEMORY,
            SqlState::ADMIN_SHUTDOWN,
            SqlState::CRASH_SHUTDOWN,
            SqlState::CANNOT_CONNECT_NOW,
        ] {
            assert!(is_transient(&state), "{}", state.code());
        }
        for state in [
            SqlState::UNIQUE_VIOLATION,
            SqlState::SYNTAX_ERROR,
            SqlState::DIVISION_BY_ZERO,
            SqlState::UNDEFINED_TABLE,
            SqlState::INVALID_PASSWORD,
        ] {
            assert!(!is_transient(&state), "{}", state.code());
        }
    }
}
