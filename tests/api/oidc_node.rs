//! A real OpenID Provider process for the tests: `tools/oidc-provider`
//! (panva's certified `oidc-provider` on Node), started on 127.0.0.1 on a
//! port reserved for the test, stopped when dropped. Tokens come from its
//! token endpoint by the client-credentials grant, over a real HTTP POST.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use base64::Engine as _;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::common::client;

/// The audience the provider puts in its tokens (its resource indicator).
pub const AUDIENCE: &str = "urn:backend:api";
/// The client whose tokens are RS256.
pub const RS256_CLIENT: &str = "backend-cli";
/// The client whose tokens are ES256 (`id_token_signed_response_alg`).
pub const ES256_CLIENT: &str = "backend-cli-es256";

/// A running provider process.
pub struct NodeProvider {
    /// Where it listens.
    pub addr: SocketAddr,
    child: Child,
}

/// The provider's folder when Node and its `node_modules` are there;
/// `None` (skip, with one line) otherwise, a failure when CI=true, where
/// `make install` must have run `npm ci` in it.
pub fn available() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tools/oidc-provider");
    let node = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let missing = if !node {
        "node is not installed (Node.js 20 or later)"
    } else if !dir.join("node_modules/oidc-provider").is_dir() {
        "tools/oidc-provider/node_modules is missing (`make install` runs npm ci there)"
    } else {
        return Some(dir);
    };
    assert_ne!(
        std::env::var("CI").as_deref(),
        Ok("true"),
        "the OpenID Provider tests cannot run: {missing}"
    );
    eprintln!("skipped: {missing}");
    None
}

impl NodeProvider {
    /// Starts the provider with keys whose `kid`s begin with `kid_prefix`,
    /// on a free port (another one when the port was taken meanwhile).
    pub async fn start(dir: &std::path::Path, kid_prefix: &str) -> Self {
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .unwrap()
                .port();
            if let Some(provider) = Self::start_on(dir, port, kid_prefix).await {
                return provider;
            }
        }
        panic!("the OpenID Provider did not start on five ports in a row");
    }

    /// Starts it on `port` (its issuer names the port, so a restart for a
    /// rotation keeps it); `None` when the port is taken.
    pub async fn start_on(dir: &std::path::Path, port: u16, kid_prefix: &str) -> Option<Self> {
        let mut child = Command::new("node")
            .arg("server.mjs")
            .current_dir(dir)
            .env("PORT", port.to_string())
            .env("AUDIENCE", AUDIENCE)
            .env("KID_PREFIX", kid_prefix)
            .stdout(Stdio::piped())
            // A few warning lines at start (Node 20), read only on failure.
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let ready = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await;
        match ready {
            Ok(Ok(Some(line))) if line.starts_with("ready ") => {
                tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
                let addr = SocketAddr::from(([127, 0, 0, 1], port));
                Some(Self { addr, child })
            }
            Ok(Ok(None)) if child.wait().await.ok()?.code() == Some(3) => None,
            other => {
                let _ = child.start_kill();
                let mut stderr = String::new();
                if let Some(mut pipe) = child.stderr.take() {
                    let _ = pipe.read_to_string(&mut stderr).await;
                }
                panic!("the OpenID Provider did not start ({other:?}): {stderr}")
            }
        }
    }

    /// Its issuer URL.
    pub fn issuer(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// An access token for `client` with `scope`, by the client-credentials
    /// grant (the client's secret is `<client>-secret`).
    pub async fn token(&self, client_id: &str, scope: &str) -> String {
        let basic = base64::engine::general_purpose::STANDARD
            .encode(format!("{client_id}:{client_id}-secret"));
        let body = format!(
            "grant_type=client_credentials&scope={}",
            scope.replace(' ', "+").replace(':', "%3A")
        );
        let response = client::send(
            self.addr,
            "POST",
            "/token",
            &[
                ("authorization", &format!("Basic {basic}")),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            Some(body.as_bytes()),
        )
        .await;
        assert_eq!(response.status, 200, "{:?}", response.body);
        response.json()["access_token"]
            .as_str()
            .expect("an access_token")
            .to_owned()
    }

    /// Stops the process and waits for it to end (its port is free again).
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}
