//! A PostgreSQL server of a test's own, which the test may stop and start:
//! for fault tests that must not disturb the shared test server.

use std::path::PathBuf;
use std::process::Command;
use std::str::FromStr;

/// A private server under a temporary directory; stopped and removed on drop.
pub struct PrivateServer {
    dir: PathBuf,
    /// The admin connection config (database `postgres`).
    pub admin: tokio_postgres::Config,
}

fn pg_sh(args: &[&str]) -> String {
    pg_sh_with(args, &[])
}

fn pg_sh_with(args: &[&str], env: &[(&str, &str)]) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/pg.sh");
    let output = Command::new(script)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run scripts/pg.sh");
    assert!(
        output.status.success(),
        "pg.sh {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

impl PrivateServer {
    /// Initialises and starts a server (about a second).
    pub fn start() -> Self {
        let dir =
            std::env::temp_dir().join(format!("backend-chaos-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = pg_sh(&["start", dir.to_str().unwrap()]);
        Self {
            dir,
            admin: tokio_postgres::Config::from_str(&url).unwrap(),
        }
    }

    /// Initialises and starts a server that also accepts TLS connections on
    /// 127.0.0.1:`port` (self-signed certificate; only TLS is allowed over
    /// TCP); returns it and its `sslmode=require` URL.
    pub fn start_with_tls(port: u16) -> (Self, String) {
        let dir =
            std::env::temp_dir().join(format!("backend-tls-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let port = port.to_string();
        let url = pg_sh_with(&["start", dir.to_str().unwrap()], &[("PG_TLS_PORT", &port)]);
        let tls_url = pg_sh(&["tls-url", dir.to_str().unwrap()]);
        let server = Self {
            dir,
            admin: tokio_postgres::Config::from_str(&url).unwrap(),
        };
        (server, tls_url)
    }

    /// Like [`Self::start_with_tls`] with the caller's PEM certificate and
    /// key, on a port of its own: retried on another port if the one
    /// reserved was taken meanwhile.
    pub fn start_with_tls_files(cert: &std::path::Path, key: &std::path::Path) -> (Self, String) {
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .unwrap()
                .port()
                .to_string();
            let dir =
                std::env::temp_dir().join(format!("backend-tls-{}", uuid::Uuid::new_v4().simple()));
            std::fs::create_dir_all(&dir).unwrap();
            let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/pg.sh");
            let output = Command::new(script)
                .args(["start", dir.to_str().unwrap()])
                .envs([("PG_TLS_PORT", port.as_str())])
                .env("PG_TLS_CERT", cert)
                .env("PG_TLS_KEY", key)
                .output()
                .expect("run scripts/pg.sh");
            let url = String::from_utf8(output.stdout).unwrap().trim().to_owned();
            let server = Self {
                admin: tokio_postgres::Config::from_str(&url).unwrap_or_default(),
                dir,
            };
            if output.status.success() {
                let tls_url = pg_sh(&["tls-url", server.dir.to_str().unwrap()]);
                return (server, tls_url);
            }
        }
        panic!("no TLS PostgreSQL could start in 5 attempts (ports taken?)");
    }

    /// A config for database `name` on this server.
    pub fn database(&self, name: &str) -> tokio_postgres::Config {
        let mut config = self.admin.clone();
        config.dbname(name);
        config
    }

    /// Stops the server (fast shutdown: sessions are terminated).
    pub fn stop(&self) {
        pg_sh(&["stop", self.dir.to_str().unwrap()]);
    }

    /// Starts it again.
    pub fn restart(&self) {
        pg_sh(&["start", self.dir.to_str().unwrap()]);
    }

    /// A direct admin connection.
    pub async fn client(&self) -> tokio_postgres::Client {
        let (client, connection) = self.admin.connect(tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(connection);
        client
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/pg.sh");
        let _ = Command::new(script)
            .args(["stop", self.dir.to_str().unwrap()])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
