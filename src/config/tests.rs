//! Unit tests of the settings: defaults, bounds, every error at once, redaction.

use super::*;
use std::collections::HashMap;

fn settings(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Settings::from_lookup(|name| map.get(name).cloned())
}

/// Prod needs an explicit AUTH_MODE.
const NONE: (&str, &str) = ("AUTH_MODE", "none");

const URL: (&str, &str) = (
    "DATABASE_URL",
    "postgres://app:s3cret@db.internal:5433/backend",
);

#[test]
fn defaults_apply_when_only_the_database_is_set() {
    let s = settings(&[URL]).unwrap();
    assert_eq!(s.app_env, AppEnv::Dev);
    assert_eq!(s.bind, "127.0.0.1:8000".parse().unwrap());
    assert_eq!(s.pool_timeout, Duration::from_secs(2));
    assert_eq!(s.connect_timeout, Duration::from_secs(3));
    assert_eq!(s.statement_timeout, Duration::from_secs(5));
    assert_eq!(s.request_timeout, Duration::from_secs(10));
    assert_eq!(s.body_limit, 65_536);
    assert_eq!(s.shutdown_timeout, Duration::from_secs(8));
    assert!(s.cors_allow_origins.is_empty());
    assert_eq!(s.log_format, LogFormat::Pretty);
    assert_eq!(s.log_filter, "info");
    assert!(s.migrate_on_start);
}

#[test]
fn prod_switches_log_format_and_migrations() {
    let s = settings(&[URL, ("APP_ENV", "prod"), NONE]).unwrap();
    assert_eq!(s.log_format, LogFormat::Json);
    assert!(!s.migrate_on_start);
    let s = settings(&[
        URL,
        ("APP_ENV", "prod"),
        NONE,
        ("LOG_FORMAT", "pretty"),
        ("MIGRATE_ON_START", "true"),
    ])
    .unwrap();
    assert_eq!(s.log_format, LogFormat::Pretty);
    assert!(s.migrate_on_start);
}

#[test]
fn every_bad_variable_is_reported_at_once() {
    let err = settings(&[
        ("APP_ENV", "staging"),
        ("PORT", "99999"),
        ("DATABASE_POOL_SIZE", "0"),
        ("REQUEST_TIMEOUT_MS", "soon"),
        ("CORS_ALLOW_ORIGINS", "*"),
        ("LOG_LEVEL", "loud"),
        ("MIGRATE_ON_START", "maybe"),
        ("HOST", "example.com"),
    ])
    .unwrap_err();
    let vars: Vec<_> = err.0.iter().map(|e| e.variable).collect();
    assert_eq!(
        vars,
        [
            "APP_ENV",
            "HOST",
            "PORT",
            "DATABASE_URL",
            "DATABASE_POOL_SIZE",
            "REQUEST_TIMEOUT_MS",
            "CORS_ALLOW_ORIGINS",
            "LOG_LEVEL",
            "MIGRATE_ON_START"
        ]
    );
    let text = err.to_string();
    assert!(text.contains("PORT must be a port number"), "{text}");
}

#[test]
fn the_password_never_appears_in_errors_or_debug() {
    let err =
        settings(&[("DATABASE_URL", "postgres://u:hunter2@host/db?sslmode=bogus")]).unwrap_err();
    assert!(!err.to_string().contains("hunter2"), "{err}");
    let s = settings(&[URL]).unwrap();
    let debug = format!("{s:?}");
    assert!(!debug.contains("s3cret"), "{debug}");
    assert!(
        debug.contains("postgres://app:***@db.internal:5433/backend"),
        "{debug}"
    );
}

