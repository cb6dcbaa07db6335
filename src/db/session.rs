//! What every new pooled connection gets before its first query: the
//! statement timeout.
//!
//! With the statement cache on (a direct connection, or a pooler that keeps
//! sessions), `SET statement_timeout` once per connection: one round trip per
//! connection, not per request. With it off (behind a transaction-mode
//! pooler) a session `SET` would stick to a server connection other clients
//! share, so the bound must come from the role (`ALTER ROLE … SET
//! statement_timeout`); the first connection checks it and warns when it is
//! unbounded or looser than `DATABASE_STATEMENT_TIMEOUT_MS`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use deadpool_postgres::{Hook, HookError};
use tokio_postgres::SimpleQueryMessage;

use crate::config::Settings;

/// The pool's `post_create` hook for `settings`.
pub fn on_connect(settings: &Settings) -> Hook {
    let wanted_ms = u64::try_from(settings.statement_timeout.as_millis()).unwrap_or(u64::MAX);
    let cache = settings.statement_cache;
    let checked = Arc::new(AtomicBool::new(false));
    Hook::async_fn(move |client, _| {
        let checked = Arc::clone(&checked);
        Box::pin(async move {
            if cache {
                client
                    .batch_execute(&format!("SET statement_timeout = {wanted_ms}"))
                    .await
                    .map_err(HookError::Backend)?;
            } else if !checked.swap(true, Ordering::AcqRel) {
                let shown = client
                    .simple_query(
                        "SELECT setting FROM pg_settings WHERE name = 'statement_timeout'",
                    )
                    .await;
                let server_ms = shown.ok().and_then(|messages| {
                    messages.iter().find_map(|m| match m {
                        SimpleQueryMessage::Row(row) => row.get(0)?.parse::<u64>().ok(),
                        _ => None,
                    })
                });
                if let Some(warning) = unbounded_warning(server_ms, wanted_ms) {
                    tracing::warn!(server_statement_timeout_ms = server_ms, "{warning}");
                }
            }
            Ok(())
        })
    })
}

/// The warning for a server-side `statement_timeout` of `server_ms` (in
/// milliseconds, `None` if it could not be read) when statements must end
/// within `wanted_ms`; `None` when it bounds them.
pub fn unbounded_warning(server_ms: Option<u64>, wanted_ms: u64) -> Option<String> {
    let problem = match server_ms {
        Some(ms) if ms > 0 && ms <= wanted_ms => return None,
        Some(0) => "no statement_timeout".to_owned(),
        Some(ms) => format!("statement_timeout {ms} ms, longer than DATABASE_STATEMENT_TIMEOUT_MS"),
        None => "a statement_timeout that could not be read".to_owned(),
    };
    Some(format!(
        "DATABASE_STATEMENT_CACHE=off: the service sets no session statement_timeout (a pooler \
         would leak it to other clients) and the database role has {problem}; a hung statement \
         holds its connection until it ends. Set it on the role: ALTER ROLE <user> SET \
         statement_timeout = '{wanted_ms}ms'"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_bound_within_the_setting_is_quiet() {
        assert_eq!(unbounded_warning(Some(5000), 5000), None);
        assert_eq!(unbounded_warning(Some(1000), 5000), None);
        for server in [Some(0), Some(5001), None] {
            let warning = unbounded_warning(server, 5000).unwrap();
            assert!(
                warning.contains("ALTER ROLE <user> SET statement_timeout = '5000ms'"),
                "{warning}"
            );
        }
        assert!(
            unbounded_warning(Some(0), 5000)
                .unwrap()
                .contains("no statement_timeout")
        );
    }
}
