//! The request id layer: accept a valid incoming `x-request-id`, otherwise
//! generate a UUID; expose it to inner layers and echo it on every response.
//!
//! tower-http's `SetRequestId` trusts any incoming value; API.md only trusts
//! 1 to 128 characters from `[A-Za-z0-9._:-]`, so this layer is our own.

use std::cell::Cell;
use std::convert::Infallible;
use std::task::{Context, Poll};

use http::{HeaderName, HeaderValue, Request};
use tower::{Layer, Service};

use super::future::{Finish, Finishing};
use crate::http::Response;

/// The `x-request-id` header.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the request being served; in request extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// Accepts `value` if it is 1 to 128 characters from `[A-Za-z0-9._:-]`.
    pub fn parse(value: &HeaderValue) -> Option<Self> {
        let bytes = value.as_bytes();
        let valid = (1..=128).contains(&bytes.len())
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
        valid.then(|| Self(value.clone()))
    }

    /// A fresh random (version 4) UUID.
    ///
    /// Drawn from a per-thread generator seeded once from the OS, so the
    /// request path makes no system call for it.
    pub fn generate() -> Self {
        let uuid = uuid::Builder::from_random_bytes(next_random().to_le_bytes()).into_uuid();
        let mut buf = uuid::Uuid::encode_buffer();
        let text = uuid.hyphenated().encode_lower(&mut buf);
        Self(HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static("invalid")))
    }

    /// The id as text (always ASCII).
    pub fn as_str(&self) -> &str {
        self.0.to_str().unwrap_or_default()
    }

    /// The id as a header value.
    pub fn header_value(&self) -> &HeaderValue {
        &self.0
    }
}

thread_local! {
    static RNG: Cell<(u64, u64)> = Cell::new(seed());
}

fn seed() -> (u64, u64) {
    let bytes = uuid::Uuid::new_v4().as_u128();
    // Truncations are the point: split 128 random bits into two halves.
    #[allow(clippy::cast_possible_truncation)]
    let (a, b) = ((bytes >> 64) as u64, bytes as u64);
    (a | 1, b | 1)
}

/// xorshift128+, two outputs per id.
fn next_random() -> u128 {
    RNG.with(|state| {
        let (mut s0, mut s1) = state.get();
        let mut out = 0u128;
        for _ in 0..2 {
            let mut x = s0;
            let y = s1;
            s0 = y;
            x ^= x << 23;
            s1 = x ^ y ^ (x >> 17) ^ (y >> 26);
            out = (out << 64) | u128::from(s1.wrapping_add(y));
        }
        state.set((s0, s1));
        out
    })
}

/// Applies [`RequestIdService`].
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestIdLayer;

impl<S> Layer<S> for RequestIdLayer {
    type Service = RequestIdService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestIdService { inner }
    }
}

/// Sets [`RequestId`] on the request and `x-request-id` on the response.
#[derive(Debug, Clone)]
pub struct RequestIdService<S> {
    inner: S,
}

impl<S, B> Service<Request<B>> for RequestIdService<S>
where
    S: Service<Request<B>, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Finishing<S::Future, SetRequestIdHeader>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let id = req
            .headers()
            .get(&X_REQUEST_ID)
            .and_then(RequestId::parse)
            .unwrap_or_else(RequestId::generate);
        let header = SetRequestIdHeader(id.0.clone());
        req.extensions_mut().insert(id);
        Finishing::new(self.inner.call(req), header)
    }
}

/// Sets `x-request-id` on the response.
#[derive(Debug, Clone)]
pub struct SetRequestIdHeader(HeaderValue);

