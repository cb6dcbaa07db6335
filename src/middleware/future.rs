//! The two futures the layers share: an answer given without the inner
//! service, and the inner service's response finished by the layer.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;

use crate::http::Response;

/// A response decided without calling the inner service (a refusal, a
/// preflight, a panic's 500, the router's 404), ready when polled.
///
/// Boxed: these are rare, and inline they would set the size of every
/// request's future.
#[derive(Debug)]
pub struct Answer(Option<Box<Response>>);

impl Answer {
    /// Answers with `response`.
    pub fn new(response: Response) -> Self {
        Self(Some(Box::new(response)))
    }
}

impl Future for Answer {
    type Output = Result<Response, Infallible>;

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Self::Output> {
        Poll::Ready(Ok(*self.0.take().expect("polled after completion")))
    }
}

/// What a layer does to the inner service's response once it is ready.
pub trait Finish {
    /// Changes `response` on its way out.
    fn finish(self, response: &mut Response);
}

pin_project! {
    /// The inner service's response, changed by `finish` when it is ready.
    pub struct Finishing<F, D> {
        #[pin]
        inner: F,
        finish: Option<D>,
    }
}

impl<F, D> Finishing<F, D> {
    /// `inner`'s response, to be finished by `finish`.
    pub fn new(inner: F, finish: D) -> Self {
        Self {
            inner,
            finish: Some(finish),
        }
    }
}

impl<F, D> Future for Finishing<F, D>
where
    F: Future<Output = Result<Response, Infallible>>,
    D: Finish,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.inner.poll(cx))?;
        if let Some(finish) = this.finish.take() {
            finish.finish(&mut response);
        }
        Poll::Ready(Ok(response))
    }
}

pin_project! {
    /// Either an [`Answer`] given at once or the inner service's future.
    pub struct AnswerOr<F> {
        #[pin]
        state: AnswerOrState<F>,
    }
}

pin_project! {
    #[project = AnswerOrProjection]
    enum AnswerOrState<F> {
        Answer { answer: Answer },
        Inner { #[pin] inner: F },
    }
}

impl<F> AnswerOr<F> {
    /// Answers with `response`, without the inner service.
    pub fn answer(response: Response) -> Self {
        Self {
            state: AnswerOrState::Answer {
                answer: Answer::new(response),
            },
        }
    }

    /// The inner service's future.
    pub fn inner(inner: F) -> Self {
        Self {
            state: AnswerOrState::Inner { inner },
        }
    }
}

impl<F> Future for AnswerOr<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            AnswerOrProjection::Answer { answer } => Pin::new(answer).poll(cx),
            AnswerOrProjection::Inner { inner } => inner.poll(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use http::StatusCode;

    use super::*;

    /// Counts its calls and marks the response with a header.
    struct Mark(Arc<AtomicUsize>);

    impl Finish for Mark {
        fn finish(self, response: &mut Response) {
            self.0.fetch_add(1, Ordering::SeqCst);
            response
                .headers_mut()
                .insert("x-finished", http::HeaderValue::from_static("yes"));
        }
    }

    fn with_status(status: StatusCode) -> Response {
        let mut response = Response::default();
        *response.status_mut() = status;
        response
    }

    #[tokio::test]
    async fn the_finish_runs_once_when_the_inner_response_is_ready() {
        let calls = Arc::new(AtomicUsize::new(0));
        let inner = async {
            tokio::task::yield_now().await;
            Ok(with_status(StatusCode::ACCEPTED))
        };
        let response = Finishing::new(inner, Mark(Arc::clone(&calls)))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        assert_eq!(response.headers()["x-finished"], "yes");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn an_abandoned_request_is_not_finished() {
        let calls = Arc::new(AtomicUsize::new(0));
        let pending = std::future::pending::<Result<Response, Infallible>>();
        let finishing = Finishing::new(pending, Mark(Arc::clone(&calls)));
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(10), finishing)
                .await
                .is_err()
        );
        assert_eq!(calls.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn answers_come_without_the_inner_future() {
        let answered = AnswerOr::<std::future::Pending<_>>::answer(with_status(StatusCode::GONE));
        assert_eq!(answered.await.unwrap().status(), StatusCode::GONE);
        let inner = AnswerOr::inner(std::future::ready(Ok(with_status(StatusCode::OK))));
        assert_eq!(inner.await.unwrap().status(), StatusCode::OK);
    }
}
