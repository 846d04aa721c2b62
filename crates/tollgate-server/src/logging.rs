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

pub(crate) async fn log_request(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let resp = next.run(req).await;
    let status = resp.status().as_u16();
    let route = route.as_ref().map_or("(unmatched)", MatchedPath::as_str);
    let latency_us = start.elapsed().as_micros() as u64;
    if status >= 400 {
        tracing::info!(target: "tollgate::http", %method, route, status, latency_us, "request");
    } else {
        tracing::debug!(target: "tollgate::http", %method, route, status, latency_us, "request");
    }
    resp
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
