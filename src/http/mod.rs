//! What endpoints and layers share about HTTP: the request and response
//! types, reading JSON bodies and query strings strictly, path parameters,
//! the keyset cursor, and JSON responses.
//!
//! Everything here is generic over the resource: a resource names its
//! members and parameters, these modules do the reading and the reporting.

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use http_body_util::Full;

pub mod body;
pub mod cursor;
pub mod members;
pub mod path;
pub mod query;
pub mod response;

/// A request as endpoints see it: the body already read and bounded.
pub type Request = ::http::Request<Bytes>;

/// A response: every body in this service is buffered.
pub type Response = ::http::Response<Full<Bytes>>;

/// A boxed, sendable future, the return type of the layers' services.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// A closed set of names a resource accepts: the members of its JSON bodies
/// or the parameters of its query strings, as an enum.
///
/// The readers ([`members::read`], [`query::read`]) find the value for each
/// name; the resource's parser then matches the enum exhaustively, so a new
/// name cannot be forgotten by a catch-all arm.
pub trait Names: Copy + PartialEq + Sized + 'static {
    /// Every name with its value.
    const ALL: &'static [(&'static str, Self)];

    /// The value named `name`, if there is one.
    fn named(name: &str) -> Option<Self> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, m)| *m)
    }

    /// The name of this value.
    fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, m)| *m == self)
            .map_or("", |(n, _)| n)
    }
}
