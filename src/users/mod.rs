//! The users resource: `/api/v1/users` and `/api/v1/users/{id}`.
//!
//! `handlers` speak HTTP, `service` holds the rules, `repository` the SQL,
//! `model` the types, `cursor` the pagination token.

pub mod cursor;
pub mod handlers;
pub mod model;
pub mod repository;
pub mod service;

use http::Method;

use crate::AppState;
use crate::router::{RouteTable, endpoint};

/// The collection path.
pub const COLLECTION: &str = "/api/v1/users";
/// The item path template.
pub const ITEM: &str = "/api/v1/users/{id}";

/// Adds the five user operations to `table`.
pub fn routes(table: RouteTable, state: &AppState) -> RouteTable {
    table
        .route(COLLECTION, Method::POST, endpoint(state, handlers::create))
        .route(COLLECTION, Method::GET, endpoint(state, handlers::list))
        .route(ITEM, Method::GET, endpoint(state, handlers::get))
        .route(ITEM, Method::PATCH, endpoint(state, handlers::update))
        .route(ITEM, Method::DELETE, endpoint(state, handlers::delete))
}
