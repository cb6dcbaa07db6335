//! The `backend` command: serve the API, run migrations, or probe health.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

use backend::config::{Settings, port_from_env};
use backend::{AppState, server, telemetry};

const USAGE: &str = "\
backend — a REST API for users over PostgreSQL

Usage:
  backend [serve]        serve the API (the default)
  backend healthcheck    exit 0 if the server on 127.0.0.1:$PORT answers /healthz
  backend --help         show this help
  backend --version      show the version

Settings come from the environment (and .env); see .env.example.
";

#[allow(clippy::print_stdout)] // --help and --version answer on stdout, as CLIs do
fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        [] | ["serve"] => serve(),
        ["healthcheck"] => healthcheck(),
        ["-h" | "--help" | "help"] => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        ["-V" | "--version"] => {
            println!("backend {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        _ => {
            eprint!("backend: unknown arguments {args:?}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// Loads settings or explains every problem at once (exit code 2).
fn load_settings() -> Result<Settings, ExitCode> {
    Settings::from_env().map_err(|e| {
        eprintln!("backend: {e}");
        ExitCode::from(2)
    })
}

fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("backend: cannot start the async runtime: {e}");
            ExitCode::FAILURE
        })
}

fn serve() -> ExitCode {
    let settings = match load_settings() {
        Ok(s) => s,
        Err(code) => return code,
    };
    let _log = telemetry::init(settings.log_format, &settings.log_filter);
    let runtime = match runtime() {
        Ok(r) => r,
        Err(code) => return code,
    };
    match runtime.block_on(run_server(settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "server failed");
            ExitCode::FAILURE
        }
    }
}

async fn run_server(settings: Settings) -> Result<(), Box<dyn std::error::Error>> {
    let state = AppState::new(settings)?;
    let listener = tokio::net::TcpListener::bind(state.settings.bind)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", state.settings.bind))?;
    tracing::info!(
        address = %listener.local_addr()?,
        database = state.settings.database.redacted(),
        env = ?state.settings.app_env,
        version = env!("CARGO_PKG_VERSION"),
        "listening"
    );
    server::serve(listener, state, server::shutdown_signal()).await?;
    Ok(())
}

/// A dependency-free probe for container HEALTHCHECKs (images without curl).
fn healthcheck() -> ExitCode {
    let port = match port_from_env() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("backend: {e}");
            return ExitCode::from(2);
        }
    };
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    match probe(address) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("backend: healthcheck of {address} failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn probe(address: SocketAddr) -> Result<(), Box<dyn std::error::Error>> {
    let timeout = Duration::from_secs(2);
    let mut stream = TcpStream::connect_timeout(&address, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    let mut response = Vec::new();
    stream.take(64 * 1024).read_to_end(&mut response)?;
    let status_line = response.split(|b| *b == b'\n').next().unwrap_or_default();
    if status_line.starts_with(b"HTTP/1.1 200") {
        Ok(())
    } else {
        Err(format!(
            "unexpected answer {:?}",
            String::from_utf8_lossy(status_line).trim()
        )
        .into())
    }
}
