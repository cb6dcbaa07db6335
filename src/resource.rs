//! A resource: what a feature folder contributes to the service.

use std::fmt;

use crate::config::Settings;
use crate::db::Pool;
use crate::error::BoxError;
use crate::jobs::Handlers;
use crate::openapi::Document;
use crate::router::RouteTable;
use crate::state::AppState;

/// A feature's contribution to the service: its routes, its part of the
/// OpenAPI document, and the job kinds its worker side runs.
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
    /// The handlers of the job kinds it enqueues, given the worker's
    /// settings and pool (`None`: it has no jobs).
    pub jobs: Option<JobHandlers>,
}

/// Builds a resource's job handlers from the worker's settings and pool.
pub type JobHandlers = fn(&Settings, Pool) -> Result<Handlers, BoxError>;

impl fmt::Debug for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resource")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}
