//! `AUTH_MODE` and the `OIDC_*` settings: whether bearer tokens are required,
//! and from which OpenID Provider.

use super::parse::{Parser, int_in};
use super::{AppEnv, SettingsError};

/// How requests are authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMode {
    /// `AUTH_MODE=none`: every route is open, nothing is verified (the
    /// default in dev; in prod it must be chosen, and a warning is logged).
    None,
    /// `AUTH_MODE=oidc`: protected routes need a bearer token from the provider.
    Oidc(OidcSettings),
}

/// Where tokens come from and what they must say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcSettings {
    /// `OIDC_ISSUER` (required with oidc): a token's `iss` must equal it.
    pub issuer: String,
    /// `OIDC_AUDIENCE` (required with oidc): a token's `aud` must contain it.
    pub audience: String,
    /// `OIDC_JWKS_URL` (default: unset, discovery gives it): read the keys
    /// here instead of through discovery.
    pub jwks_url: Option<String>,
    /// `OIDC_LEEWAY_SECONDS` (default 30): clock leeway for `exp` and `nbf`.
    pub leeway_seconds: u64,
}

impl OidcSettings {
    /// The discovery document's URL: the issuer (one trailing `/` dropped)
    /// and `/.well-known/openid-configuration`.
    pub fn discovery_url(&self) -> String {
        let base = self.issuer.strip_suffix('/').unwrap_or(&self.issuer);
        format!("{base}/.well-known/openid-configuration")
    }
}

/// Reads the authentication settings, recording every problem in `p`.
pub(super) fn parse(p: &mut Parser<'_>, app_env: AppEnv) -> AuthMode {
    let raw = (p.lookup)("AUTH_MODE").map(|v| v.trim().to_ascii_lowercase());
    let oidc = match raw.as_deref() {
        None | Some("") if app_env == AppEnv::Prod => {
            p.fail(
                "AUTH_MODE",
                "is required in prod: `oidc`, or `none` to serve every route openly".into(),
            );
            false
        }
        None | Some("" | "none") => false,
        Some("oidc") => true,
        Some(other) => {
            p.fail(
                "AUTH_MODE",
                format!("must be `oidc` or `none`, got {other:?}"),
            );
            false
        }
    };
    let https_only = app_env == AppEnv::Prod;
    let issuer = url_setting(p, "OIDC_ISSUER", https_only);
    let audience = (p.lookup)("OIDC_AUDIENCE")
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty());
    let jwks_url = url_setting(p, "OIDC_JWKS_URL", https_only);
    let leeway_seconds = p.parse("OIDC_LEEWAY_SECONDS", 30u64, |v| int_in(v, 0, 600));
    if !oidc {
        return AuthMode::None;
    }
    let issuer = issuer.unwrap_or_else(|| {
        if !is_set(p, "OIDC_ISSUER") {
            required(p, "OIDC_ISSUER", "the provider's issuer URL");
        }
        String::new()
    });
    let audience = audience.unwrap_or_else(|| {
        required(p, "OIDC_AUDIENCE", "the audience tokens must carry");
        String::new()
    });
    AuthMode::Oidc(OidcSettings {
        issuer,
        audience,
        jwks_url,
        leeway_seconds,
    })
}

/// Reads only `APP_ENV` and the authentication settings from the
/// environment (and `.env`), for `backend openapi`: the document it prints
/// declares the security the server would, without a database URL.
pub fn auth_from_env() -> Result<AuthMode, SettingsError> {
    let _ = dotenvy::dotenv();
    auth_from_lookup(&|name: &str| std::env::var(name).ok())
}

fn auth_from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<AuthMode, SettingsError> {
    let mut p = Parser {
        lookup,
        errors: Vec::new(),
    };
    let app_env = p.parse("APP_ENV", AppEnv::Dev, |v| match v {
        "dev" => Ok(AppEnv::Dev),
        "prod" => Ok(AppEnv::Prod),
        _ => Err("must be `dev` or `prod`".into()),
    });
    let auth = parse(&mut p, app_env);
    if p.errors.is_empty() {
        Ok(auth)
    } else {
        Err(SettingsError(p.errors))
    }
}

fn is_set(p: &Parser<'_>, variable: &str) -> bool {
    (p.lookup)(variable).is_some_and(|v| !v.trim().is_empty())
}

fn required(p: &mut Parser<'_>, variable: &'static str, what: &str) {
    p.fail(
        variable,
        format!("is required with AUTH_MODE=oidc ({what})"),
    );
}

