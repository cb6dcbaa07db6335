//! libpq's `sslmode` and `sslrootcert`, read from `DATABASE_URL` before the
//! driver sees it.
//!
//! tokio-postgres knows only `disable`, `prefer` and `require`, refuses
//! `verify-ca` and `verify-full` and every `sslrootcert`, and checks no
//! certificate. So both options are taken out of the string here (URL query
//! or key=value form) and given their libpq meaning by [`crate::db::tls`];
//! everything else, `channel_binding` included, is left to the driver.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// libpq's `sslmode`: how much of the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// No TLS.
    Disable,
    /// TLS when the server offers it, no certificate check (the default; a
    /// man in the middle can refuse TLS and read the password).
    Prefer,
    /// TLS always; the certificate is not checked.
    Require,
    /// TLS; the chain must lead to a trusted root, the host name is not checked.
    VerifyCa,
    /// TLS; the chain must lead to a trusted root and name the host.
    VerifyFull,
}

/// The roots a `verify-ca` / `verify-full` chain must lead to.
#[derive(Clone)]
pub enum Roots {
    /// `sslrootcert=system` or none given: the Mozilla roots compiled into
    /// the binary (webpki-roots), which need no certificate files in the
    /// image (the release image has none).
    System,
    /// The certificates of the PEM file `sslrootcert` names, read at start-up.
    Pem(Arc<[CertificateDer<'static>]>),
}

impl std::fmt::Debug for Roots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::System => f.write_str("System"),
            Self::Pem(certs) => write!(f, "Pem({} certificates)", certs.len()),
        }
    }
}

/// TLS to the database, as libpq would do it.
#[derive(Debug, Clone)]
pub struct DbTls {
    /// What is checked.
    pub mode: SslMode,
    /// What the chain must lead to (`verify-ca`, `verify-full`).
    pub roots: Roots,
}

/// Splits `sslmode` and `sslrootcert` off a connection string; returns the
/// rest for the driver and what they mean. Errors never echo the string.
pub(super) fn split(raw: &str) -> Result<(String, DbTls), String> {
    let (rest, pairs) = if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
        split_url(raw)
    } else {
        split_key_values(raw)?
    };
    let mut mode = None;
    let mut root = None;
    for (key, value) in pairs {
        match key.as_str() {
            "sslmode" => {
                mode = Some(match value.as_str() {
                    "disable" => SslMode::Disable,
                    "allow" | "prefer" => SslMode::Prefer,
                    "require" => SslMode::Require,
                    "verify-ca" => SslMode::VerifyCa,
                    "verify-full" => SslMode::VerifyFull,
                    _ => {
                        return Err(
                            "has an invalid sslmode (disable, prefer, require, verify-ca or verify-full)"
                                .into(),
                        );
                    }
                });
            }
            _ => root = Some(value),
        }
    }
    let roots = match root.as_deref() {
        None | Some("system") => Roots::System,
        Some(path) => Roots::Pem(read_pem(Path::new(path))?),
    };
    // libpq: with a root certificate given, `require` verifies the chain
    // (as `verify-ca`), for compatibility with its older versions.
    let mode = match (mode.unwrap_or(SslMode::Prefer), &roots) {
        (SslMode::Require, Roots::Pem(_)) => SslMode::VerifyCa,
        (mode, _) => mode,
    };
    Ok((rest, DbTls { mode, roots }))
}

fn read_pem(path: &Path) -> Result<Arc<[CertificateDer<'static>]>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| {
            format!(
                "names an sslrootcert {} that cannot be read ({e})",
                path.display()
            )
        })?;
    let (usable, _) =
        rustls::RootCertStore::empty().add_parsable_certificates(certs.iter().cloned());
    if usable == 0 {
        return Err(format!(
            "names an sslrootcert {} with no usable PEM certificate",
            path.display()
        ));
    }
    Ok(certs.into())
}

fn is_ours(key: &str) -> bool {
    key == "sslmode" || key == "sslrootcert"
}

