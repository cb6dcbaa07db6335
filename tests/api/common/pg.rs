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

/// Whether this run must have PostgreSQL's server binaries: in CI
/// (`CI=true`, set by GitHub Actions) or with `BACKEND_REQUIRE_PRIVATE_PG=1`
/// (set by .ci/run), a test that needs them fails instead of skipping.
fn private_pg_required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
        || std::env::var("BACKEND_REQUIRE_PRIVATE_PG").is_ok_and(|v| v == "1")
}

/// Where scripts/pg.sh finds `initdb` and `pg_ctl`, or why not.
fn bindir() -> Result<PathBuf, String> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/pg.sh");
    let output = Command::new(script)
        .arg("bindir")
        .output()
        .map_err(|e| e.to_string())?;
    if output.status.success() {
        Ok(PathBuf::from(
            String::from_utf8_lossy(&output.stdout).trim().to_owned(),
        ))
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_owned())
    }
}

impl PrivateServer {
    /// A server of the test's own, started off the async runtime (pg_ctl
    /// blocks for about a second); `None`, with one line saying so, when
    /// PostgreSQL's server binaries are missing, unless the run requires
    /// them (see [`private_pg_required`]), when it panics instead.
    pub async fn start_or_skip(test: &str) -> Option<Self> {
        Self::start_with_or_skip(test, Self::start).await
    }

    /// [`PrivateServer::start_with_tls`], off the runtime, or skipped.
    pub async fn start_with_tls_or_skip(test: &str) -> Option<(Self, String)> {
        Self::start_with_or_skip(test, Self::start_with_tls).await
    }

    async fn start_with_or_skip<T: Send + 'static>(test: &str, start: fn() -> T) -> Option<T> {
        if let Err(why) = tokio::task::spawn_blocking(bindir).await.unwrap() {
            assert!(
                !private_pg_required(),
                "{test}: needs initdb and pg_ctl (CI or BACKEND_REQUIRE_PRIVATE_PG=1): {why}"
            );
            eprintln!("SKIPPED {test}: needs initdb and pg_ctl for a private server: {why}");
            return None;
        }
        Some(tokio::task::spawn_blocking(start).await.unwrap())
    }

    /// The path of one of the server's programs (e.g. `pg_dump`), from the
    /// same directory as its `pg_ctl`, so the versions match.
    /// `pg_ctl` may be a link (e.g. in /usr/local/bin) to the real
    /// directory, which holds the rest.
    pub fn bin(&self, name: &str) -> PathBuf {
        let _ = &self.dir;
        let pg_ctl = bindir().expect("the server binaries").join("pg_ctl");
        let real = std::fs::canonicalize(&pg_ctl).unwrap_or(pg_ctl);
        real.parent().unwrap().join(name)
    }

    /// Stops the server, off the async runtime.
    pub async fn stop_async(self: &std::sync::Arc<Self>) {
        let this = std::sync::Arc::clone(self);
        tokio::task::spawn_blocking(move || this.stop())
            .await
            .unwrap();
    }

    /// Starts it again, off the async runtime.
    pub async fn restart_async(self: &std::sync::Arc<Self>) {
        let this = std::sync::Arc::clone(self);
        tokio::task::spawn_blocking(move || this.restart())
            .await
            .unwrap();
    }

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
                // Only the options asked for here, as in `pg_sh_with`.
                .env_remove("PG_PASSWORD")
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
