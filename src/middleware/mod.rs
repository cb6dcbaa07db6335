//! The layers every request passes through, one file each.
//!
//! They are composed, outermost first, in [`crate::app::app`]; the
//! order is part of the contract (e.g. the request id must be outermost so
//! responses built by every other layer carry it).

pub mod access_log;
pub mod body_limit;
pub mod cache_control;
pub mod catch_panic;
pub mod cors;
pub mod future;
pub mod head;
pub mod load_shed;
pub mod problem;
pub mod request_id;
pub mod timeout;
