//! The `backend` command: serve the API, run migrations, or probe health.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

use backend::config::{self, DatabaseUrl, Settings, port_from_env};
use backend::db::migrate::{self, MIGRATIONS};
use backend::state::AppState;
use backend::{app, openapi, server, telemetry};

/// mimalloc everywhere: musl's allocator serialises threads, and glibc's
/// showed as ~10% of the server's CPU in profiles under load.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "\
backend — a REST API for users over PostgreSQL

Usage:
  backend [serve]        serve the API (the default; with WORKER_IN_PROCESS=true, run jobs too)
  backend worker         run background jobs (webhook deliveries); serves /healthz and /readyz
  backend migrate up     apply every pending migration
  backend migrate down   revert the most recently applied migration
  backend migrate status list migrations: applied, pending, drifted, unknown
  backend seed [N]       create N demo users with realistic names (default 100)
  backend healthcheck    exit 0 if the server on 127.0.0.1:$PORT answers /healthz
  backend openapi        print the OpenAPI document (JSON, with the AUTH_MODE security) and exit
  backend --help         show this help
  backend --version      show the version

Settings come from the environment (and .env); see .env.example.
";

#[allow(clippy::print_stdout)] // --help and --version answer on stdout, as CLIs do
fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        [] | ["serve"] => serve(Role::Server),
        ["worker"] => serve(Role::Worker),
        ["healthcheck"] => healthcheck(),
        ["openapi"] => openapi(),
        ["migrate", action @ ("up" | "down" | "status")] => migrate(action),
        ["seed"] => seed("100"),
        ["seed", count] => seed(count),
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

/// Prints the document the server would serve: with the security of
/// `AUTH_MODE` and `OIDC_*` when set, and without needing `DATABASE_URL`.
fn openapi() -> ExitCode {
    let auth = match config::auth_from_env() {
        Ok(auth) => auth,
        Err(e) => {
            eprintln!("backend: {e}");
            return ExitCode::from(2);
        }
    };
    // The route table (which names each route's scope) is built on a state
    // whose pool never connects and whose auth is off: nothing is fetched.
    let placeholder = DatabaseUrl::from_config(tokio_postgres::Config::new());
    let state = match AppState::new(Settings::for_database(placeholder)) {
        Ok(state) => state,
        Err(e) => {
            eprintln!("backend: cannot build the route table: {e}");
            return ExitCode::FAILURE;
        }
    };
    let document = openapi::secured_document(app::RESOURCES, &app::routes(&state), &auth);
    // A closed pipe (`| head`) is not an error worth a panic.
    let _ = writeln!(std::io::stdout(), "{document:#}");
    ExitCode::SUCCESS
}

/// Loads settings or explains every problem at once (exit code 2).
fn load_settings() -> Result<Settings, ExitCode> {
    Settings::from_env().map_err(|e| {
        eprintln!("backend: {e}");
        ExitCode::from(2)
    })
}

/// What every command that talks to the database starts with: the
/// settings (or every problem with them, exit 2), logging as they say, and
/// the async runtime.
fn start() -> Result<(Settings, telemetry::LogGuard, tokio::runtime::Runtime), ExitCode> {
    let settings = load_settings()?;
    let log = telemetry::init(settings.log_format, &settings.log_filter);
    Ok((settings, log, runtime()?))
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

/// How long the exit may wait for telemetry to be exported.
const OTEL_FLUSH_TIMEOUT: Duration = Duration::from_secs(1);

/// What a serving process does.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    /// `backend serve`: the API (and the jobs, with `WORKER_IN_PROCESS`).
    Server,
    /// `backend worker`: the jobs, and only the probes over HTTP.
    Worker,
}

fn serve(role: Role) -> ExitCode {
    let (settings, _log, runtime) = match start() {
        Ok(started) => started,
        Err(code) => return code,
    };
    match runtime.block_on(run_server(settings, role)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "server failed");
            ExitCode::FAILURE
        }
    }
}