/// `postgres://…?a=b&sslmode=x`: our pairs (percent-decoded) out of the query.
fn split_url(raw: &str) -> (String, Vec<(String, String)>) {
    let Some((base, query)) = raw.split_once('?') else {
        return (raw.to_owned(), Vec::new());
    };
    let mut kept = Vec::new();
    let mut ours = Vec::new();
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if is_ours(key) {
            ours.push((key.to_owned(), percent_decode(value)));
        } else {
            kept.push(pair);
        }
    }
    let rest = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    (rest, ours)
}

fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `host=h sslmode='x' …`, tokenised as the driver does (`key = value`,
/// values quoted with `'` or not, `\` escapes); the rest is re-quoted.
fn split_key_values(raw: &str) -> Result<(String, Vec<(String, String)>), String> {
    let mut chars = raw.chars().peekable();
    let mut kept = Vec::new();
    let mut ours = Vec::new();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| !c.is_whitespace() && *c != '=') {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            return Err("is not a valid PostgreSQL connection string".into());
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let quoted = chars.next_if_eq(&'\'').is_some();
        let mut value = String::new();
        loop {
            match chars.next() {
                None if quoted => return Err("is not a valid PostgreSQL connection string".into()),
                None => break,
                Some('\'') if quoted => break,
                Some(c) if c.is_whitespace() && !quoted => break,
                Some('\\') => value.extend(chars.next()),
                Some(c) => value.push(c),
            }
        }
        if is_ours(&key) {
            ours.push((key, value));
        } else {
            let escaped = value.replace('\\', "\\\\").replace('\'', "\\'");
            kept.push(format!("{key}='{escaped}'"));
        }
    }
    Ok((kept.join(" "), ours))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_queries_lose_only_our_options() {
        let (rest, tls) = split(
            "postgres://u:p@h/db?application_name=x&sslmode=verify-full&channel_binding=require",
        )
        .unwrap();
        assert_eq!(
            rest,
            "postgres://u:p@h/db?application_name=x&channel_binding=require"
        );
        assert_eq!(tls.mode, SslMode::VerifyFull);
        assert!(matches!(tls.roots, Roots::System));
        let (rest, tls) =
            split("postgres://u:p@h/db?sslmode=verify-ca&sslrootcert=system").unwrap();
        assert_eq!(rest, "postgres://u:p@h/db");
        assert_eq!(tls.mode, SslMode::VerifyCa);
        let (rest, tls) = split("postgres://h/db").unwrap();
        assert_eq!(
            (rest.as_str(), tls.mode),
            ("postgres://h/db", SslMode::Prefer)
        );
    }

    #[test]
    fn key_value_strings_lose_only_our_options() {
        let (rest, tls) =
            split(r"host=h  password = 'it\'s' user=a\ b sslmode = 'verify-full' dbname=d")
                .unwrap();
        assert_eq!(tls.mode, SslMode::VerifyFull);
        assert_eq!(rest, r"host='h' password='it\'s' user='a b' dbname='d'");
        let config: tokio_postgres::Config = rest.parse().unwrap();
        assert_eq!(config.get_password(), Some(&b"it's"[..]));
        assert_eq!(config.get_user(), Some("a b"));
    }

    #[test]
    fn bad_modes_and_missing_roots_are_refused_without_echoing() {
        let err = split("postgres://u:hunter2@h/db?sslmode=verify-hunter2").unwrap_err();
        assert!(!err.contains("hunter2"), "{err}");
        let err =
            split("postgres://h/db?sslmode=verify-ca&sslrootcert=%2Fno%2Fsuch.pem").unwrap_err();
        assert!(err.contains("/no/such.pem"), "{err}");
        let err = split("host=h sslrootcert='/no/such.pem'").unwrap_err();
        assert!(err.contains("cannot be read"), "{err}");
        assert!(split("host=h sslmode").is_err());
    }

    #[test]
    fn decoding_leaves_stray_percents_alone() {
        assert_eq!(percent_decode("%2Ftmp%2Fa%20b%zz%"), "/tmp/a b%zz%");
    }
}
