//! The service as an OAuth 2.0 resource server: bearer tokens issued by an
//! external OpenID Provider, checked against the scope each route declares
//! ([`crate::router::Access`]).
//!
//! [`start`] builds the [`Verifier`] when `AUTH_MODE=oidc` and starts
//! loading the provider's keys in the background; [`layer::guard`] puts the
//! check in front of each protected endpoint. With `AUTH_MODE=none` there is
//! no verifier and every route is open.
//!
//! `store` keeps the keys (discovery, JWKS, refresh), `keys` parses a JWKS,
//! `token` applies the token rules, `claims` is what a request learns,
//! `cache` remembers verified tokens, `fetch` is the HTTPS client and
//! `provider` the `ring` verifier `jsonwebtoken` runs on.

use std::sync::Arc;

use crate::config::{AppEnv, AuthMode, Settings};

pub mod cache;
pub mod claims;
pub mod fetch;
pub mod keys;
pub mod layer;
pub mod provider;
pub mod store;
pub mod token;

pub use claims::{Caller, Claims};
pub use token::Verifier;

/// The verifier `settings` ask for, its keys loading in the background;
/// `None` with `AUTH_MODE=none` (logged as a warning in prod).
///
/// Call it within a Tokio runtime: the key loader is a task.
///
/// # Panics
/// When the HTTPS client cannot be built (rustls refusing ring's default
/// protocol versions): a build mistake, caught at start-up.
pub fn start(settings: &Settings) -> Option<Arc<Verifier>> {
    let oidc = match &settings.auth {
        AuthMode::None => {
            if settings.app_env == AppEnv::Prod {
                tracing::warn!(
                    "AUTH_MODE=none: every route is open to anyone who can reach the service"
                );
            }
            return None;
        }
        AuthMode::Oidc(oidc) => oidc.clone(),
    };
    let client = match fetch::Client::new() {
        Ok(client) => client,
        Err(e) => panic!("the HTTPS client for the identity provider cannot be built: {e}"),
    };
    let store = Arc::new(store::KeyStore::new(oidc.clone(), client));
    store::spawn_loader(&store);
    Some(Arc::new(Verifier::new(store, oidc)))
}
