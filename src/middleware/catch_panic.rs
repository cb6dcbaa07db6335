//! The panic catcher: a panic in any inner layer or endpoint becomes a 500
//! problem for that request; the connection and the process carry on.
//!
//! Our own rather than tower-http's so the 500 is an [`AppError`] rendered
//! like every other error, with the request id.

use std::any::Any;
use std::convert::Infallible;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Request;
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use super::future::Answer;
use crate::error::AppError;
use crate::http::Response;

/// Applies [`CatchPanicService`].
#[derive(Debug, Clone, Copy, Default)]
pub struct CatchPanicLayer;

impl<S> Layer<S> for CatchPanicLayer {
    type Service = CatchPanicService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CatchPanicService { inner }
    }
}

/// Turns panics of the inner service into 500 responses.
#[derive(Debug, Clone)]
pub struct CatchPanicService<S> {
    inner: S,
}

impl<S, B> Service<Request<B>> for CatchPanicService<S>
where
    S: Service<Request<B>, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = CatchPanicFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        match catch_unwind(AssertUnwindSafe(|| self.inner.call(req))) {
            Ok(inner) => CatchPanicFuture {
                state: CatchPanicState::Running { inner },
            },
            Err(payload) => CatchPanicFuture {
                state: CatchPanicState::Panicked {
                    answer: Answer::new(panic_response(&payload)),
                },
            },
        }
    }
}

pin_project! {
    /// The response of [`CatchPanicService`]: the inner one, or a 500 if
    /// calling or polling it panicked.
    pub struct CatchPanicFuture<F> {
        #[pin]
        state: CatchPanicState<F>,
    }
}

pin_project! {
    #[project = CatchPanicProjection]
    enum CatchPanicState<F> {
        /// The inner future, polled under `catch_unwind`.
        Running {
            #[pin]
            inner: F,
        },
        /// The call panicked; the 500, taken when polled.
        Panicked {
            answer: Answer,
        },
    }
}

impl<F> Future for CatchPanicFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            CatchPanicProjection::Running { inner } => {
                match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
                    Ok(poll) => poll,
                    Err(payload) => Poll::Ready(Ok(panic_response(&payload))),
                }
            }
            CatchPanicProjection::Panicked { answer } => Pin::new(answer).poll(cx),
        }
    }
}

fn panic_response(payload: &Box<dyn Any + Send>) -> Response {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic with a non-string payload".to_owned());
    AppError::internal(format!("handler panicked: {message}")).into_response()
}
