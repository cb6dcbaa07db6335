//! Small HTTP helpers shared by endpoints: JSON responses, JSON bodies,
//! query strings and path parameters.

pub mod body;
pub mod path;
pub mod query;
pub mod response;
