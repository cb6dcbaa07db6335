//! Load shedding: at most `MAX_CONCURRENT_REQUESTS` requests are served at
//! once; the next one gets a 503 with `retry-after` at once instead of
//! queueing without bound.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::Request;
use tokio::sync::Semaphore;
use tower::{Layer, Service};

use crate::error::AppError;
use crate::{BoxFuture, Response};

/// Applies [`LoadShedService`], sharing one budget across all connections.
#[derive(Debug, Clone)]
pub struct LoadShedLayer {
    permits: Arc<Semaphore>,
}

impl LoadShedLayer {
    /// A layer admitting at most `max` concurrent requests.
    pub fn new(max: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(max)),
        }
    }
}

impl<S> Layer<S> for LoadShedLayer {
    type Service = LoadShedService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        LoadShedService {
            inner,
            permits: Arc::clone(&self.permits),
        }
    }
}

/// Admits a request if a permit is free, refuses it otherwise.
#[derive(Debug, Clone)]
pub struct LoadShedService<S> {
    inner: S,
    permits: Arc<Semaphore>,
}

impl<S, B> Service<Request<B>> for LoadShedService<S>
where
    S: Service<Request<B>, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let Ok(permit) = Arc::clone(&self.permits).try_acquire_owned() else {
            return Box::pin(std::future::ready(Ok(
                AppError::overloaded().into_response()
            )));
        };
        let future = self.inner.call(req);
        Box::pin(async move {
            let response = future.await;
            drop(permit);
            response
        })
    }
}