impl Finish for SetRequestIdHeader {
    fn finish(self, response: &mut Response) {
        response.headers_mut().insert(X_REQUEST_ID.clone(), self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Option<RequestId> {
        RequestId::parse(&HeaderValue::from_str(text).ok()?)
    }

    #[test]
    fn accepts_exactly_the_allowed_alphabet_and_length() {
        assert!(parse("a").is_some());
        assert!(parse("abc-DEF_123.4:5").is_some());
        assert!(parse(&"x".repeat(128)).is_some());
        assert!(parse(&"x".repeat(129)).is_none());
        assert!(parse("").is_none());
        for bad in [
            "a b", "a/b", "a\tb", "é", "a;b", "a,b", "<script>", "a+b", "a=b",
        ] {
            assert!(parse(bad).is_none(), "{bad:?}");
        }
        assert!(RequestId::parse(&HeaderValue::from_bytes(b"caf\xe9").unwrap()).is_none());
    }

    #[test]
    fn generated_ids_are_distinct_v4_uuids() {
        let a = RequestId::generate();
        let b = RequestId::generate();
        assert_ne!(a, b);
        let uuid = uuid::Uuid::parse_str(a.as_str()).unwrap();
        assert_eq!(uuid.get_version_num(), 4);
        assert_eq!(a.as_str().len(), 36);
        assert_eq!(a.as_str(), a.as_str().to_lowercase());
        assert!(RequestId::parse(a.header_value()).is_some());
    }

    #[test]
    fn the_generator_is_xorshift128_plus() {
        // Reference values from an independent implementation of
        // xorshift128+ (two outputs per id, little-endian into the UUID).
        RNG.with(|state| state.set((0x0123_4567_89ab_cdef, 0xfedc_ba98_7654_3211)));
        assert_eq!(
            RequestId::generate().as_str(),
            "c6a56b46-0a2e-484b-8719-66eded2d184b"
        );
        assert_eq!(
            RequestId::generate().as_str(),
            "40f88a3c-caa8-43d5-adb1-0fd921ed3817"
        );
        assert_eq!(
            RNG.with(Cell::get),
            (0x185c_326d_09b5_f31d, 0xbce7_765d_32d5_0523)
        );
    }

    #[test]
    fn seeds_are_random_and_never_the_all_zero_state() {
        let seeds: Vec<(u64, u64)> = (0..32).map(|_| seed()).collect();
        for (a, b) in &seeds {
            assert!(a % 2 == 1 && b % 2 == 1, "{a:x} {b:x}");
        }
        let mut firsts: Vec<u64> = seeds.iter().map(|s| s.0).collect();
        let mut seconds: Vec<u64> = seeds.iter().map(|s| s.1).collect();
        firsts.sort_unstable();
        firsts.dedup();
        seconds.sort_unstable();
        seconds.dedup();
        assert_eq!((firsts.len(), seconds.len()), (32, 32));
    }

    /// The inner service: answers with the request id it saw as its body.
    async fn seen(req: Request<()>) -> Result<Response, Infallible> {
        let id = req
            .extensions()
            .get::<RequestId>()
            .map_or("none", RequestId::as_str)
            .to_owned();
        Ok(Response::new(http_body_util::Full::new(
            bytes::Bytes::from(id),
        )))
    }

    async fn roundtrip(incoming: Option<&str>) -> (String, String) {
        use http_body_util::BodyExt;
        use tower::ServiceExt;
        let mut request = Request::builder().uri("/");
        if let Some(id) = incoming {
            request = request.header(&X_REQUEST_ID, id);
        }
        let response = RequestIdLayer
            .layer(tower::service_fn(seen))
            .oneshot(request.body(()).unwrap())
            .await
            .unwrap();
        let header = response.headers()[&X_REQUEST_ID]
            .to_str()
            .unwrap()
            .to_owned();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (header, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn a_valid_incoming_id_is_kept_and_echoed() {
        let (header, seen) = roundtrip(Some("trace-1.2:3_x")).await;
        assert_eq!(header, "trace-1.2:3_x");
        assert_eq!(seen, header);
    }

    #[tokio::test]
    async fn an_invalid_or_missing_id_is_replaced_by_a_fresh_one() {
        for incoming in [None, Some("has space"), Some("")] {
            let (header, seen) = roundtrip(incoming).await;
            assert_eq!(seen, header, "{incoming:?}");
            let uuid = uuid::Uuid::parse_str(&header).unwrap();
            assert_eq!(uuid.get_version_num(), 4);
        }
        let (a, _) = roundtrip(None).await;
        let (b, _) = roundtrip(None).await;
        assert_ne!(a, b);
    }

    /// A service that is never ready.
    #[derive(Clone)]
    struct Busy;

    impl Service<Request<()>> for Busy {
        type Response = Response;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Response, Infallible>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Pending
        }

        fn call(&mut self, _: Request<()>) -> Self::Future {
            std::future::ready(Ok(Response::default()))
        }
    }

    #[test]
    fn readiness_is_the_inner_services() {
        let mut service = RequestIdLayer.layer(Busy);
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(service.poll_ready(&mut cx).is_pending());
    }
}
