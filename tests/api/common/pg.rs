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
    // Only the options asked for here: not a PG_PASSWORD or PG_TLS_PORT the
    // test run itself was started with (`PG_PASSWORD=... make test`).
    let output = Command::new(script)
        .args(args)
        .env_remove("PG_PASSWORD")
        .env_remove("PG_TLS_PORT")
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
    /// a loopback port pg.sh picks (another one if the first is taken: no
    /// port is bound and released for it); self-signed certificate, only TLS
    /// over TCP. Returns it and its `sslmode=require` URL.
    pub fn start_with_tls() -> (Self, String) {
        let dir =
            std::env::temp_dir().join(format!("backend-tls-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = pg_sh_with(
            &["start", dir.to_str().unwrap()],
            &[("PG_TLS_PORT", "auto")],
        );
        let tls_url = pg_sh(&["tls-url", dir.to_str().unwrap()]);
        let server = Self {
            dir,
            admin: tokio_postgres::Config::from_str(&url).unwrap(),
        };
        (server, tls_url)
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
