//! The admin JSON API's webhooks (`/admin/api/v1/webhooks`), and the views the panel shares.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use tollgate_core::clock::rfc3339;
use tollgate_core::webhooks::{Delivery, Webhook, WebhookChanges, WebhookError};

use super::auth::ApiAdmin;
use crate::error::AdminApiError;
use crate::extract::AdminJson;
use crate::state::AppState;

/// An endpoint as the API shows it; `secret` only in the answer that made it.
pub(crate) fn webhook_view(w: &Webhook, secret: Option<&str>) -> Value {
    let mut v = json!({
        "id": w.id,
        "url": w.url,
        "events": w.events,
        "enabled": w.enabled,
        "created_at": rfc3339(w.created_at),
        "updated_at": rfc3339(w.updated_at),
        "previous_secret_valid_until": w.previous_secret_until.map(rfc3339),
    });
    if let Some(s) = secret {
        v["secret"] = Value::from(s);
    }
    v
}

/// A delivery as the API shows it.
pub(crate) fn delivery_view(d: &Delivery) -> Value {
    json!({
        "msg_id": d.msg_id,
        "event_type": d.event_type,
        "status": d.status,
        "attempts": d.attempts,
        "last_status": d.last_status,
        "last_error": d.last_error,
        "created_at": rfc3339(d.created_at),
        "last_attempt_at": d.last_attempt_at.map(rfc3339),
        "next_attempt_at": d.next_attempt_at.map(rfc3339),
    })
}

/// The API's error for `e` (a store failure is logged here and answered as a 500).
pub(crate) fn api_error(e: &WebhookError) -> AdminApiError {
    match e {
        WebhookError::NotFound => AdminApiError::WebhookNotFound,
        WebhookError::Invalid { field, message } => {
            AdminApiError::InvalidInput(format!("{field}: {message}"))
        }
        e @ WebhookError::Limit { .. } => AdminApiError::WebhookLimitReached(e.to_string()),
        other => {
            tracing::error!(error = %other, "webhook operation failed");
            AdminApiError::Internal
        }
    }
}

impl From<WebhookError> for AdminApiError {
    fn from(e: WebhookError) -> Self {
        api_error(&e)
    }
}

/// A new webhook endpoint.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = AdminWebhookCreate)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateBody {
    /// Where deliveries go: `https://`, or `http://` to a loopback host.
    url: String,
    /// Event types, e.g. `credential.created` (at least one).
    events: Vec<String>,
}

/// `GET /admin/api/v1/webhooks`.
#[utoipa::path(
    get,
    path = "/admin/api/v1/webhooks",
    tag = "admin",
    responses(
        (status = 200, description = "The company's webhook endpoints", body = Vec<super::doc::WebhookDoc>),
        super::doc::ReadErrors,
    ),
    security(("admin_session" = []), ("bearer" = ["credentials:manage"])),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    ApiAdmin(actor): ApiAdmin,
) -> Result<Json<Vec<Value>>, AdminApiError> {
    let list = state.webhooks.list(&actor).await?;
    Ok(Json(list.iter().map(|w| webhook_view(w, None)).collect()))
}

/// `POST /admin/api/v1/webhooks`: the signing secret is in this response only.
#[utoipa::path(
    post,
    path = "/admin/api/v1/webhooks",
    tag = "admin",
    request_body = CreateBody,
    responses(
        (status = 201, description = "Created; the signing `secret` is in this answer only", body = super::doc::WebhookDoc),
        (status = 400, description = "invalidInput: the message names the field (url, events) and why", body = crate::schemas::ApiErrorDoc),
        (status = 409, description = "webhookLimitReached", body = crate::schemas::ApiErrorDoc),
        super::doc::WriteErrors,
    ),
    security(("admin_session" = [], "csrf" = []), ("bearer" = ["credentials:manage"])),
)]
pub(crate) async fn create(
    State(state): State<AppState>,
    ApiAdmin(actor): ApiAdmin,
    AdminJson(b): AdminJson<CreateBody>,
) -> Result<(StatusCode, Json<Value>), AdminApiError> {
    let c = state.webhooks.create(&actor, &b.url, &b.events).await?;
    Ok((
        StatusCode::CREATED,
        Json(webhook_view(&c.webhook, Some(&c.secret.to_text()))),
    ))
}

/// `GET /admin/api/v1/webhooks/{id}`.
#[utoipa::path(
    get,
    path = "/admin/api/v1/webhooks/{id}",
    tag = "admin",
    params(("id" = String, Path, description = "The webhook's id")),
    responses(
        (status = 200, description = "The webhook endpoint", body = super::doc::WebhookDoc),
        (status = 404, description = "webhookNotFound (also: another company's webhook)", body = crate::schemas::ApiErrorDoc),
        super::doc::ReadErrors,
    ),
    security(("admin_session" = []), ("bearer" = ["credentials:manage"])),
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    ApiAdmin(actor): ApiAdmin,
    Path(id): Path<String>,
) -> Result<Json<Value>, AdminApiError> {
    Ok(Json(webhook_view(
        &state.webhooks.get(&actor, &id).await?,
        None,
    )))
}

/// Changes to a webhook endpoint: absent fields are left as they are.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = AdminWebhookUpdate)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateBody {
    url: Option<String>,
    events: Option<Vec<String>>,
    enabled: Option<bool>,
}

