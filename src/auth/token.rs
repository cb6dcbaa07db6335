//! Verifying a bearer token, rule by rule: the `Authorization` header, the
//! compact form, the header's `typ`, `kid` and `alg`, the key, then the
//! signature and claims (`jsonwebtoken`).

use std::sync::Arc;

use http::HeaderValue;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};

use super::cache;
use super::claims::{Claims, RawClaims};
use super::keys::Lookup;
use super::store::KeyStore;
use crate::config::OidcSettings;
use crate::error::{AppError, Challenge};

/// The longest token read; longer ones are refused unread.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// The algorithms accepted: asymmetric only (never `none`, never HMAC,
/// whose secret could be a public key: the key-confusion forgery).
pub const ALGORITHMS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// Verifies tokens against the store's keys and the settings' issuer,
/// audience and leeway.
#[derive(Debug)]
pub struct Verifier {
    store: Arc<KeyStore>,
    settings: OidcSettings,
}

fn invalid(why: &'static str) -> AppError {
    AppError::Unauthorized(Challenge::InvalidToken(why))
}

impl Verifier {
    /// A verifier over `store`.
    pub fn new(store: Arc<KeyStore>, settings: OidcSettings) -> Self {
        super::provider::install();
        Self { store, settings }
    }

    /// The key store, to wait for keys or look at them.
    pub fn store(&self) -> &Arc<KeyStore> {
        &self.store
    }

    /// The claims of the bearer token in `authorization`, or why not: 401
    /// (no token, or not valid), 503 (a well-formed token, no key yet).
    pub async fn verify(
        &self,
        authorization: Option<&HeaderValue>,
    ) -> Result<Arc<Claims>, AppError> {
        let token = bearer(authorization)?;
        let now = jsonwebtoken::get_current_timestamp();
        let leeway = self.settings.leeway_seconds;
        let hash = cache::hash(token);
        // A token verified before passed every check below: the cache is
        // asked first, so a client reusing its token pays a hash and a lookup.
        let current = self.store.current();
        if let Some(claims) = current
            .as_ref()
            .and_then(|keys| keys.cache.get(&hash, now.saturating_sub(leeway)))
        {
            return Ok(claims);
        }
        compact(token)?;
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid("malformed token"))?;
        if let Some(typ) = &header.typ {
            let typ = typ.to_ascii_lowercase();
            let typ = typ.strip_prefix("application/").unwrap_or(&typ);
            if typ != "at+jwt" && typ != "jwt" {
                return Err(invalid("wrong token type"));
            }
        }
        let kid = header.kid.as_deref().ok_or(invalid("no key id"))?;
        if !ALGORITHMS.contains(&header.alg) {
            return Err(invalid("algorithm not allowed"));
        }
        let Some(mut keys) = current else {
            return Err(AppError::Unavailable(crate::error::Unavailable {
                reason: "the identity provider's keys are not loaded yet; retry shortly",
                source: None,
            }));
        };
        if matches!(keys.find(kid, header.alg), Lookup::UnknownKid) {
            self.store.refetch_for_unknown_kid().await;
            if let Some(fresh) = self.store.current() {
                keys = fresh;
            }
        }
        let key = match keys.find(kid, header.alg) {
            Lookup::Found(key) => key,
            Lookup::UnknownKid => return Err(invalid("unknown key")),
            Lookup::Unfit => return Err(invalid("the key does not fit the algorithm")),
        };
        let mut validation = Validation::new(header.alg);
        validation.leeway = leeway;
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&[&self.settings.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let data = jsonwebtoken::decode::<RawClaims>(token, key, &validation)
            .map_err(|e| invalid(reason(e.kind())))?;
        let claims = Arc::new(Claims::from(data.claims));
        keys.cache
            .insert(hash, claims.clone(), now.saturating_sub(leeway));
        Ok(claims)
    }
}

/// The token of an `Authorization: Bearer <token>` header (scheme in any
/// case), non-empty and bounded; [`compact`] checks its form.
fn bearer(authorization: Option<&HeaderValue>) -> Result<&str, AppError> {
    let missing = AppError::Unauthorized(Challenge::Missing);
    let value = authorization.ok_or(missing)?;
    let value = value
        .to_str()
        .map_err(|_| AppError::Unauthorized(Challenge::Missing))?;
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AppError::Unauthorized(Challenge::Missing));
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(invalid("empty token"));
    }
    if token.len() > MAX_TOKEN_BYTES {
        return Err(invalid("token too large"));
    }
    Ok(token)
}

/// Whether `token` is a JWS in compact form: three base64url parts.
fn compact(token: &str) -> Result<(), AppError> {
    let compact = token.split('.').count() == 3
        && token
            .bytes()
            .all(|b| b == b'.' || b == b'-' || b == b'_' || b.is_ascii_alphanumeric());
    if compact {
        Ok(())
    } else {
        Err(invalid("not a compact JWS"))
    }
}

/// A fixed phrase for why `jsonwebtoken` refused a token.
fn reason(kind: &ErrorKind) -> &'static str {
    match kind {
        ErrorKind::ExpiredSignature => "expired",
        ErrorKind::ImmatureSignature => "not yet valid",
        ErrorKind::InvalidIssuer => "wrong issuer",
        ErrorKind::InvalidAudience => "wrong audience",
        ErrorKind::InvalidSignature => "bad signature",
        ErrorKind::MissingRequiredClaim(_) => "a required claim is missing",
        _ => "malformed token",
    }
}
