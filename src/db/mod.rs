//! The database: the connection pool, TLS, and the schema's migrations.

pub mod migrate;
pub mod pool;
pub mod tls;

pub use pool::{Pool, build_pool};