async fn run_server(settings: Settings, role: Role) -> Result<(), Box<dyn std::error::Error>> {
    let otel =
        telemetry::otel::start(&settings.telemetry).map_err(|e| format!("telemetry: {e}"))?;
    let state = AppState::new(settings)?;
    telemetry::otel::observe_pool(&state.pool);
    if let (Some(reader), Some(addr)) = (otel.scrape.clone(), state.settings.telemetry.metrics_addr)
    {
        let metrics = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on METRICS_ADDR {addr}: {e}"))?;
        tracing::info!(address = %metrics.local_addr()?, "serving /metrics");
        tokio::spawn(telemetry::otel::prometheus::serve(metrics, reader));
    }
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = if role == Role::Worker || state.settings.jobs.in_process {
        Some(
            app::worker(&state, stopped.clone())
                .map_err(|e| format!("cannot start the worker: {e}"))?,
        )
    } else {
        None
    };
    if let Err(e) = backend::db::prepare(&state.settings).await {
        if !e.is_unreachable() {
            return Err(format!("migrations failed: {e}").into());
        }
        // Serve anyway (readiness says the database is down) and keep trying.
        tracing::warn!(error = %e, "database unreachable; migrations will be retried");
        tokio::spawn(retry_migrations(state.clone()));
    }
    // Built before listening: a route table or document that cannot be
    // built stops the process here, not after it has accepted traffic.
    let table = match role {
        Role::Server => app::routes(&state),
        Role::Worker => {
            let broker = worker.as_ref().map(|w| w.broker().clone());
            let broker = broker.ok_or("backend worker runs a worker")?;
            backend::health::worker_routes(backend::router::RouteTable::new(), &state, broker)
        }
    };
    let app = app::app(&state, table);
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
    let worker = worker.map(|w| tokio::spawn(w.run(stopped)));
    let signal = async move {
        server::shutdown_signal().await;
        let _ = stop.send(true);
    };
    server::serve_app(listener, state, app, signal).await?;
    if let Some(worker) = worker {
        worker.await?;
    }
    // The last batch of spans and the metrics, bounded so the process still
    // ends within Docker's grace period (SHUTDOWN_TIMEOUT_MS is below it).
    let flush = tokio::task::spawn_blocking(move || otel.shutdown(OTEL_FLUSH_TIMEOUT));
    if tokio::time::timeout(OTEL_FLUSH_TIMEOUT, flush)
        .await
        .is_err()
    {
        tracing::warn!("telemetry flush abandoned at its deadline");
    }
    Ok(())
}

/// Retries start-up migrations every [`backend::db::MIGRATION_RETRY_INTERVAL`]
/// until they apply or fail for a reason other than reachability.
async fn retry_migrations(state: AppState) {
    loop {
        tokio::time::sleep(backend::db::MIGRATION_RETRY_INTERVAL).await;
        match backend::db::prepare(&state.settings).await {
            Ok(()) => return,
            Err(e) if e.is_unreachable() => {
                tracing::debug!(error = %e, "database still unreachable");
            }
            Err(e) => {
                tracing::error!(error = %e, "migrations failed");
                return;
            }
        }
    }
}

/// `backend migrate up|down|status`: prints what it did, one line each.
#[allow(clippy::print_stdout)] // the command's report is its output
fn migrate(action: &str) -> ExitCode {
    let (settings, _log, runtime) = match start() {
        Ok(started) => started,
        Err(code) => return code,
    };
    let result = runtime.block_on(async {
        let mut client = migrate::connect(&settings).await?;
        let mut lines = Vec::new();
        match action {
            "up" => {
                let applied =
                    migrate::up_within(&mut client, MIGRATIONS, settings.migrate_lock_timeout)
                        .await?;
                if applied.is_empty() {
                    lines.push("nothing to apply: the schema is up to date".to_owned());
                }
                for m in applied {
                    lines.push(format!(
                        "applied {}_{} ({} ms)",
                        m.version, m.name, m.duration_ms
                    ));
                }
            }
            "down" => {
                match migrate::down_within(&mut client, MIGRATIONS, settings.migrate_lock_timeout)
                    .await?
                {
                    Some(m) => lines.push(format!(
                        "reverted {}_{} ({} ms)",
                        m.version, m.name, m.duration_ms
                    )),
                    None => lines.push("nothing to revert: no migration is applied".to_owned()),
                }
            }
            _ => {
                for status in
                    migrate::status_within(&mut client, MIGRATIONS, settings.migrate_lock_timeout)
                        .await?
                {
                    lines.push(status.to_string());
                }
            }
        }
        Ok::<_, migrate::MigrateError>(lines)
    });
    match result {
        Ok(lines) => {
            for line in lines {
                println!("{line}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("backend: migrate {action} failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `backend seed [N]`: creates N demo users (demos, load tests).
#[allow(clippy::print_stdout)] // the command's report is its output
fn seed(count: &str) -> ExitCode {
    let Ok(count) = count.parse::<usize>() else {
        eprintln!("backend: seed takes a number of users, got {count:?}");
        return ExitCode::from(2);
    };
    let (settings, _log, runtime) = match start() {
        Ok(started) => started,
        Err(code) => return code,
    };
    let result = runtime.block_on(async {
        let state = AppState::new(settings).map_err(|e| e.to_string())?;
        backend::users::seed::seed(&state.pool, count)
            .await
            .map_err(|e| e.to_string())
    });
    match result {
        Ok(seeded) => {
            println!(
                "created {} users ({} skipped: email taken)",
                seeded.created, seeded.skipped
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("backend: seed failed: {e}");
            ExitCode::FAILURE
        }
    }
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
