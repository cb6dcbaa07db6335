//! TLS to PostgreSQL with rustls (ring), honouring `sslmode` as libpq does.
//!
//! The driver sees only `disable`, `prefer` and `require`
//! ([`crate::config::DbTls`] reads libpq's options first). As in libpq,
//! `prefer` and `require` encrypt without checking the server's certificate
//! (managed databases often present certificates from private CAs);
//! `verify-ca` checks the chain against `sslrootcert` (or the compiled-in
//! webpki roots) but not the host name; `verify-full` checks both, with
//! rustls' own WebPKI verifier. `channel_binding` is the driver's: it binds
//! SCRAM to the certificate this connector reports.

use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_postgres::config::Host;
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::config::{AppEnv, DbTls, Roots, Settings, SslMode};

/// An encrypt-only connector (`sslmode` `prefer` / `require`): ring
/// provider, TLS 1.2 and 1.3, no certificate check.
pub fn connector() -> Connector {
    Connector(rustls_connector(Arc::new(EncryptOnly(
        Arc::new(provider()),
    ))))
}

/// The connector `DATABASE_URL`'s `sslmode` and `sslrootcert` ask for.
pub fn connector_for(tls: &DbTls) -> Connector {
    let check_name = match tls.mode {
        SslMode::Disable | SslMode::Prefer | SslMode::Require => return connector(),
        SslMode::VerifyCa => false,
        SslMode::VerifyFull => true,
    };
    let mut roots = RootCertStore::empty();
    match &tls.roots {
        Roots::System => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Roots::Pem(certs) => {
            roots.add_parsable_certificates(certs.iter().cloned());
        }
    }
    let verifier: Arc<dyn ServerCertVerifier> =
        match WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::new(provider()))
            .build()
        {
            Ok(inner) => Arc::new(Verified { inner, check_name }),
            Err(e) => {
                // Fail closed: no root usable means no server is trusted.
                tracing::error!(error = %e, "sslrootcert holds no usable root certificate");
                Arc::new(Verified {
                    inner: WebPkiServerVerifier::builder_with_provider(
                        Arc::new(webpki_only_roots()),
                        Arc::new(provider()),
                    )
                    .build()
                    .unwrap_or_else(|e| unreachable!("webpki roots are valid: {e}")),
                    check_name: true,
                })
            }
        };
    Connector(rustls_connector(verifier))
}

fn webpki_only_roots() -> RootCertStore {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    roots
}

/// Logs a WARN at start-up when, in prod, the database is reached over a
/// network (not loopback, not a Unix socket) with `sslmode` `disable` or
/// `prefer`: a man in the middle can refuse TLS and read the password.
pub fn warn_if_downgradable(settings: &Settings) {
    if let Some(risk) = downgrade_risk(settings) {
        tracing::warn!(database = settings.database.redacted(), "{risk}");
    }
}

/// The warning [`warn_if_downgradable`] logs, if any.
pub fn downgrade_risk(settings: &Settings) -> Option<&'static str> {
    if settings.app_env != AppEnv::Prod {
        return None;
    }
    let remote = settings
        .database
        .config
        .get_hosts()
        .iter()
        .any(|h| match h {
            Host::Tcp(name) => {
                name != "localhost"
                    && !name
                        .parse::<std::net::IpAddr>()
                        .is_ok_and(|ip| ip.is_loopback())
            }
            #[cfg(unix)]
            Host::Unix(_) => false,
        });
    match settings.database.tls.mode {
        SslMode::Disable | SslMode::Prefer if remote => Some(
            "DATABASE_URL reaches the database over the network with sslmode disable or prefer: \
             a man in the middle can downgrade the connection to plaintext and read the password; \
             use sslmode=verify-full (or verify-ca) with sslrootcert",
        ),
        _ => None,
    }
}

/// A [`MakeRustlsConnect`] that also accepts Unix-socket hosts, whose name is
/// empty (the driver asks for a connector even where it will not use TLS).
#[derive(Clone)]
pub struct Connector(MakeRustlsConnect);

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Connector(rustls)")
    }
}

impl<S> MakeTlsConnect<S> for Connector
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = <MakeRustlsConnect as MakeTlsConnect<S>>::Stream;
    type TlsConnect = <MakeRustlsConnect as MakeTlsConnect<S>>::TlsConnect;
    type Error = <MakeRustlsConnect as MakeTlsConnect<S>>::Error;

    fn make_tls_connect(&mut self, hostname: &str) -> Result<Self::TlsConnect, Self::Error> {
        let name = if ServerName::try_from(hostname).is_ok() {
            hostname
        } else {
            "localhost"
        };
        MakeTlsConnect::<S>::make_tls_connect(&mut self.0, name)
    }
}

fn provider() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

fn rustls_connector(verifier: Arc<dyn ServerCertVerifier>) -> MakeRustlsConnect {
    let config = ClientConfig::builder_with_provider(Arc::new(provider()))
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|e| unreachable!("ring supports the default protocol versions: {e}"))
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    MakeRustlsConnect::new(config)
}

/// libpq's `verify-full` (`check_name`) and `verify-ca` (not): rustls'
/// WebPKI verifier, whose host-name check comes after the chain's, so a
/// name mismatch alone means the chain itself was trusted.
#[derive(Debug)]
struct Verified {
    inner: Arc<WebPkiServerVerifier>,
    check_name: bool,
}

impl ServerCertVerifier for Verified {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verdict = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        match verdict {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_name => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// libpq's `sslmode=require`: the channel is encrypted and the handshake's
/// signatures are checked, but the certificate chain is not.
#[derive(Debug)]
struct EncryptOnly(Arc<CryptoProvider>);

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DatabaseUrl;

    fn risk(url: &str, env: AppEnv) -> Option<&'static str> {
        let mut settings = Settings::for_database(DatabaseUrl::parse(url).unwrap());
        settings.app_env = env;
        downgrade_risk(&settings)
    }

    #[test]
    fn prod_warns_of_a_downgradable_network_database_only() {
        let remote = "postgres://app:pw@db.internal/backend";
        let warning = risk(remote, AppEnv::Prod).unwrap();
        assert!(warning.contains("man in the middle") && warning.contains("password"));
        assert!(risk(&format!("{remote}?sslmode=disable"), AppEnv::Prod).is_some());
        assert!(risk(&format!("{remote}?sslmode=require"), AppEnv::Prod).is_none());
        assert!(risk(&format!("{remote}?sslmode=verify-full"), AppEnv::Prod).is_none());
        assert!(risk(remote, AppEnv::Dev).is_none(), "dev stays quiet");
        for local in [
            "postgres://app@localhost/backend",
            "postgres://app@127.0.0.1/backend",
            "postgres://app@[::1]/backend",
            "postgres://app@%2Frun%2Fpostgresql/backend",
        ] {
            assert!(risk(local, AppEnv::Prod).is_none(), "{local}");
        }
    }
}
