//! A Redis server of a test's own (Debian's `redis-server`), on a Unix
//! socket in a temporary directory: no port to collide with the machine's
//! Redis or another test's. It keeps nothing on disk, so a restart loses the
//! stream, as a crash of a cache-configured Redis would.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::tools::installed;

/// A running `redis-server`; killed and its directory removed on drop.
pub struct RedisServer {
    bin: PathBuf,
    dir: PathBuf,
    child: Child,
    /// Options beyond the Unix socket (TLS).
    extra: Vec<String>,
}

impl RedisServer {
    /// Starts a server; `None`, with one line saying so, when `redis-server`
    /// is not installed (in CI that fails instead).
    pub async fn start_or_skip() -> Option<Self> {
        let bin = installed("redis-server")?;
        let dir =
            std::env::temp_dir().join(format!("backend-redis-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let child = spawn(&bin, &dir, &[]);
        let mut server = Self {
            bin,
            dir,
            child,
            extra: Vec::new(),
        };
        server.wait_ready().await;
        Some(server)
    }

    /// Starts a server that also speaks TLS on a loopback port (chosen at
    /// random; another is tried when it is taken), its certificate for
    /// `127.0.0.1` signed by a CA of the test's own. Returns it, the port
    /// and the CA's PEM file; `None` as [`Self::start_or_skip`] does.
    pub async fn start_tls_or_skip() -> Option<(Self, u16, PathBuf)> {
        let mut server = Self::start_or_skip().await?;
        super::certs::make(&server.dir, "IP:127.0.0.1");
        let ca = server.dir.join("ca.crt");
        let dir = server.dir.clone();
        for _ in 0..10 {
            let port = 20_000 + u16::try_from(uuid::Uuid::new_v4().as_u128() % 40_000).unwrap();
            server.kill();
            let _ = std::fs::remove_file(server.socket());
            server.extra = [
                "--tls-port".into(),
                port.to_string(),
                "--tls-cert-file".into(),
                dir.join("server.crt").display().to_string(),
                "--tls-key-file".into(),
                dir.join("server.key").display().to_string(),
                "--tls-ca-cert-file".into(),
                ca.display().to_string(),
                "--tls-auth-clients".into(),
                "no".into(),
            ]
            .into();
            server.child = spawn(&server.bin, &dir, &server.extra);
            if server.started().await {
                return Some((server, port, ca));
            }
        }
        panic!("redis-server found no free port for TLS in ten tries");
    }

    /// The socket's path.
    pub fn socket(&self) -> PathBuf {
        self.dir.join("redis.sock")
    }

    /// The URL the service is given (`REDIS_URL`).
    pub fn url(&self) -> String {
        format!("redis+unix://{}", self.socket().display())
    }

    /// Kills the server (SIGKILL: it saves nothing) and starts a new one on
    /// the same socket, empty.
    pub async fn restart(&mut self) {
        self.kill();
        let _ = std::fs::remove_file(self.socket());
        self.child = spawn(&self.bin, &self.dir, &self.extra);
        self.wait_ready().await;
    }

    /// Kills the server and waits for it to end.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Runs one command (inline protocol) and returns the raw reply.
    pub fn command(&self, line: &str) -> std::io::Result<String> {
        let mut stream = UnixStream::connect(self.socket())?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        stream.write_all(format!("{line}\r\n").as_bytes())?;
        let mut reply = vec![0; 64 * 1024];
        let n = stream.read(&mut reply)?;
        Ok(String::from_utf8_lossy(&reply[..n]).into_owned())
    }

    async fn wait_ready(&mut self) {
        assert!(self.started().await, "redis-server did not start");
    }

    /// Whether the server answers (`false`: it exited, e.g. its port was
    /// taken).
    async fn started(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if self.command("PING").is_ok_and(|r| r.starts_with("+PONG")) {
                return true;
            }
            if self.child.try_wait().is_ok_and(|s| s.is_some()) {
                return false;
            }
            assert!(Instant::now() < deadline, "redis-server did not start");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn spawn(bin: &std::path::Path, dir: &std::path::Path, extra: &[String]) -> Child {
    Command::new(bin)
        .args(["--port", "0", "--unixsocket"])
        .arg(dir.join("redis.sock"))
        .args([
            "--unixsocketperm",
            "700",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .args(extra)
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn redis-server")
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
