//! Integration tests: the real service over real sockets against a real
//! PostgreSQL, each test in a database of its own.
//!
//! One test binary (one link step); `make test` provisions the server, or set
//! `TEST_DATABASE_URL` to an existing one.

#![allow(unreachable_pub)]

mod common;

mod api_doc;
mod auth_keys;
mod auth_logs;
mod auth_oidc_provider;
mod auth_provider;
mod auth_routes;
mod auth_signer;
mod auth_tokens;
mod body_limit;
mod cache_control;
mod chaos;
mod cli;
mod connections;
mod db_error_log;
mod db_stall;
mod db_tls;
mod driver_errors;
mod errors;
mod health;
mod hostile;
mod hostile_network;
mod jobs_faults;
mod jobs_lease;
mod jobs_restarts;
mod lame_duck;
mod lifecycle;
mod load;
mod logging;
mod migrate_locks;
mod migration_runner;
mod migrations;
mod oidc_node;
mod openapi;
mod openapi_cli;
mod pgbouncer;
mod problem_caps;
mod protocol;
mod request_id;
mod rolling_restart;
mod security;
mod seed;
mod settings;
mod telemetry_deliveries;
mod telemetry_metrics;
mod telemetry_receiver;
mod telemetry_traces;
mod text_rules;
mod tls;
mod users_create;
mod users_item;
mod users_list;
mod webhooks_crud;
mod webhooks_delivery;
mod webhooks_receiver;
