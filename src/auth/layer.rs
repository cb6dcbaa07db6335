//! The token check in front of a protected endpoint: after routing (so 404
//! and 405 come first) and before the endpoint reads the request (so its
//! 422, 400 and 415 come after).

use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::AUTHORIZATION;
use tower::{Service, ServiceExt};

use super::claims::Caller;
use super::token::Verifier;
use crate::error::AppError;
use crate::http::{BoxFuture, Request, Response};
use crate::router::{Access, Endpoint};

/// `endpoint` as `access` requires: open routes unchanged (their
/// `Authorization` header is never read), the others behind [`Guarded`].
pub fn guard(verifier: &Arc<Verifier>, access: Access, endpoint: Endpoint) -> Endpoint {
    match access {
        Access::Open => endpoint,
        Access::Scope(scope) => Endpoint::new(Guarded {
            verifier: verifier.clone(),
            scope,
            inner: endpoint,
        }),
    }
}

/// An endpoint that needs a verified token with `scope`.
#[derive(Clone, Debug)]
pub struct Guarded {
    verifier: Arc<Verifier>,
    scope: &'static str,
    inner: Endpoint,
}

impl Service<Request> for Guarded {
    type Response = Response;
    type Error = AppError;
    type Future = BoxFuture<Result<Response, AppError>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), AppError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let verifier = self.verifier.clone();
        let scope = self.scope;
        let inner = self.inner.clone();
        Box::pin(async move {
            let claims = verifier.verify(req.headers().get(AUTHORIZATION)).await?;
            let caller = Caller(claims.clone());
            let mut response = if claims.has_scope(scope) {
                req.extensions_mut().insert(claims);
                inner
                    .oneshot(req)
                    .await
                    .unwrap_or_else(AppError::into_response)
            } else {
                AppError::Forbidden(scope).into_response()
            };
            response.extensions_mut().insert(caller);
            Ok(response)
        })
    }
}
