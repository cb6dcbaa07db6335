//! The verified claims a request carries, for handlers and the access log.

use std::collections::BTreeSet;
use std::sync::Arc;

use serde::Deserialize;

/// What a verified token says about its caller, in request extensions
/// (`Arc<Claims>`) for handlers to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// The `sub` claim: who the token speaks for.
    pub subject: Option<String>,
    /// The `client_id` claim, else `azp`: the application that asked for it.
    pub client_id: Option<String>,
    /// The scopes of `scope` and `scp`, united.
    pub scopes: BTreeSet<String>,
    /// The `exp` claim, in seconds since the epoch.
    pub expires_at: u64,
}

impl Claims {
    /// Whether the token carries `scope` (exactly; no scope implies another).
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.contains(scope)
    }
}

/// Who called, in response extensions, for the access log line of a
/// request with a verified token (a 403 included).
#[derive(Debug, Clone)]
pub struct Caller(pub Arc<Claims>);

/// The claims as a token carries them; `jsonwebtoken` checks `exp`, `nbf`,
/// `iss` and `aud` itself.
#[derive(Debug, Deserialize)]
pub(super) struct RawClaims {
    sub: Option<String>,
    client_id: Option<String>,
    azp: Option<String>,
    scope: Option<Scopes>,
    scp: Option<Scopes>,
    exp: u64,
}

/// A scope claim: a space-separated string (Keycloak, Entra ID) or an array
/// of strings (Okta).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Scopes {
    Text(String),
    List(Vec<String>),
}

impl Scopes {
    fn into_iter(self) -> impl Iterator<Item = String> {
        let list = match self {
            Self::Text(text) => text.split_whitespace().map(str::to_owned).collect(),
            Self::List(list) => list,
        };
        list.into_iter().filter(|s| !s.is_empty())
    }
}

impl From<RawClaims> for Claims {
    fn from(raw: RawClaims) -> Self {
        let scopes = raw
            .scope
            .into_iter()
            .chain(raw.scp)
            .flat_map(Scopes::into_iter)
            .collect();
        Self {
            subject: raw.sub,
            client_id: raw.client_id.or(raw.azp),
            scopes,
            expires_at: raw.exp,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(json: serde_json::Value) -> Claims {
        serde_json::from_value::<RawClaims>(json).unwrap().into()
    }

    #[test]
    fn scopes_from_scope_and_scp_strings_and_arrays_are_united() {
        let c = claims(serde_json::json!({
            "exp": 1, "scope": "users:read  openid", "scp": ["users:write", "users:read"]
        }));
        let scopes: Vec<&str> = c.scopes.iter().map(String::as_str).collect();
        assert_eq!(scopes, ["openid", "users:read", "users:write"]);
        let c = claims(serde_json::json!({"exp": 1, "scp": "a b"}));
        assert!(c.has_scope("a") && c.has_scope("b") && !c.has_scope("a b"));
    }

    #[test]
    fn the_client_is_client_id_else_azp() {
        let c = claims(serde_json::json!({"exp": 1, "azp": "web", "client_id": "cli"}));
        assert_eq!(c.client_id.as_deref(), Some("cli"));
        let c = claims(serde_json::json!({"exp": 1, "azp": "web", "sub": "u1"}));
        assert_eq!(c.client_id.as_deref(), Some("web"));
        assert_eq!(c.subject.as_deref(), Some("u1"));
        assert!(c.scopes.is_empty());
    }
}
