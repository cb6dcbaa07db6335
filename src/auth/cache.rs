//! Verified tokens, so a client that sends the same token again is not
//! verified again (a signature check costs more than the rest of a GET).
//!
//! Keyed by the token's SHA-256 (the token itself is never kept), bounded,
//! each entry valid until the token's `exp`; it lives in the key set, so it
//! goes when the keys change.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::claims::Claims;

/// The most tokens remembered.
pub const CAPACITY: usize = 10_000;

/// A token's cache key: its SHA-256.
pub type TokenHash = [u8; 32];

/// The cache of verified tokens.
#[derive(Debug, Default)]
pub struct Cache(Mutex<HashMap<TokenHash, Arc<Claims>>>);

/// The hash of `token`.
pub fn hash(token: &str) -> TokenHash {
    let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    let mut out = [0; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

impl Cache {
    /// The claims of a token verified before that has not expired at `now`
    /// (seconds since the epoch, leeway included by the caller).
    pub fn get(&self, key: &TokenHash, now: u64) -> Option<Arc<Claims>> {
        let map = self.0.lock().ok()?;
        map.get(key).filter(|c| c.expires_at >= now).cloned()
    }

    /// Remembers a verified token; when full, expired entries go first, and
    /// if none had expired, all of them.
    pub fn insert(&self, key: TokenHash, claims: Arc<Claims>, now: u64) {
        let Ok(mut map) = self.0.lock() else { return };
        if map.len() >= CAPACITY {
            map.retain(|_, c| c.expires_at >= now);
            if map.len() >= CAPACITY {
                map.clear();
            }
        }
        map.insert(key, claims);
    }

    /// Forgets every token: the next request with one verifies it again
    /// (the auth bench measures that path with it).
    pub fn clear(&self) {
        if let Ok(mut map) = self.0.lock() {
            map.clear();
        }
    }

    /// How many tokens are remembered.
    pub fn len(&self) -> usize {
        self.0.lock().map_or(0, |m| m.len())
    }

    /// Whether no token is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: u64) -> Arc<Claims> {
        Arc::new(Claims {
            subject: None,
            client_id: None,
            scopes: std::collections::BTreeSet::new(),
            expires_at: exp,
        })
    }

    #[test]
    fn entries_last_until_exp_and_the_cache_stays_bounded() {
        let cache = Cache::default();
        cache.insert(hash("a"), claims(100), 0);
        assert!(cache.get(&hash("a"), 100).is_some());
        assert!(cache.get(&hash("a"), 101).is_none());
        assert!(cache.get(&hash("b"), 0).is_none());
        for i in 0..CAPACITY + 5 {
            cache.insert(hash(&i.to_string()), claims(1000), 10);
        }
        assert!(cache.len() <= CAPACITY);
        assert!(!cache.is_empty());
        cache.clear();
        assert!(cache.is_empty());
    }

    #[test]
    fn a_full_cache_drops_the_expired_entries_and_keeps_the_live_ones() {
        let cache = Cache::default();
        // One entry expired at 5, one that expires at 10 (valid through
        // that second), and the rest live until 1000.
        cache.insert(hash("expired"), claims(5), 0);
        cache.insert(hash("last second"), claims(10), 0);
        for i in 2..CAPACITY {
            cache.insert(hash(&i.to_string()), claims(1000), 0);
        }
        assert_eq!(cache.len(), CAPACITY);
        cache.insert(hash("new"), claims(1000), 10);
        assert_eq!(cache.len(), CAPACITY);
        assert!(cache.get(&hash("expired"), 0).is_none());
        assert!(cache.get(&hash("last second"), 10).is_some());
        assert!(cache.get(&hash("2"), 10).is_some());
        assert!(cache.get(&hash("new"), 10).is_some());
    }
}
