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
pub mod seed;
pub mod service;

use http::Method;

use crate::resource::Resource;
use crate::router::{Access, RouteTable, endpoint};
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
    jobs: None,
};

/// Reading users (GET and HEAD).
pub const READ: Access = Access::Scope("users:read");
/// Changing users (POST, PATCH, DELETE); it does not imply [`READ`].
pub const WRITE: Access = Access::Scope("users:write");

/// Adds the five user operations to `table`.
pub fn routes(table: RouteTable, state: &AppState) -> RouteTable {
    table
        .route(
            COLLECTION,
            Method::POST,
            WRITE,
            endpoint(state, handlers::create),
        )
        .route(
            COLLECTION,
            Method::GET,
            READ,
            endpoint(state, handlers::list),
        )
        .route(ITEM, Method::GET, READ, endpoint(state, handlers::get))
        .route(
            ITEM,
            Method::PATCH,
            WRITE,
            endpoint(state, handlers::update),
        )
        .route(
            ITEM,
            Method::DELETE,
            WRITE,
            endpoint(state, handlers::delete),
        )
}