#[test]
fn origins_are_exact() {
    let s = settings(&[
        URL,
        (
            "CORS_ALLOW_ORIGINS",
            "https://a.example, http://localhost:3000",
        ),
    ])
    .unwrap();
    assert_eq!(
        s.cors_allow_origins,
        ["https://a.example", "http://localhost:3000"]
    );
    for bad in ["https://a.example/path", "a.example", "https://"] {
        assert!(
            settings(&[URL, ("CORS_ALLOW_ORIGINS", bad)]).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn rust_log_overrides_log_level_and_is_checked() {
    let s = settings(&[
        URL,
        ("LOG_LEVEL", "warn"),
        ("RUST_LOG", "backend=debug,info"),
    ])
    .unwrap();
    assert_eq!(s.log_filter, "backend=debug,info");
    let err = settings(&[URL, ("RUST_LOG", "backend=[")]).unwrap_err();
    assert_eq!(err.0[0].variable, "RUST_LOG");
}

#[test]
fn bounds_are_enforced() {
    assert!(settings(&[URL, ("DATABASE_POOL_SIZE", "1001")]).is_err());
    assert!(settings(&[URL, ("REQUEST_BODY_LIMIT_BYTES", "0")]).is_err());
    assert!(settings(&[URL, ("DATABASE_POOL_TIMEOUT_MS", "0")]).is_err());
    assert_eq!(
        settings(&[URL, ("DATABASE_POOL_SIZE", "1000")])
            .unwrap()
            .pool_size,
        1000
    );
    assert_eq!(
        settings(&[URL, ("REQUEST_TIMEOUT_MS", "1")])
            .unwrap()
            .request_timeout,
        Duration::from_millis(1)
    );
}

#[test]
fn the_message_lists_each_variable_once_in_order() {
    let err = settings(&[("PORT", "x"), ("APP_ENV", "test")]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid settings: APP_ENV must be `dev` or `prod`, got \"test\"; \
         PORT must be a port number (0-65535), got \"x\"; \
         DATABASE_URL is required (e.g. postgres://user:password@localhost:5432/backend)"
    );
}

#[test]
fn a_database_url_must_parse_and_name_a_host() {
    let err =
        settings(&[("DATABASE_URL", "dbname=backend user=app password=hunter2")]).unwrap_err();
    assert_eq!(err.0[0].variable, "DATABASE_URL");
    assert_eq!(err.0[0].reason, "names no host");
    let err = settings(&[("DATABASE_URL", "postgres://app:hunter2@host:port/db")]).unwrap_err();
    assert!(
        err.0[0]
            .reason
            .starts_with("not a valid PostgreSQL connection string"),
        "{err}"
    );
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

#[test]
fn redaction_keeps_what_identifies_the_server() {
    let url = DatabaseUrl::parse("postgres://app@db.internal/backend").unwrap();
    assert_eq!(url.redacted(), "postgres://app@db.internal:5432/backend");
    assert_eq!(format!("{url:?}"), url.redacted());
    let mut config = tokio_postgres::Config::new();
    config.host_path("/run/postgresql").password("hunter2");
    assert_eq!(
        DatabaseUrl::from_config(config).redacted(),
        "postgres://:***@/run/postgresql:5432/"
    );
    assert_eq!(
        DatabaseUrl::from_config(tokio_postgres::Config::new()).redacted(),
        "postgres://@:5432/"
    );
}

#[test]
fn blank_values_mean_the_default() {
    let s = settings(&[URL, ("PORT", "  "), ("APP_ENV", ""), ("LOG_LEVEL", " ")]).unwrap();
    assert_eq!(s.bind.port(), 8000);
    assert_eq!(s.app_env, AppEnv::Dev);
    assert_eq!(s.log_filter, "info");
    let s = settings(&[URL, ("RUST_LOG", "  "), ("LOG_LEVEL", "debug")]).unwrap();
    assert_eq!(s.log_filter, "debug", "a blank RUST_LOG does not override");
}

#[test]
fn values_are_trimmed_and_host_accepts_localhost() {
    let s = settings(&[
        URL,
        ("HOST", "localhost"),
        ("PORT", " 9000 "),
        ("LOG_LEVEL", "WARN"),
    ])
    .unwrap();
    assert_eq!(s.bind, "127.0.0.1:9000".parse().unwrap());
    assert_eq!(s.log_filter, "warn");
    let s = settings(&[URL, ("HOST", "::"), ("PORT", "0")]).unwrap();
    assert_eq!(s.bind, "[::]:0".parse().unwrap());
}

#[test]
fn app_env_and_log_format_take_exactly_their_values() {
    let s = settings(&[URL, ("APP_ENV", "dev"), ("LOG_FORMAT", "json")]).unwrap();
    assert_eq!((s.app_env, s.log_format), (AppEnv::Dev, LogFormat::Json));
    let s = settings(&[URL, ("APP_ENV", "prod"), NONE]).unwrap();
    assert_eq!(s.app_env, AppEnv::Prod);
    let err = settings(&[URL, ("LOG_FORMAT", "text"), ("APP_ENV", "Prod")]).unwrap_err();
    let reasons: Vec<_> = err
        .0
        .iter()
        .map(|e| (e.variable, e.reason.as_str()))
        .collect();
    assert_eq!(
        reasons,
        [
            ("APP_ENV", "must be `dev` or `prod`, got \"Prod\""),
            ("LOG_FORMAT", "must be `pretty` or `json`, got \"text\""),
        ]
    );
}

#[test]
fn booleans_have_four_spellings_each() {
    for yes in ["true", "1", "yes", "on", "TRUE", "On"] {
        let s = settings(&[URL, ("APP_ENV", "prod"), NONE, ("MIGRATE_ON_START", yes)]).unwrap();
        assert!(s.migrate_on_start, "{yes}");
    }
    for no in ["false", "0", "no", "off", "False", "OFF"] {
        let s = settings(&[URL, ("MIGRATE_ON_START", no)]).unwrap();
        assert!(!s.migrate_on_start, "{no}");
    }
    let err = settings(&[URL, ("MIGRATE_ON_START", "y")]).unwrap_err();
    assert_eq!(err.0[0].reason, "must be `true` or `false`, got \"y\"");
}

#[test]
fn every_bound_is_inclusive() {
    let ok = |name: &str, value: &str| settings(&[URL, (name, value)]).is_ok();
    let cases = [
        ("DATABASE_POOL_SIZE", "1", "1000"),
        ("REQUEST_BODY_LIMIT_BYTES", "1", "67108864"),
        ("MAX_CONCURRENT_REQUESTS", "1", "1000000"),
        ("DATABASE_POOL_TIMEOUT_MS", "1", "86400000"),
        ("DATABASE_CONNECT_TIMEOUT_MS", "1", "86400000"),
        ("DATABASE_STATEMENT_TIMEOUT_MS", "1", "86400000"),
        ("REQUEST_TIMEOUT_MS", "1", "86400000"),
        ("SHUTDOWN_TIMEOUT_MS", "1", "86400000"),
        ("HEADER_READ_TIMEOUT_MS", "1", "86400000"),
    ];
    for (name, min, max) in cases {
        assert!(ok(name, min) && ok(name, max), "{name}: {min} and {max}");
        let below = (min.parse::<u64>().unwrap() - 1).to_string();
        let above = (max.parse::<u64>().unwrap() + 1).to_string();
        assert!(!ok(name, &below) && !ok(name, &above), "{name}");
        let err = settings(&[URL, (name, &above)]).unwrap_err();
        assert_eq!(
            err.0[0].reason,
            format!("must be an integer from {min} to {max}, got \"{above}\"")
        );
    }
    let s = settings(&[
        URL,
        ("REQUEST_BODY_LIMIT_BYTES", "67108864"),
        ("MAX_CONCURRENT_REQUESTS", "7"),
        ("HEADER_READ_TIMEOUT_MS", "86400000"),
        ("DATABASE_CONNECT_TIMEOUT_MS", "250"),
        ("DATABASE_STATEMENT_TIMEOUT_MS", "750"),
        ("SHUTDOWN_TIMEOUT_MS", "100"),
    ])
    .unwrap();
    assert_eq!(s.body_limit, 64 * 1024 * 1024);
    assert_eq!(s.max_concurrent_requests, 7);
    assert_eq!(s.header_read_timeout, Duration::from_secs(24 * 60 * 60));
    assert_eq!(s.connect_timeout, Duration::from_millis(250));
    assert_eq!(s.statement_timeout, Duration::from_millis(750));
    assert_eq!(s.shutdown_timeout, Duration::from_millis(100));
}

#[test]
fn origin_lists_skip_empty_entries_and_refuse_anything_inexact() {
    let s = settings(&[
        URL,
        (
            "CORS_ALLOW_ORIGINS",
            ",https://a.example,, http://[::1]:8080 ,",
        ),
    ])
    .unwrap();
    assert_eq!(
        s.cors_allow_origins,
        ["https://a.example", "http://[::1]:8080"]
    );
    for bad in [
        "ftp://a.example",
        "https://a_b.example",
        "https://a.example?x=1",
        "http://",
        "https://a.example, *",
    ] {
        let err = settings(&[URL, ("CORS_ALLOW_ORIGINS", bad)]).unwrap_err();
        assert!(
            err.0[0].reason.starts_with("must list exact origins"),
            "{bad}: {err}"
        );
    }
}

#[test]
fn settings_for_a_database_are_the_defaults() {
    let url = DatabaseUrl::parse("postgres://app:s3cret@h/db").unwrap();
    let s = Settings::for_database(url);
    assert_eq!(s.database.redacted(), "postgres://app:***@h:5432/db");
    assert_eq!(s.pool_size, 16);
    assert_eq!(s.max_concurrent_requests, 512);
    assert_eq!(s.header_read_timeout, Duration::from_secs(5));
}

#[test]
fn database_statement_cache_and_migration_lock_timeout() {
    let s = settings(&[URL]).unwrap();
    assert!(s.statement_cache, "named and cached by default");
    assert_eq!(s.migrate_lock_timeout, Duration::from_secs(5));
    let s = settings(&[
        URL,
        ("DATABASE_STATEMENT_CACHE", "off"),
        ("MIGRATE_LOCK_TIMEOUT_MS", "250"),
    ])
    .unwrap();
    assert!(!s.statement_cache);
    assert_eq!(s.migrate_lock_timeout, Duration::from_millis(250));
    let err = settings(&[URL, ("DATABASE_STATEMENT_CACHE", "false")]).unwrap_err();
    assert_eq!(err.0[0].variable, "DATABASE_STATEMENT_CACHE");
    assert!(err.0[0].reason.contains("`on` or `off`"), "{err}");
}

#[test]
fn libpq_ssl_modes_are_understood() {
    use crate::config::SslMode;
    let mode = |q: &str| {
        settings(&[("DATABASE_URL", &format!("postgres://app:s3cret@db/x{q}"))])
            .map(|s| s.database.tls.mode)
    };
    assert_eq!(mode("").unwrap(), SslMode::Prefer);
    assert_eq!(mode("?sslmode=disable").unwrap(), SslMode::Disable);
    assert_eq!(mode("?sslmode=require").unwrap(), SslMode::Require);
    assert_eq!(mode("?sslmode=verify-ca").unwrap(), SslMode::VerifyCa);
    assert_eq!(
        mode("?sslmode=verify-full&channel_binding=require").unwrap(),
        SslMode::VerifyFull
    );
    let err = mode("?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem").unwrap_err();
    assert!(err.to_string().contains("sslrootcert"), "{err}");
    assert!(!err.to_string().contains("s3cret"), "{err}");
}
