//! One log line per request: method, route, status, latency. Never headers or bodies, so never a
//! secret or a token.
//!
//! Refused and failed requests (status 400 and up) are logged at `info`; successful ones at `debug`,
//! so the default log shows what an operator must see (bad credentials, expired tokens, errors)
//! without paying for a line per token issued on the hot path. The full access log is
//! `RUST_LOG=info,tollgate::http=debug` (its cost is measured in docs/benchmarks.md).

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;

/// Logs the request, records its latency (`tollgate_http_request_duration_seconds`), and gives
/// it an id: the client's `X-Request-Id` when it is a sane one (1–128 visible ASCII characters),
/// else a new one; it is returned as `X-Request-Id` and is on every log line of the request (a
/// span field).
pub(crate) async fn log_request(
    axum::extract::State(metrics): axum::extract::State<std::sync::Arc<crate::Metrics>>,
    req: Request,
    next: Next,
) -> Response {
    use tracing::Instrument as _;
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
    let mut resp = next.run(req).instrument(span.clone()).await;
    let status = resp.status().as_u16();
    let route = route.as_ref().map_or("(unmatched)", MatchedPath::as_str);
    let elapsed = start.elapsed();
    metrics.request(route, status, elapsed.as_secs_f64());
    let latency_us = elapsed.as_micros() as u64;
    span.in_scope(|| {
        if status >= 400 {
            tracing::info!(target: "tollgate::http", %method, route, status, latency_us, "request");
        } else {
            tracing::debug!(target: "tollgate::http", %method, route, status, latency_us, "request");
        }
    });
    resp.headers_mut().insert(REQUEST_ID, id);
    resp
}

const REQUEST_ID: axum::http::HeaderName = axum::http::HeaderName::from_static("x-request-id");

fn sane_request_id(v: &[u8]) -> bool {
    (1..=128).contains(&v.len()) && v.iter().all(|b| b.is_ascii_graphic())
}

/// `<boot>-<n>`: unique on this node (a random prefix per start, then a counter), no RNG per
/// request.
fn new_request_id() -> axum::http::HeaderValue {
    use std::sync::OnceLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static BOOT: OnceLock<String> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let boot = BOOT.get_or_init(|| {
        tollgate_core::random::bytes::<4>()
            .map(|b| tollgate_core::random::hex(&b))
            .unwrap_or_else(|_| "00000000".into())
    });
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    axum::http::HeaderValue::from_str(&format!("{boot}-{n:x}"))
        .unwrap_or(axum::http::HeaderValue::from_static("unknown"))
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
