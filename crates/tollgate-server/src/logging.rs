//! One log line per request: method, route, status, latency. Never headers or bodies, so never a
//! secret or a token.
//!
//! Refused and failed requests (status 400 and up) are logged at `info`; successful ones at `debug`,
//! so the default log shows what an operator must see (bad credentials, expired tokens, errors)
//! without paying for a line per token issued on the hot path. The full access log is
//! `RUST_LOG=info,tollgate::http=debug` (its cost is measured in docs/benchmarks.md).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, Method};
use axum::response::Response;
use tracing::Instrument as _;
use tracing::instrument::Instrumented;

/// Logs the request, records its latency (`tollgate_http_request_duration_seconds`), and gives
/// it an id: the client's `X-Request-Id` when it is a sane one (1–128 visible ASCII characters),
/// else a new one; it is returned as `X-Request-Id` and is on every log line of the request (a
/// span field).
///
/// A tower layer of its own rather than `axum::middleware::from_fn`: that one boxes the rest of
/// the chain into a new service and its future on every request (issue 15's profile).
#[derive(Clone)]
pub(crate) struct RequestLogLayer {
    metrics: Arc<crate::Metrics>,
}

impl RequestLogLayer {
    pub(crate) fn new(metrics: Arc<crate::Metrics>) -> Self {
        Self { metrics }
    }
}

impl<S> tower::Layer<S> for RequestLogLayer {
    type Service = RequestLog<S>;

    fn layer(&self, inner: S) -> RequestLog<S> {
        RequestLog {
            inner,
            metrics: Arc::clone(&self.metrics),
        }
    }
}

/// The service of [`RequestLogLayer`].
#[derive(Clone)]
pub(crate) struct RequestLog<S> {
    inner: S,
    metrics: Arc<crate::Metrics>,
}

impl<S> tower::Service<Request> for RequestLog<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Logged<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let start = Instant::now();
        let method = req.method().clone();
        let route = req.extensions().get::<MatchedPath>().cloned();
        let id = match req.headers().get(REQUEST_ID) {
            Some(v) if sane_request_id(v.as_bytes()) => v.clone(),
            _ => new_request_id(),
        };
        let span = tracing::info_span!(
            target: "tollgate::http",
            "request",
            request_id = %id.to_str().unwrap_or("")
        );
        let inner = span.in_scope(|| self.inner.call(req));
        Logged {
            inner: inner.instrument(span),
            done: Some(Done {
                start,
                method,
                route,
                id,
                metrics: Arc::clone(&self.metrics),
            }),
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`RequestLog`]: logs and counts the request when it is answered.
    pub(crate) struct Logged<F> {
        #[pin]
        inner: Instrumented<F>,
        done: Option<Done>,
    }
}

/// What the log line and the latency histogram need once the response is there.
struct Done {
    start: Instant,
    method: Method,
    route: Option<MatchedPath>,
    id: HeaderValue,
    metrics: Arc<crate::Metrics>,
}

impl<F> Future for Logged<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let Ok(mut resp) = ready!(this.inner.as_mut().poll(cx));
        let Some(done) = this.done.take() else {
            return Poll::Ready(Ok(resp));
        };
        let status = resp.status().as_u16();
        let route = done
            .route
            .as_ref()
            .map_or("(unmatched)", MatchedPath::as_str);
        let elapsed = done.start.elapsed();
        done.metrics.request(route, status, elapsed.as_secs_f64());
        let latency_us = elapsed.as_micros() as u64;
        let method = &done.method;
        this.inner.span().in_scope(|| {
            if status >= 400 {
                tracing::info!(target: "tollgate::http", %method, route, status, latency_us, "request");
            } else {
                tracing::debug!(target: "tollgate::http", %method, route, status, latency_us, "request");
            }
        });
        resp.headers_mut().insert(REQUEST_ID, done.id);
        Poll::Ready(Ok(resp))
    }
}

const REQUEST_ID: axum::http::HeaderName = axum::http::HeaderName::from_static("x-request-id");

