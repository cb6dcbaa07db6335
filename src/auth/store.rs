//! The key store: the current key set behind an `Arc` swapped whole (a
//! mutex held only to clone or replace it), loaded
//! at start-up in the background, refreshed hourly, and fetched again when a
//! token names an unknown `kid` (at most once per [`REFETCH_INTERVAL`],
//! single-flight, so a flood of random `kid`s is not a flood of requests).

use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::fetch::Client;
use super::keys::KeySet;
use crate::config::OidcSettings;
use crate::error::BoxError;

/// The longest time between two background loads.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(60 * 60);
/// The shortest time between two fetches caused by unknown `kid`s.
pub const REFETCH_INTERVAL: Duration = Duration::from_secs(30);
/// The first retry delay after a failed load; it doubles up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// The longest retry delay after failed loads.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The provider's keys, as last fetched.
#[derive(Debug)]
pub struct KeyStore {
    settings: OidcSettings,
    client: Client,
    current: Mutex<Option<Arc<KeySet>>>,
    jwks_url: Mutex<Option<String>>,
    last_refetch: tokio::sync::Mutex<Option<Instant>>,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

impl KeyStore {
    /// A store with no keys yet; [`spawn_loader`] fills it.
    pub fn new(settings: OidcSettings, client: Client) -> Self {
        let jwks_url = settings.jwks_url.clone();
        Self {
            settings,
            client,
            current: Mutex::new(None),
            jwks_url: Mutex::new(jwks_url),
            last_refetch: tokio::sync::Mutex::new(None),
        }
    }

    /// The current key set; `None` until one was ever loaded.
    pub fn current(&self) -> Option<Arc<KeySet>> {
        self.current.lock().ok()?.clone()
    }

    /// Loads the keys: discovery (unless `OIDC_JWKS_URL` is set), then the JWKS.
    pub async fn load(&self) -> Result<(), BoxError> {
        let url = match &self.settings.jwks_url {
            Some(url) => url.clone(),
            None => {
                let url = self.discover().await?;
                if let Ok(mut slot) = self.jwks_url.lock() {
                    *slot = Some(url.clone());
                }
                url
            }
        };
        self.fetch_keys(&url).await
    }

    async fn discover(&self) -> Result<String, BoxError> {
        let doc: Discovery = self.client.get_json(&self.settings.discovery_url()).await?;
        if doc.issuer != self.settings.issuer {
            return Err(format!(
                "the discovery document names the issuer {:?}, but OIDC_ISSUER is {:?}; no key is loaded",
                doc.issuer, self.settings.issuer
            )
            .into());
        }
        if !same_or_stronger_scheme(&self.settings.issuer, &doc.jwks_uri) {
            return Err(format!(
                "the discovery document's jwks_uri {:?} is not https while the issuer is; no key is loaded",
                doc.jwks_uri
            )
            .into());
        }
        Ok(doc.jwks_uri)
    }

    async fn fetch_keys(&self, url: &str) -> Result<(), BoxError> {
        let document: serde_json::Value = self.client.get_json(url).await?;
        if self.current().is_some_and(|set| set.same_as(&document)) {
            return Ok(());
        }
        let set = KeySet::parse(document)?;
        tracing::info!(keys = set.len(), "signing keys loaded");
        if let Ok(mut current) = self.current.lock() {
            *current = Some(Arc::new(set));
        }
        Ok(())
    }

    /// Fetches the JWKS again for a token naming an unknown `kid`, unless
    /// that was done less than [`REFETCH_INTERVAL`] ago; callers arriving
    /// meanwhile wait for the one fetch in flight.
    pub async fn refetch_for_unknown_kid(&self) {
        let mut last = self.last_refetch.lock().await;
        if last.is_some_and(|at| at.elapsed() < REFETCH_INTERVAL) {
            return;
        }
        *last = Some(Instant::now());
        let url = self.jwks_url.lock().ok().and_then(|u| u.clone());
        let Some(url) = url else { return };
        if let Err(e) = self.fetch_keys(&url).await {
            tracing::warn!(error = %e, "signing keys could not be fetched again; the cached ones stay");
        }
    }
}

/// Whether keys may be read from `jwks_uri` for `issuer`: an https issuer
/// must not hand its keys over plain http, where anyone on the path could
/// swap them.
fn same_or_stronger_scheme(issuer: &str, jwks_uri: &str) -> bool {
    let https = |url: &str| {
        url.get(..8)
            .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
    };
    !https(issuer) || https(jwks_uri)
}

/// Starts the background loader: keys now (retried with a backoff up to
/// [`MAX_BACKOFF`] until the first success), then every
/// [`REFRESH_INTERVAL`]. It ends when the store is dropped.
pub fn spawn_loader(store: &Arc<KeyStore>) {
    tokio::spawn(load_forever(Arc::downgrade(store)));
}

async fn load_forever(store: Weak<KeyStore>) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        let Some(keys) = store.upgrade() else { return };
        let wait = match keys.load().await {
            Ok(()) => {
                backoff = FIRST_BACKOFF;
                REFRESH_INTERVAL
            }
            Err(e) => {
                if keys.current().is_none() {
                    tracing::error!(error = %e, retry_in_ms = backoff.as_millis(), "signing keys could not be loaded; protected routes answer 503");
                } else {
                    tracing::warn!(error = %e, retry_in_ms = backoff.as_millis(), "signing keys could not be refreshed; the cached ones stay");
                }
                let wait = backoff;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                wait
            }
        };
        drop(keys);
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::same_or_stronger_scheme;

    #[test]
    fn an_https_issuer_hands_its_keys_over_https_only() {
        assert!(same_or_stronger_scheme(
            "https://id.example.com",
            "https://id.example.com/certs"
        ));
        assert!(same_or_stronger_scheme(
            "https://id.example.com",
            "HTTPS://keys.example.com/"
        ));
        assert!(!same_or_stronger_scheme(
            "https://id.example.com",
            "http://id.example.com/certs"
        ));
        assert!(same_or_stronger_scheme(
            "http://localhost:8080",
            "http://keycloak:8080/certs"
        ));
        assert!(same_or_stronger_scheme(
            "http://localhost:8080",
            "https://keys.example.com"
        ));
    }
}
