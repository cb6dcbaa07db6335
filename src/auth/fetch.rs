//! Fetching the provider's documents: a small HTTPS client (hyper-util's
//! client over rustls with ring and the webpki roots: the image has no trust
//! store), a deadline on every fetch and a cap on every body.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::de::DeserializeOwned;

use crate::error::BoxError;
use crate::telemetry::otel::spans::ClientSpan;

/// The deadline of one fetch, connecting and reading the body included.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest document read; a JWKS is a few KiB.
pub const MAX_BODY_BYTES: usize = 512 * 1024;

/// A client for the provider's discovery document and key set.
#[derive(Clone, Debug)]
pub struct Client {
    inner: HyperClient<HttpsConnector<HttpConnector>, Empty<Bytes>>,
}

impl Client {
    /// A client trusting the webpki roots (https), or plain http where the
    /// settings allow it (development, tests).
    pub fn new() -> Result<Self, BoxError> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(FETCH_TIMEOUT));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let inner = HyperClient::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Ok(Self { inner })
    }

    /// GETs `url` and parses its JSON body, within [`FETCH_TIMEOUT`] and
    /// [`MAX_BODY_BYTES`]; any other status than 200 is an error.
    pub async fn get_json<T: DeserializeOwned>(&self, url: &str) -> Result<T, BoxError> {
        let uri: http::Uri = url.parse()?;
        // A client span (a child of the request that needed the keys, or a
        // trace of its own for a background refresh), its traceparent sent.
        let span = ClientSpan::start(&http::Method::GET, &uri, None);
        let mut request = http::Request::new(Empty::new());
        if let Some(span) = &span {
            span.inject(request.headers_mut());
        }
        *request.uri_mut() = uri;
        let mut answered = None;
        let fetch = async {
            let response = self.inner.request(request).await?;
            answered = Some(response.status());
            if response.status() != http::StatusCode::OK {
                return Err(format!("{url} answered {}", response.status()).into());
            }
            let body = Limited::new(response.into_body(), MAX_BODY_BYTES)
                .collect()
                .await?
                .to_bytes();
            Ok::<_, BoxError>(serde_json::from_slice(&body)?)
        };
        let (result, failure) = match tokio::time::timeout(FETCH_TIMEOUT, fetch).await {
            Ok(result) => (
                result.map_err(|e| format!("{url}: {e}").into()),
                "unanswered",
            ),
            Err(_) => (
                Err(format!("{url}: no answer within {FETCH_TIMEOUT:?}").into()),
                "timeout",
            ),
        };
        if let Some(span) = span {
            span.finish(answered.ok_or(failure));
        }
        result
    }
}
