//! The users resource: `/api/v1/users` and `/api/v1/users/{id}`.
//!
//! `handlers` speak HTTP, `input` reads requests into commands, `service`
//! carries them out, `repository` holds the SQL, `model` the types, and
//! `openapi` describes it all.

pub mod handlers;
pub mod input;
pub mod model;
pub mod openapi;
pub mod repository;
pub mod service;

use http::Method;

use crate::resource::Resource;
use crate::router::{RouteTable, endpoint};
use crate::state::AppState;

/// The collection path.
pub const COLLECTION: &str = "/api/v1/users";
/// The item path template.
pub const ITEM: &str = "/api/v1/users/{id}";

/// The users resource, as the app lists it.
pub const RESOURCE: Resource = Resource {
    name: "users",
    routes,
    openapi: openapi::describe,
};

/// Adds the five user operations to `table`.
pub fn routes(table: RouteTable, state: &AppState) -> RouteTable {
    table
        .route(COLLECTION, Method::POST, endpoint(state, handlers::create))
        .route(COLLECTION, Method::GET, endpoint(state, handlers::list))
        .route(ITEM, Method::GET, endpoint(state, handlers::get))
        .route(ITEM, Method::PATCH, endpoint(state, handlers::update))
        .route(ITEM, Method::DELETE, endpoint(state, handlers::delete))
}
