//! The database: the connection pool and (with migrations) the schema.

pub mod pool;
pub mod tls;

pub use pool::{Pool, build_pool};
