//! The body limit: reads the whole request body, up to
//! `REQUEST_BODY_LIMIT_BYTES`, before routing; anything larger gets a 413.
//!
//! A declared `content-length` over the limit is refused without reading a
//! byte; a chunked body is refused as soon as it crosses the limit. Endpoints
//! then see a plain [`Bytes`] body, already bounded. A body not complete by
//! the request's deadline is a 408: the client stalled, or declared more
//! bytes than it sent.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, header};
use http_body::Body;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use super::future::Answer;
use super::timeout::RequestDeadline;
use crate::error::{AppError, BoxError};
use crate::http::{BoxFuture, Response};

/// Applies [`BodyLimitService`].
#[derive(Debug, Clone, Copy)]
pub struct BodyLimitLayer {
    limit: usize,
}

impl BodyLimitLayer {
    /// A layer refusing bodies larger than `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self { limit }
    }
}

impl<S> Layer<S> for BodyLimitLayer {
    type Service = BodyLimitService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BodyLimitService {
            inner,
            limit: self.limit,
        }
    }
}

/// Collects the body into [`Bytes`] within the limit.
#[derive(Debug, Clone)]
pub struct BodyLimitService<S> {
    inner: S,
    limit: usize,
}

impl<S, B> Service<Request<B>> for BodyLimitService<S>
where
    S: Service<Request<Bytes>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BodyLimitFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let limit = self.limit;
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return BodyLimitFuture {
                state: BodyLimitState::Refused {
                    answer: Answer::new(AppError::PayloadTooLarge(limit).into_response()),
                },
            };
        }
        let deadline = req.extensions().get::<RequestDeadline>().map(|d| d.0);
        let (parts, body) = req.into_parts();
        if body.is_end_stream() {
            return BodyLimitFuture {
                state: BodyLimitState::Inner {
                    inner: self.inner.call(Request::from_parts(parts, Bytes::new())),
                },
            };
        }
        // The inner service is called only once the body is in; take a ready
        // clone so `self` stays usable, as tower's contract asks.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        BodyLimitFuture {
            state: BodyLimitState::Collecting {
                future: Box::pin(async move {
                    let collect = Limited::new(body, limit).collect();
                    let collected = match deadline {
                        Some(deadline) => match tokio::time::timeout_at(deadline, collect).await {
                            Ok(result) => result,
                            Err(_) => return Ok(AppError::BodyTimeout.into_response()),
                        },
                        None => collect.await,
                    };
                    let bytes = match collected {
                        Ok(collected) => collected.to_bytes(),
                        Err(e) if e.is::<LengthLimitError>() => {
                            return Ok(AppError::PayloadTooLarge(limit).into_response());
                        }
                        Err(_) => {
                            return Ok(AppError::MalformedBody(
                                "the request body could not be read".into(),
                            )
                            .into_response());
                        }
                    };
                    inner.call(Request::from_parts(parts, bytes)).await
                }),
            },
        }
    }
}

pin_project! {
    /// The response of [`BodyLimitService`].
    pub struct BodyLimitFuture<F> {
        #[pin]
        state: BodyLimitState<F>,
    }
}

pin_project! {
    #[project = BodyLimitProjection]
    enum BodyLimitState<F> {
        /// No body to read: straight to the inner service.
        Inner {
            #[pin]
            inner: F,
        },
        /// Reading the body, then calling the inner service.
        Collecting {
            future: BoxFuture<Result<Response, Infallible>>,
        },
        /// Refused before reading; the 413, taken when polled.
        Refused {
            answer: Answer,
        },
    }
}

impl<F> Future for BodyLimitFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            BodyLimitProjection::Inner { inner } => inner.poll(cx),
            BodyLimitProjection::Collecting { future } => future.as_mut().poll(cx),
            BodyLimitProjection::Refused { answer } => Pin::new(answer).poll(cx),
        }
    }
}
