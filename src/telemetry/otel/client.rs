//! The OTLP exporter's HTTP client: hyper-util's, with every request run on
//! the server's Tokio runtime.
//!
//! The batch span processor and the periodic metric reader call the
//! exporter from threads of their own, outside any runtime: a client that
//! needs a reactor there (opentelemetry-otlp's `hyper-client` and
//! `reqwest-client` features) panics and the spans are dropped without a
//! word. This one spawns each request onto the runtime handle it was given
//! and waits for the answer from wherever it is called.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use opentelemetry_http::{HttpClient, HttpError, Request, Response};
use tokio::runtime::Handle;

use crate::error::BoxError;

/// The largest collector answer read (they are a few bytes).
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// An [`HttpClient`] for the exporters; see the module docs.
#[derive(Clone, Debug)]
pub struct ExportClient {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
    runtime: Handle,
    timeout: Duration,
}

impl ExportClient {
    /// A client whose requests run on `runtime` and end within `timeout`
    /// (connecting included); http or https (webpki roots).
    pub fn new(runtime: Handle, timeout: Duration) -> Result<Self, BoxError> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(timeout));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Ok(Self {
            client,
            runtime,
            timeout,
        })
    }
}

#[async_trait]
impl HttpClient for ExportClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let client = self.client.clone();
        let timeout = self.timeout;
        let send = async move {
            let (parts, body) = request.into_parts();
            let response = client
                .request(Request::from_parts(parts, Full::new(body)))
                .await?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, MAX_RESPONSE_BYTES)
                .collect()
                .await?
                .to_bytes();
            Ok::<_, HttpError>(Response::from_parts(parts, body))
        };
        let task = self.runtime.spawn(async move {
            match tokio::time::timeout(timeout, send).await {
                Ok(result) => result,
                Err(_) => Err(format!("no answer within {timeout:?}").into()),
            }
        });
        task.await?
    }
}