/// An absolute http(s) URL (https only in prod), or `None` when unset.
fn url_setting(p: &mut Parser<'_>, variable: &'static str, https_only: bool) -> Option<String> {
    let value = (p.lookup)(variable)?.trim().to_owned();
    if value.is_empty() {
        return None;
    }
    let uri = value.parse::<http::Uri>().ok();
    let scheme = uri.as_ref().and_then(|u| u.scheme_str());
    let absolute = uri.as_ref().is_some_and(|u| u.authority().is_some());
    let allowed = match scheme {
        Some("https") => true,
        Some("http") => !https_only,
        _ => false,
    };
    if absolute && allowed {
        Some(value)
    } else {
        let kind = if https_only {
            "an absolute https URL in prod"
        } else {
            "an absolute http or https URL"
        };
        p.fail(variable, format!("must be {kind}, got {value:?}"));
        None
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use crate::config::{AuthMode, Settings, SettingsError};

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let mut map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        map.insert("DATABASE_URL".into(), "postgres://localhost/db".into());
        Settings::from_lookup(|name| map.get(name).cloned())
    }

    fn variables(error: &SettingsError) -> Vec<&str> {
        error.0.iter().map(|e| e.variable).collect()
    }

    #[test]
    fn dev_defaults_to_none_and_prod_has_no_default() {
        assert_eq!(settings(&[]).unwrap().auth, AuthMode::None);
        for unset in [
            &[("APP_ENV", "prod")][..],
            &[("APP_ENV", "prod"), ("AUTH_MODE", " ")],
        ] {
            let err = settings(unset).unwrap_err();
            assert_eq!(variables(&err), ["AUTH_MODE"], "{err}");
        }
        let s = settings(&[("APP_ENV", "prod"), ("AUTH_MODE", "none")]).unwrap();
        assert_eq!(s.auth, AuthMode::None);
    }

    #[test]
    fn oidc_reads_every_setting_with_its_defaults() {
        let s = settings(&[
            ("AUTH_MODE", "oidc"),
            ("OIDC_ISSUER", "https://id.example.com/realms/app/"),
            ("OIDC_AUDIENCE", "backend"),
        ])
        .unwrap();
        let AuthMode::Oidc(oidc) = s.auth else {
            panic!("oidc expected")
        };
        assert_eq!(oidc.issuer, "https://id.example.com/realms/app/");
        assert_eq!(oidc.audience, "backend");
        assert_eq!(oidc.jwks_url, None);
        assert_eq!(oidc.leeway_seconds, 30);
        assert_eq!(
            oidc.discovery_url(),
            "https://id.example.com/realms/app/.well-known/openid-configuration"
        );
        let s = settings(&[
            ("AUTH_MODE", "OIDC"),
            ("OIDC_ISSUER", "http://localhost:8080"),
            ("OIDC_AUDIENCE", "backend"),
            ("OIDC_JWKS_URL", "http://keycloak:8080/certs"),
            ("OIDC_LEEWAY_SECONDS", "0"),
        ])
        .unwrap();
        let AuthMode::Oidc(oidc) = s.auth else {
            panic!("oidc expected")
        };
        assert_eq!(oidc.jwks_url.as_deref(), Some("http://keycloak:8080/certs"));
        assert_eq!(oidc.leeway_seconds, 0);
    }

    #[test]
    fn the_auth_settings_alone_need_no_database_url() {
        let vars = [
            ("AUTH_MODE", "oidc"),
            ("OIDC_ISSUER", "https://id.example.com"),
            ("OIDC_AUDIENCE", "backend"),
        ];
        let lookup = |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        };
        let AuthMode::Oidc(oidc) = super::auth_from_lookup(&lookup).unwrap() else {
            panic!("oidc expected")
        };
        assert_eq!(oidc.issuer, "https://id.example.com");
        let err = super::auth_from_lookup(&|name| (name == "APP_ENV").then(|| "prod".into()))
            .unwrap_err();
        assert_eq!(variables(&err), ["AUTH_MODE"], "{err}");
    }

    #[test]
    fn every_auth_problem_is_reported_with_the_others() {
        let err = settings(&[("AUTH_MODE", "oidc"), ("PORT", "x")]).unwrap_err();
        assert_eq!(
            variables(&err),
            ["PORT", "OIDC_ISSUER", "OIDC_AUDIENCE"],
            "{err}"
        );
        let err = settings(&[
            ("APP_ENV", "prod"),
            ("AUTH_MODE", "oidc"),
            ("OIDC_ISSUER", "http://id.example.com"),
            ("OIDC_AUDIENCE", "backend"),
            ("OIDC_JWKS_URL", "/certs"),
            ("OIDC_LEEWAY_SECONDS", "-1"),
        ])
        .unwrap_err();
        assert_eq!(
            variables(&err),
            ["OIDC_ISSUER", "OIDC_JWKS_URL", "OIDC_LEEWAY_SECONDS"],
            "{err}"
        );
        assert!(
            err.to_string().contains("absolute https URL in prod"),
            "{err}"
        );
        let err = settings(&[("AUTH_MODE", "jwt")]).unwrap_err();
        assert_eq!(variables(&err), ["AUTH_MODE"]);
    }
}
