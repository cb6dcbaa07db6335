//! A resource: what a feature folder contributes to the service.

use std::fmt;

use crate::openapi::Document;
use crate::router::RouteTable;
use crate::state::AppState;

/// A feature's contribution to the service: its routes and its part of the
/// OpenAPI document.
///
/// Adding a resource is a folder that exports one of these, its migration,
/// its tests, and one line in [`crate::app::RESOURCES`].
#[derive(Clone, Copy)]
pub struct Resource {
    /// A short name, for messages.
    pub name: &'static str,
    /// Adds the resource's routes to the table.
    pub routes: fn(RouteTable, &AppState) -> RouteTable,
    /// Adds the resource's paths, tags and schemas to the document.
    pub openapi: fn(&mut Document),
}

impl fmt::Debug for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resource")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}
