//! What a route needs from the caller, declared where the route is added.

/// The access a route requires; every route states one, so a new resource
/// cannot forget it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// Anyone may call it; the `Authorization` header is not even read
    /// (probes, the OpenAPI document and its page).
    Open,
    /// A verified bearer token carrying this scope (e.g. `users:read`) is
    /// needed when `AUTH_MODE=oidc`; with `none` the route is open.
    Scope(&'static str),
}

impl Access {
    /// The scope needed, if any.
    pub fn scope(self) -> Option<&'static str> {
        match self {
            Self::Open => None,
            Self::Scope(scope) => Some(scope),
        }
    }
}
