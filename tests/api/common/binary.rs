//! Running the real `backend` binary, for what only a process can show:
//! signals, exit codes, what it writes to stdout.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

/// A `backend` process with piped stdout.
pub struct Process {
    /// The child process.
    pub child: Child,
    /// Its stdout, line by line.
    pub stdout: Lines<BufReader<ChildStdout>>,
    /// Every stdout line read so far.
    pub seen: Vec<String>,
}

/// A command for the binary with a clean environment plus `env`.
pub fn command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_backend"));
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    // Under `make coverage` the binary is instrumented: let it write its
    // profile where cargo-llvm-cov collects them (the variable's `%p` keeps
    // each process's file apart), not into the temporary directory.
    if let Some(profile) = std::env::var_os("LLVM_PROFILE_FILE") {
        command.env("LLVM_PROFILE_FILE", profile);
    }
    for (k, v) in env {
        command.env(k, v);
    }
    command
}

/// Runs `command` to completion within `timeout`; a process that does not
/// exit by then fails the test (and is killed) instead of hanging it.
pub async fn output_within(command: &mut Command, timeout: Duration) -> std::process::Output {
    tokio::time::timeout(timeout, command.output())
        .await
        .expect("the process exits in time")
        .unwrap()
}

impl Process {
    /// Starts `backend serve` on an ephemeral port with JSON logs; returns
    /// the process and the address from its "listening" line.
    pub async fn serve(env: &[(&str, &str)]) -> (Self, SocketAddr) {
        let mut all = vec![("PORT", "0"), ("LOG_FORMAT", "json")];
        all.extend_from_slice(env);
        let mut child = command(&["serve"], &all).spawn().expect("spawn backend");
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut process = Self {
            child,
            stdout,
            seen: Vec::new(),
        };
        let line = process
            .wait_for_line(|l| l.contains("\"listening\""), Duration::from_secs(20))
            .await
            .unwrap_or_else(|| panic!("no listening line; stdout: {:?}", process.seen));
        let json: serde_json::Value = serde_json::from_str(&line).unwrap();
        let addr = json["address"].as_str().unwrap().parse().unwrap();
        (process, addr)
    }

    /// Reads stdout until a line satisfies `predicate` or `timeout` passes.
    pub async fn wait_for_line(
        &mut self,
        predicate: impl Fn(&str) -> bool,
        timeout: Duration,
    ) -> Option<String> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let line = tokio::time::timeout_at(deadline, self.stdout.next_line())
                .await
                .ok()?
                .ok()??;
            self.seen.push(line.clone());
            if predicate(&line) {
                return Some(line);
            }
        }
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let pid = self.child.id().expect("running");
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Reads the rest of stdout and waits for exit, both bounded.
    ///
    /// Stdout is drained first: a process whose log lines fill the pipe
    /// blocks writing them and, waited on without a reader, never exits.
    pub async fn wait(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let exit = async {
            while let Ok(Some(line)) = self.stdout.next_line().await {
                self.seen.push(line);
            }
            self.child.wait().await
        };
        tokio::time::timeout(timeout, exit)
            .await
            .expect("the process exits in time")
            .unwrap()
    }
}
