//! The operations endpoints: liveness, readiness and the Prometheus metrics.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::state::AppState;

/// `GET /healthz`: the process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "Up")))]
pub(crate) async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// `GET /readyz`: the database answers and a signing key is loaded.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, description = "Ready"), (status = 503, description = "Not ready")))]
pub(crate) async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let db = state.store.ping().await;
    let keys = state.authority.keys();
    let key_ok = !keys.public_keys().is_empty();
    match db {
        Ok(()) if key_ok => (
            StatusCode::OK,
            Json(json!({
                "status": "ready",
                "database": "ok",
                "signing_key": keys.current().kid(),
                "rate_limits": state.rate_limits.status(),
            })),
        ),
        Ok(()) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "not ready", "database": "ok", "signing_key": "missing"})),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "readiness: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "not ready", "database": "unreachable"})),
            )
        }
    }
}

/// `GET /metrics`.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus / OpenMetrics text", content_type = "application/openmetrics-text")))]
pub(crate) async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    // Prometheus asks for OpenMetrics; anyone else (curl, promtool) gets the classic text format.
    let openmetrics = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("application/openmetrics-text"));
    match state.metrics.render(&state.authority, &state.rate_limits) {
        Ok(text) if openmetrics => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                ),
            )],
            text,
        )
            .into_response(),
        Ok(text) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            )],
            crate::metrics::prometheus_text(&text),
        )
            .into_response(),
        Err(_) => crate::error::ApiError::Internal.into_response(),
    }
}

/// This module's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(healthz, readyz, metrics))]
pub(crate) struct Doc;
