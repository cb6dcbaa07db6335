//! The webhooks resource: subscriptions to user events
//! (`/api/v1/webhooks`, `/api/v1/webhooks/{id}`), their deliveries
//! (`/api/v1/webhooks/{id}/deliveries`), and the delivery job that the
//! worker runs.
//!
//! `handlers` speak HTTP, `input` reads requests into commands, `service`
//! carries them out, `repository` holds the SQL, `model` the types, and
//! `openapi` describes it all. `outbox` is how other resources publish
//! events; `delivery` sends them (through `client`, signed by `signature`,
//! refusing special-purpose `address`es).

pub mod address;
pub mod client;
pub mod delivery;
pub mod handlers;
pub mod input;
pub mod metrics;
pub mod model;
pub mod openapi;
pub mod outbox;
pub mod repository;
pub mod service;
pub mod signature;

use http::Method;

use crate::resource::Resource;
use crate::router::{Access, RouteTable, endpoint};
use crate::state::AppState;

/// The collection path.
pub const COLLECTION: &str = "/api/v1/webhooks";
/// The item path template.
pub const ITEM: &str = "/api/v1/webhooks/{id}";
/// The deliveries path template.
pub const DELIVERIES: &str = "/api/v1/webhooks/{id}/deliveries";

/// The webhooks resource, as the app lists it.
pub const RESOURCE: Resource = Resource {
    name: "webhooks",
    routes,
    openapi: openapi::describe,
    jobs: Some(delivery::Delivery::handlers),
};

/// Reading subscriptions and deliveries (GET and HEAD).
pub const READ: Access = Access::Scope("webhooks:read");
/// Changing subscriptions (POST, PATCH, DELETE); it does not imply [`READ`].
pub const WRITE: Access = Access::Scope("webhooks:write");

/// Adds the six webhook operations to `table`.
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
        .route(
            DELIVERIES,
            Method::GET,
            READ,
            endpoint(state, handlers::deliveries),
        )
}