/// `PATCH /admin/api/v1/webhooks/{id}`.
#[utoipa::path(
    patch,
    path = "/admin/api/v1/webhooks/{id}",
    tag = "admin",
    params(("id" = String, Path, description = "The webhook's id")),
    request_body = UpdateBody,
    responses(
        (status = 200, description = "The webhook endpoint as changed", body = super::doc::WebhookDoc),
        (status = 400, description = "invalidInput: the message names the field (url, events) and why", body = crate::schemas::ApiErrorDoc),
        (status = 404, description = "webhookNotFound (also: another company's webhook)", body = crate::schemas::ApiErrorDoc),
        super::doc::WriteErrors,
    ),
    security(("admin_session" = [], "csrf" = []), ("bearer" = ["credentials:manage"])),
)]
pub(crate) async fn update(
    State(state): State<AppState>,
    ApiAdmin(actor): ApiAdmin,
    Path(id): Path<String>,
    AdminJson(b): AdminJson<UpdateBody>,
) -> Result<Json<Value>, AdminApiError> {
    let changes = WebhookChanges {
        url: b.url,
        events: b.events,
        enabled: b.enabled,
    };
    let w = state.webhooks.update(&actor, &id, changes).await?;
    Ok(Json(webhook_view(&w, None)))
}

/// `DELETE /admin/api/v1/webhooks/{id}`.
#[utoipa::path(
    delete,
    path = "/admin/api/v1/webhooks/{id}",
    tag = "admin",
    params(("id" = String, Path, description = "The webhook's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "webhookNotFound (also: another company's webhook)", body = crate::schemas::ApiErrorDoc),
        super::doc::WriteErrors,
    ),
    security(("admin_session" = [], "csrf" = []), ("bearer" = ["credentials:manage"])),
)]
pub(crate) async fn delete(
    State(state): State<AppState>,
    ApiAdmin(actor): ApiAdmin,
    Path(id): Path<String>,
) -> Result<StatusCode, AdminApiError> {
    state.webhooks.delete(&actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /admin/api/v1/webhooks/{id}/rotate-secret`: the new secret is in this response only; the
/// old one keeps signing (a second signature) for 24 hours.
#[utoipa::path(
    post,
    path = "/admin/api/v1/webhooks/{id}/rotate-secret",
    tag = "admin",
    params(("id" = String, Path, description = "The webhook's id")),
    responses(
        (status = 200, description = "Rotated; the new `secret` is in this answer only, the previous one also signs until `previous_secret_valid_until`", body = super::doc::WebhookDoc),
        (status = 404, description = "webhookNotFound (also: another company's webhook)", body = crate::schemas::ApiErrorDoc),
        super::doc::WriteErrors,
    ),
    security(("admin_session" = [], "csrf" = []), ("bearer" = ["credentials:manage"])),
)]
pub(crate) async fn rotate_secret(
    State(state): State<AppState>,
    ApiAdmin(actor): ApiAdmin,
    Path(id): Path<String>,
) -> Result<Json<Value>, AdminApiError> {
    let r = state.webhooks.rotate_secret(&actor, &id).await?;
    Ok(Json(webhook_view(&r.webhook, Some(&r.secret.to_text()))))
}

/// `POST /admin/api/v1/webhooks/{id}/test`: queues a `webhook.test` event.
#[utoipa::path(
    post,
    path = "/admin/api/v1/webhooks/{id}/test",
    tag = "admin",
    params(("id" = String, Path, description = "The webhook's id")),
    responses(
        (status = 202, description = "A `webhook.test` delivery queued", body = super::doc::DeliveryDoc),
        (status = 404, description = "webhookNotFound (also: another company's webhook)", body = crate::schemas::ApiErrorDoc),
        super::doc::WriteErrors,
    ),
    security(("admin_session" = [], "csrf" = []), ("bearer" = ["credentials:manage"])),
)]
pub(crate) async fn send_test(
    State(state): State<AppState>,
    ApiAdmin(actor): ApiAdmin,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Value>), AdminApiError> {
    let d = state.webhooks.send_test(&actor, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(delivery_view(&d))))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeliveriesQuery {
    /// How many, newest first (default 50, at most 500).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
}

/// `GET /admin/api/v1/webhooks/{id}/deliveries?limit=N`: newest first (default 50, at most 500).
#[utoipa::path(
    get,
    path = "/admin/api/v1/webhooks/{id}/deliveries",
    tag = "admin",
    params(("id" = String, Path, description = "The webhook's id"), DeliveriesQuery),
    responses(
        (status = 200, description = "The endpoint's deliveries, newest first", body = Vec<super::doc::DeliveryDoc>),
        (status = 400, description = "invalidInput: an unknown parameter or a bad `limit`", body = crate::schemas::ApiErrorDoc),
        (status = 404, description = "webhookNotFound (also: another company's webhook)", body = crate::schemas::ApiErrorDoc),
        super::doc::ReadErrors,
    ),
    security(("admin_session" = []), ("bearer" = ["credentials:manage"])),
)]
pub(crate) async fn deliveries(
    State(state): State<AppState>,
    ApiAdmin(actor): ApiAdmin,
    Path(id): Path<String>,
    q: Result<Query<DeliveriesQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<Value>>, AdminApiError> {
    let Query(q) = q.map_err(super::audit::bad_params)?;
    let list = state
        .webhooks
        .deliveries(&actor, &id, q.limit.unwrap_or(50))
        .await?;
    Ok(Json(list.iter().map(delivery_view).collect()))
}
