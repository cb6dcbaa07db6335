//! `GET /docs`: the OpenAPI document rendered for people by Swagger UI
//! 5.35.0, whose assets the binary serves itself (`/docs/{asset}`), pinned
//! and unchanged (see `swagger-ui/README.md` for their hashes), so the page
//! works with no network beyond the service, air-gapped included.
//!
//! The page answers with a `content-security-policy` that allows scripts
//! and styles from the service only (Swagger UI sets inline styles, hence
//! `'unsafe-inline'` for styles alone) and, with authentication on, the
//! identity provider's origin for the "Authorize" flow's requests.

use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use http_body_util::Full;

use crate::error::AppError;
use crate::http::{Request, Response};
use crate::router::PathParams;

/// The page's path.
pub const PAGE: &str = "/docs";
/// The assets' path template.
pub const ASSETS: &str = "/docs/{asset}";

/// One file the page needs.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    /// Its name in the path (`/docs/<name>`).
    pub name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
    gzip: bool,
}

/// Every asset, by name.
pub const ASSET_FILES: [Asset; 5] = [
    Asset {
        name: "swagger-ui-bundle.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("swagger-ui/swagger-ui-bundle.js.gz"),
        gzip: true,
    },
    Asset {
        name: "swagger-ui.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("swagger-ui/swagger-ui.css.gz"),
        gzip: true,
    },
    Asset {
        name: "oauth2-redirect.html",
        content_type: "text/html; charset=utf-8",
        bytes: include_bytes!("swagger-ui/oauth2-redirect.html"),
        gzip: false,
    },
    Asset {
        name: "oauth2-redirect.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("swagger-ui/oauth2-redirect.js"),
        gzip: false,
    },
    Asset {
        name: "docs.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: INIT_JS.as_bytes(),
        gzip: false,
    },
];

/// Starts Swagger UI on this service's document; a file, not an inline
/// script, so the policy can forbid inline scripts.
const INIT_JS: &str = r##""use strict";
window.addEventListener("load", () => {
  window.ui = SwaggerUIBundle({
    url: "/api/v1/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    oauth2RedirectUrl: window.location.origin + "/docs/oauth2-redirect.html",
  });
  window.ui.initOAuth({ usePkceWithAuthorizationCodeGrant: true });
});
"##;

const PAGE_HTML: &str = r#"<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>backend — API docs</title>
  <link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="/docs/swagger-ui-bundle.js"></script>
  <script src="/docs/docs.js"></script>
</body>
</html>
"#;

/// The policy of the page and its assets; `provider` is the identity
/// provider's origin (`https://id.example.com`) when authentication is on.
pub fn content_security_policy(provider: Option<&str>) -> HeaderValue {
    let extra = provider
        .map(|origin| format!(" {origin}"))
        .unwrap_or_default();
    let policy = format!(
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data:; connect-src 'self'{extra}; form-action 'self'{extra}; \
         frame-ancestors 'none'; base-uri 'none'"
    );
    HeaderValue::from_str(&policy)
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"))
}

/// The origin (`scheme://host[:port]`) of `url`, if it has one.
pub fn origin(url: &str) -> Option<&str> {
    let (scheme, rest) = url.split_once("://")?;
    if scheme.is_empty() || rest.is_empty() {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some(&url[..scheme.len() + 3 + end])
}

fn with_policy(mut response: Response, policy: &HeaderValue) -> Response {
    response
        .headers_mut()
        .insert(header::CONTENT_SECURITY_POLICY, policy.clone());
    response
}

/// The page.
pub fn page(policy: &HeaderValue) -> Response {
    let mut response = http::Response::new(Full::new(Bytes::from_static(PAGE_HTML.as_bytes())));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    with_policy(response, policy)
}

/// The asset the request names, or 404.
pub fn asset(req: &Request, policy: &HeaderValue) -> Result<Response, AppError> {
    let name = req
        .extensions()
        .get::<PathParams>()
        .and_then(|p| p.get(req.uri().path(), "asset"))
        .unwrap_or("");
    let asset = ASSET_FILES
        .iter()
        .find(|a| a.name == name)
        .ok_or(AppError::NotFound)?;
    let mut response = http::Response::new(Full::new(Bytes::from_static(asset.bytes)));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    // Pinned files: the same URL always has the same bytes.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    if asset.gzip {
        // Every browser accepts gzip; a request without Accept-Encoding
        // accepts any coding (RFC 9110, 12.5.3).
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    Ok(with_policy(response, policy))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_scheme_host_and_port() {
        assert_eq!(
            origin("https://id.example.com/realms/x"),
            Some("https://id.example.com")
        );
        assert_eq!(
            origin("http://localhost:8080"),
            Some("http://localhost:8080")
        );
        assert_eq!(origin("https://a.example?x=1"), Some("https://a.example"));
        assert_eq!(origin("not a url"), None);
        assert_eq!(origin("https://"), None);
    }

    #[test]
    fn the_policy_allows_the_provider_only_for_requests() {
        let closed = content_security_policy(None);
        let closed = closed.to_str().unwrap();
        assert!(closed.contains("script-src 'self';"));
        assert!(closed.contains("connect-src 'self';"));
        let open = content_security_policy(Some("https://id.example.com"));
        let open = open.to_str().unwrap();
        assert!(open.contains("connect-src 'self' https://id.example.com;"));
        assert!(
            open.contains("script-src 'self';"),
            "never scripts from elsewhere"
        );
    }

    #[test]
    fn the_page_loads_nothing_from_elsewhere() {
        assert!(!PAGE_HTML.contains("http"), "no absolute URL in the page");
        for asset in [
            "/docs/swagger-ui.css",
            "/docs/swagger-ui-bundle.js",
            "/docs/docs.js",
        ] {
            let name = asset.trim_start_matches("/docs/");
            assert!(PAGE_HTML.contains(asset));
            assert!(ASSET_FILES.iter().any(|a| a.name == name), "{name}");
        }
    }

    #[test]
    fn compressed_assets_are_gzip_and_the_others_are_not() {
        for asset in ASSET_FILES {
            assert_eq!(
                asset.bytes.starts_with(&[0x1f, 0x8b]),
                asset.gzip,
                "{}",
                asset.name
            );
        }
    }
}
