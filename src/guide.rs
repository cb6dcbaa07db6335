//! Guides for people: getting started, development, and the HTTP API
//! reference, rendered into the docs site beside the code reference by
//! `make docs-build`.
//!
//! Each module here is one page and holds no code. Its text is the Markdown
//! file in the repository (`CONTRIBUTING.md`, `docs/development.md`,
//! `README.md`), included at build time, so the repository and the site show
//! one text, and rustdoc checks its links to the code (`-D warnings`).
//!
//! The module exists only for rustdoc (`cfg(doc)`): the binary needs none of
//! it, and the image's builder copies `src/` without the Markdown files.
//!
//! - [`getting_started`]: from a fresh machine to a green `make check`.
//! - [`development`]: the Makefile recipes and the architecture.
//! - [`http_api`]: the HTTP API reference, rendered from the OpenAPI document.
//! - [`overview`]: the README: the API at a glance, operations, deployment.
//! - [`api`]: the HTTP contract in words.
//! - [`authentication`], [`deployment`], [`observability`]: running it.
//! - [`performance`], [`quality`]: the measurements and how to repeat them.
//! - [`security`]: the threat model and the defences.

#![cfg(doc)]

#[doc = include_str!("../CONTRIBUTING.md")]
pub mod getting_started {}

#[doc = include_str!("../docs/development.md")]
pub mod development {}

#[doc = include_str!("../README.md")]
pub mod overview {}

#[doc = include_str!("../docs/api.md")]
pub mod api {}

#[doc = include_str!("../docs/authentication.md")]
pub mod authentication {}

#[doc = include_str!("../docs/deployment.md")]
pub mod deployment {}

#[doc = include_str!("../docs/observability.md")]
pub mod observability {}

#[doc = include_str!("../docs/performance.md")]
pub mod performance {}

#[doc = include_str!("../docs/quality.md")]
pub mod quality {}

#[doc = include_str!("../SECURITY.md")]
pub mod security {}

/// # HTTP API reference
///
/// The HTTP contract is the OpenAPI 3.1 document the service serves at
/// `GET /api/v1/openapi.json` (and renders with Swagger UI at `GET /docs`).
/// The docs site carries a copy, exported by `backend openapi`:
///
/// - <a href="../../../http-api.html">the HTTP API reference page</a>: every
///   operation with its parameters, body and responses, and every schema;
/// - <a href="../../../openapi.json">openapi.json</a>, for clients' code
///   generators and API tools.
///
/// The document is assembled by [`crate::openapi::document`] from each
/// resource's own fragment (e.g. [`crate::users::openapi`]), written next to
/// the types it describes; tests hold it to the router, to the JSON the
/// types produce and to the error codes of [`crate::error::AppError`].
pub mod http_api {}
