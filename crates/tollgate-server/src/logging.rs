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
