//! The HTTP client deliveries go out through: hyper-util's client over
//! rustls (ring, webpki roots, as for the identity provider), with a
//! connector that resolves the host itself, refuses special-purpose
//! addresses unless private networks are allowed, and connects to the very
//! address it checked — no second lookup, so no DNS-rebinding window. TLS
//! still verifies and sends SNI for the name in the URL; redirects are
//! never followed (the client does not follow them).

use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::Uri;
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;

use super::address;
use crate::error::BoxError;

/// Resolves, checks and connects; see the module docs.
#[derive(Clone, Copy, Debug)]
pub struct GuardedConnector {
    allow_private_networks: bool,
}

/// The port `uri` names, or its scheme's default: 443 for https, 80 for
/// http.
fn port_of(uri: &Uri) -> u16 {
    let https = uri.scheme_str() == Some("https");
    uri.port_u16().unwrap_or(if https { 443 } else { 80 })
}

impl GuardedConnector {
    /// A connector that refuses special-purpose addresses unless
    /// `allow_private_networks`.
    pub fn new(allow_private_networks: bool) -> Self {
        Self {
            allow_private_networks,
        }
    }

    async fn connect(self, uri: Uri) -> Result<TokioIo<TcpStream>, BoxError> {
        let host = uri.host().ok_or("the URL has no host")?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port = port_of(&uri);
        let addresses: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| format!("cannot resolve {host}: {e}"))?
            .collect();
        if addresses.is_empty() {
            return Err(format!("{host} resolves to no address").into());
        }
        if !self.allow_private_networks
            && let Some(refused) = addresses.iter().find(|a| address::is_special(a.ip()))
        {
            return Err(format!(
                "refused: {host} resolves to {}, a special-purpose address",
                refused.ip()
            )
            .into());
        }
        let mut last = None;
        for address in addresses {
            match TcpStream::connect(address).await {
                Ok(stream) => {
                    let _ = stream.set_nodelay(true);
                    return Ok(TokioIo::new(stream));
                }
                Err(e) => last = Some(format!("cannot connect to {address}: {e}")),
            }
        }
        Err(last.unwrap_or_default().into())
    }
}

impl tower::Service<Uri> for GuardedConnector {
    type Response = TokioIo<TcpStream>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        Box::pin(self.connect(uri))
    }
}

/// The delivery client.
pub type Client = HyperClient<HttpsConnector<GuardedConnector>, Full<Bytes>>;

/// Builds the delivery client.
pub fn build(allow_private_networks: bool) -> Result<Client, BoxError> {
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())?
        .https_or_http()
        .enable_http1()
        .wrap_connector(GuardedConnector::new(allow_private_networks));
    Ok(HyperClient::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .build(connector))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_without_a_port_connects_to_its_schemes_default() {
        let port = |url: &str| port_of(&url.parse::<Uri>().unwrap());
        assert_eq!(port("https://hooks.example.com/in"), 443);
        assert_eq!(port("http://hooks.example.com/in"), 80);
        assert_eq!(port("HTTPS://hooks.example.com/in"), 443);
        assert_eq!(port("https://hooks.example.com:8443/in"), 8443);
        assert_eq!(port("http://127.0.0.1:9000/in"), 9000);
    }
}
