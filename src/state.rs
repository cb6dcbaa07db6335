//! The state every endpoint shares: the pool, the settings, the shutdown flag.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::config::Settings;
use crate::{auth, db};

/// What every endpoint shares. Cloning is one reference count (endpoints
/// clone it per request).
#[derive(Clone, Debug)]
pub struct AppState(Arc<Shared>);

/// The contents of [`AppState`], reached through it by `Deref`.
#[derive(Debug)]
pub struct Shared {
    /// The database connection pool.
    pub pool: db::Pool,
    /// The settings the process started with.
    pub settings: Settings,
    /// The bearer-token verifier; `None` with `AUTH_MODE=none`.
    pub auth: Option<Arc<auth::Verifier>>,
    shutting_down: AtomicBool,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// Builds the state; the pool connects lazily, so this succeeds with the
    /// database down. With `AUTH_MODE=oidc` the provider's keys start loading
    /// in the background (a Tokio runtime is needed then).
    pub fn new(settings: Settings) -> Result<Self, deadpool_postgres::BuildError> {
        let pool = db::build_pool(&settings)?;
        let auth = auth::start(&settings);
        Ok(Self(Arc::new(Shared {
            pool,
            settings,
            auth,
            shutting_down: AtomicBool::new(false),
        })))
    }

    /// Marks the start of a graceful shutdown; `/readyz` answers 503 from now.
    pub fn begin_shutdown(&self) {
        self.shutting_down.store(true, Ordering::Release);
    }

    /// Whether a graceful shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }
}
