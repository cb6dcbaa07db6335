//! The body limit: reads the whole request body, up to
//! `REQUEST_BODY_LIMIT_BYTES`, before routing; anything larger gets a 413.
//!
//! A declared `content-length` over the limit is refused without reading a
//! byte; a chunked body is refused as soon as it crosses the limit. Endpoints
//! then see a plain [`Bytes`] body, already bounded. A body not complete by
//! the request's deadline is a 408: the client stalled, or declared more
//! bytes than it sent. So is one that, after `REQUEST_BODY_GRACE_MS`,
//! arrives slower than `REQUEST_BODY_MIN_RATE` bytes per second on average
//! (as Kestrel's minimum request body data rate): a trickling upload ends
//! within seconds instead of holding its connection for the whole request
//! deadline. Bodies are read before load shedding admits the request, so a
//! stalled upload never holds a place in the concurrency budget.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::{Request, header};
use http_body::Body;
use http_body_util::BodyExt;
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use super::future::Answer;
use super::timeout::RequestDeadline;
use crate::error::{AppError, BoxError};
use crate::http::{BoxFuture, Response};

/// How a body must arrive: at most `limit` bytes, at a minimum pace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyRules {
    /// The most bytes a body may have.
    pub limit: usize,
    /// The average bytes per second a body must keep up after `grace`
    /// (0: no minimum).
    pub min_rate: u64,
    /// How long a body may arrive at any pace.
    pub grace: Duration,
}

/// Applies [`BodyLimitService`].
#[derive(Debug, Clone, Copy)]
pub struct BodyLimitLayer {
    rules: BodyRules,
}

impl BodyLimitLayer {
    /// A layer reading bodies by `rules`.
    pub fn new(rules: BodyRules) -> Self {
        Self { rules }
    }
}

impl<S> Layer<S> for BodyLimitLayer {
    type Service = BodyLimitService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BodyLimitService {
            inner,
            rules: self.rules,
        }
    }
}

/// Collects the body into [`Bytes`] within the limit and the pace.
#[derive(Debug, Clone)]
pub struct BodyLimitService<S> {
    inner: S,
    rules: BodyRules,
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
        let rules = self.rules;
        let limit = rules.limit;
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
                    let bytes = match read(body, rules, deadline).await {
                        Ok(bytes) => bytes,
                        Err(refusal) => return Ok(refusal.into_response()),
                    };
                    inner.call(Request::from_parts(parts, bytes)).await
                }),
            },
        }
    }
}

/// How often a slow body's pace is checked once the grace period is over.
const PACE_CHECK: Duration = Duration::from_secs(1);

/// Reads `body` by `rules` before `deadline`: its bytes, or the refusal
/// (413 too large, 408 too slow or not done by the deadline, 400 broken).
async fn read<B>(
    body: B,
    rules: BodyRules,
    deadline: Option<tokio::time::Instant>,
) -> Result<Bytes, AppError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let started = tokio::time::Instant::now();
    let deadline = deadline.unwrap_or(started + Duration::from_secs(24 * 60 * 60));
    let paced = rules.min_rate > 0;
    let mut next_check = started + rules.grace;
    // A body usually arrives in one frame, kept as it is; only a second
    // frame makes a copy.
    let mut first: Option<Bytes> = None;
    let mut more = BytesMut::new();
    let mut received = 0usize;
    tokio::pin!(body);
    loop {
        let wake = if paced {
            next_check.min(deadline)
        } else {
            deadline
        };
        match tokio::time::timeout_at(wake, body.frame()).await {
            Ok(None) => return Ok(first.unwrap_or_else(|| more.freeze())),
            Ok(Some(Err(_))) => {
                return Err(AppError::MalformedBody(
                    "the request body could not be read".into(),
                ));
            }
            Ok(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    received += data.len();
                    if received > rules.limit {
                        return Err(AppError::PayloadTooLarge(rules.limit));
                    }
                    if first.is_none() && more.is_empty() {
                        first = Some(data);
                    } else {
                        if let Some(first) = first.take() {
                            more.extend_from_slice(&first);
                        }
                        more.extend_from_slice(&data);
                    }
                }
            }
            Err(_elapsed) => {
                let now = tokio::time::Instant::now();
                if now >= deadline {
                    return Err(AppError::BodyTimeout);
                }
                let elapsed = now.duration_since(started).as_secs_f64();
                #[allow(clippy::cast_precision_loss)] // bodies are far below 2^52 bytes
                let pace = received as f64 / elapsed;
                #[allow(clippy::cast_precision_loss)]
                if pace < rules.min_rate as f64 {
                    return Err(AppError::BodyTimeout);
                }
                next_check = now + PACE_CHECK;
            }
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