fn sane_request_id(v: &[u8]) -> bool {
    (1..=128).contains(&v.len()) && v.iter().all(|b| b.is_ascii_graphic())
}

/// `<boot>-<n>`: unique on this node (a random prefix per start, then a counter in hex), no RNG
/// per request; written on the stack, so the header value is the request id's only allocation.
fn new_request_id() -> HeaderValue {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static BOOT: OnceLock<[u8; 8]> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let boot = BOOT.get_or_init(|| {
        let hex = tollgate_core::random::bytes::<4>()
            .map(|b| tollgate_core::random::hex(&b))
            .unwrap_or_default();
        let mut boot = *b"00000000";
        if hex.len() == boot.len() {
            boot.copy_from_slice(hex.as_bytes());
        }
        boot
    });
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut buf = [0u8; 8 + 1 + 16];
    buf[..8].copy_from_slice(boot);
    buf[8] = b'-';
    let digits = (64 - n.leading_zeros()).div_ceil(4).max(1) as usize;
    for (i, b) in buf[9..9 + digits].iter_mut().enumerate() {
        let nibble = (n >> (4 * (digits - 1 - i))) & 0xf;
        *b = b"0123456789abcdef"[nibble as usize];
    }
    HeaderValue::from_bytes(&buf[..9 + digits]).unwrap_or(HeaderValue::from_static("unknown"))
}

/// A client-supplied value as it may appear in a log line: at most [`Untrusted::MAX_CHARS`]
/// characters, control characters escaped (`\n`, `\u{1b}`, …) so that no value can forge a line or
/// reach a terminal raw, and anything that holds a tollgate secret's prefix replaced whole by
/// `[redacted]` (a secret pasted into the wrong field must not be logged either).
pub(crate) struct Untrusted<'a>(pub(crate) &'a str);

impl Untrusted<'_> {
    /// Characters of a value kept in the log.
    pub(crate) const MAX_CHARS: usize = 64;
}

impl std::fmt::Display for Untrusted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::fmt::Write as _;
        if self.0.contains(tollgate_core::secret::SECRET_PREFIX) {
            return f.write_str("[redacted]");
        }
        for c in self.0.chars().take(Self::MAX_CHARS) {
            if c.is_control() || c == '\\' {
                for e in c.escape_default() {
                    f.write_char(e)?;
                }
            } else {
                f.write_char(c)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Untrusted;

    #[test]
    fn new_request_ids_are_the_boot_prefix_and_a_hex_counter() {
        let a = super::new_request_id();
        let b = super::new_request_id();
        let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
        let (boot, n) = a.split_once('-').unwrap();
        assert_eq!(boot.len(), 8, "{a}");
        assert!(boot.bytes().all(|c| c.is_ascii_hexdigit()), "{a}");
        assert!(
            !n.is_empty() && n.bytes().all(|c| c.is_ascii_hexdigit()),
            "{a}"
        );
        assert!(!n.starts_with('0'), "{a}");
        let next = u64::from_str_radix(n, 16).unwrap() + 1;
        assert!(
            b.starts_with(boot) && b.ends_with(&format!("-{next:x}")),
            "{a} {b}"
        );
    }

    #[test]
    fn control_characters_are_escaped_and_secrets_redacted() {
        let forged = "a\r\n2026-12-01T00:00:00Z INFO admin logged in\u{1b}[31m\0";
        let shown = Untrusted(forged).to_string();
        assert!(!shown.chars().any(char::is_control), "{shown:?}");
        assert!(shown.starts_with("a\\r\\n2026"), "{shown:?}");
        assert!(shown.contains("\\u{1b}[31m"), "{shown:?}");
        assert_eq!(Untrusted("back\\slash").to_string(), "back\\\\slash");
        assert_eq!(Untrusted("tgsec_abcdef").to_string(), "[redacted]");
        assert_eq!(Untrusted("xx tgsec_abcdef").to_string(), "[redacted]");
        assert_eq!(Untrusted(&"é".repeat(100)).to_string().chars().count(), 64);
        assert_eq!(Untrusted("plain-client_42").to_string(), "plain-client_42");
    }
}
