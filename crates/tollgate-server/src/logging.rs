//! One log line per request: method, route, status, latency. Never headers or bodies, so never a
//! secret or a token.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;

pub(crate) async fn log_request(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let resp = next.run(req).await;
    let status = resp.status().as_u16();
    let micros = start.elapsed().as_micros() as u64;
    let route = route.as_deref().unwrap_or("(unmatched)");
    tracing::info!(target: "tollgate::http", %method, route, status, latency_us = micros, "request");
    resp
}
