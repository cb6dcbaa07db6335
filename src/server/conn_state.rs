//! What one connection's service and its drain watcher share: requests in
//! flight, requests answered, and whether to close after the next answer.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// One client connection's request counts, shared (in an `Arc`) by its
/// [`super::glue::ConnectionService`] and its [`super::drain::Watched`].
#[derive(Debug, Default)]
pub struct ConnState {
    in_flight: AtomicUsize,
    served: AtomicUsize,
    closing: AtomicBool,
}

impl ConnState {
    /// A request was handed to the app.
    pub fn started(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    /// A request's response is ready (or the request was abandoned).
    pub fn finished(&self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.served.fetch_add(1, Ordering::Relaxed);
    }

    /// Requests handed to the app and not yet answered.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Requests answered so far on this connection.
    pub fn served(&self) -> usize {
        self.served.load(Ordering::Relaxed)
    }

    /// From now on, answers carry `connection: close` (HTTP/1.1): the
    /// connection ends after its next answer.
    pub fn close_after_next(&self) {
        self.closing.store(true, Ordering::Relaxed);
    }

    /// Whether answers must carry `connection: close`.
    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_requests_in_flight_and_answered() {
        let state = ConnState::default();
        state.started();
        state.started();
        assert_eq!((state.in_flight(), state.served()), (2, 0));
        state.finished();
        assert_eq!((state.in_flight(), state.served()), (1, 1));
        assert!(!state.is_closing());
        state.close_after_next();
        assert!(state.is_closing());
    }
}
