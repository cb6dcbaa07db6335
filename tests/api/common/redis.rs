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
}

impl RedisServer {
    /// Starts a server; `None`, with one line saying so, when `redis-server`
    /// is not installed (in CI that fails instead).
    pub async fn start_or_skip() -> Option<Self> {
        let bin = installed("redis-server")?;
        let dir =
            std::env::temp_dir().join(format!("backend-redis-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let child = spawn(&bin, &dir);
        let server = Self { bin, dir, child };
        server.wait_ready().await;
        Some(server)
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
        self.child = spawn(&self.bin, &self.dir);
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

    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if self.command("PING").is_ok_and(|r| r.starts_with("+PONG")) {
                return;
            }
            assert!(Instant::now() < deadline, "redis-server did not start");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn spawn(bin: &std::path::Path, dir: &std::path::Path) -> Child {
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
