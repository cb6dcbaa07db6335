//! Load shedding: at most `MAX_CONCURRENT_REQUESTS` requests are served at
//! once; the next one gets a 503 with `retry-after` at once instead of
//! queueing without bound.
//!
//! The probes are exempt (the paths given to [`LoadShedLayer::exempt`]): a
//! liveness check that fails because the service is busy would get a healthy
//! process restarted. The layer sits inside the body limit, so a request
//! takes its place only once its body has arrived.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use http::Request;
use tower::{Layer, Service};

use super::future::{AnswerOr, Finish, Finishing};
use crate::error::AppError;
use crate::http::Response;

/// How many requests are in flight, out of how many allowed; shared by
/// every connection.
///
/// A counter rather than a semaphore: requests never wait for a place, and
/// giving a semaphore permit back takes its waiters' lock every time.
#[derive(Debug)]
struct Budget {
    in_flight: AtomicUsize,
    max: usize,
}

impl Budget {
    /// A place for one more request, unless `max` are in flight.
    fn try_admit(self: &Arc<Self>) -> Option<Admission> {
        let mut current = self.in_flight.load(Ordering::Relaxed);
        loop {
            if current >= self.max {
                return None;
            }
            match self.in_flight.compare_exchange_weak(
                current,
                current + 1,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(Admission(Arc::clone(self))),
                Err(actual) => current = actual,
            }
        }
    }
}

/// One admitted request's place in the budget, given back on drop: when the
/// response is ready, or when the request is abandoned.
#[derive(Debug)]
pub struct Admission(Arc<Budget>);

impl Finish for Option<Admission> {
    fn finish(self, _response: &mut Response) {}
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Release);
    }
}

/// Applies [`LoadShedService`], sharing one budget across all connections.
#[derive(Debug, Clone)]
pub struct LoadShedLayer {
    budget: Arc<Budget>,
    exempt: &'static [&'static str],
}

impl LoadShedLayer {
    /// A layer admitting at most `max` concurrent requests.
    pub fn new(max: usize) -> Self {
        Self {
            budget: Arc::new(Budget {
                in_flight: AtomicUsize::new(0),
                max,
            }),
            exempt: &[],
        }
    }

    /// Requests for exactly these paths are never shed nor counted.
    #[must_use]
    pub fn exempt(mut self, paths: &'static [&'static str]) -> Self {
        self.exempt = paths;
        self
    }
}

impl<S> Layer<S> for LoadShedLayer {
    type Service = LoadShedService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        LoadShedService {
            inner,
            budget: Arc::clone(&self.budget),
            exempt: self.exempt,
        }
    }
}

/// Admits a request if the budget has a place, refuses it otherwise.
#[derive(Debug, Clone)]
pub struct LoadShedService<S> {
    inner: S,
    budget: Arc<Budget>,
    exempt: &'static [&'static str],
}

impl<S, B> Service<Request<B>> for LoadShedService<S>
where
    S: Service<Request<B>, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = AnswerOr<Finishing<S::Future, Option<Admission>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        if self.exempt.contains(&req.uri().path()) {
            return AnswerOr::inner(Finishing::new(self.inner.call(req), None));
        }
        match self.budget.try_admit() {
            Some(admission) => {
                AnswerOr::inner(Finishing::new(self.inner.call(req), Some(admission)))
            }
            None => AnswerOr::answer(AppError::overloaded().into_response()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_up_to_the_budget_and_again_once_places_are_given_back() {
        let budget = Arc::new(Budget {
            in_flight: AtomicUsize::new(0),
            max: 2,
        });
        let first = budget.try_admit().expect("first");
        let second = budget.try_admit().expect("second");
        assert!(budget.try_admit().is_none(), "over the budget");
        drop(first);
        let third = budget.try_admit().expect("a place was given back");
        assert!(budget.try_admit().is_none());
        drop((second, third));
        assert_eq!(budget.in_flight.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn concurrent_admissions_never_exceed_the_budget() {
        let budget = Arc::new(Budget {
            in_flight: AtomicUsize::new(0),
            max: 3,
        });
        let peak = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (budget, peak) = (Arc::clone(&budget), Arc::clone(&peak));
                std::thread::spawn(move || {
                    let mut admitted = 0;
                    for _ in 0..20_000 {
                        if let Some(admission) = budget.try_admit() {
                            let now = budget.in_flight.load(Ordering::Relaxed);
                            peak.fetch_max(now, Ordering::Relaxed);
                            admitted += 1;
                            drop(admission);
                        }
                    }
                    admitted
                })
            })
            .collect();
        let admitted: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert!(admitted > 0);
        assert!(peak.load(Ordering::Relaxed) <= 3, "{peak:?}");
        assert_eq!(budget.in_flight.load(Ordering::Relaxed), 0);
    }
}
