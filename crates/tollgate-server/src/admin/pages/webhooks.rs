//! The webhooks pages: the company's endpoints and the form to add one; an endpoint's settings,
//! its delivery log, "send test event", secret rotation and removal.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use tollgate_core::webhooks::{
    Delivery, DeliveryStatus, EventSet, EventType, MAX_WEBHOOKS_PER_COMPANY, Webhook,
    WebhookChanges, WebhookError,
};

use super::panel::{
    ErrorOn as _, Form, FormError, PanelAdmin, check_nonce, error_page, html, new_nonce,
};
use super::when::When;
use crate::admin::webhooks::api_error;
use crate::error::AdminApiError;
use crate::state::AppState;

/// Deliveries shown on an endpoint's page.
const DELIVERIES_SHOWN: u32 = 50;

struct EventChoice {
    name: &'static str,
    description: &'static str,
    checked: bool,
}

fn choices(selected: impl Fn(EventType) -> bool) -> Vec<EventChoice> {
    EventType::subscribable()
        .map(|e| EventChoice {
            name: e.as_str(),
            description: e.description(),
            checked: selected(e),
        })
        .collect()
}

struct Row {
    id: String,
    url: String,
    events: String,
    enabled: bool,
    last_delivery: String,
    /// When the last delivery was queued.
    last_at: Option<When>,
}

#[derive(Template)]
#[template(path = "webhooks.html")]
struct WebhooksPage {
    email: String,
    csrf: String,
    nonce: String,
    webhooks: Vec<Row>,
    events: Vec<EventChoice>,
    url: String,
    secret: Option<String>,
    at_limit: bool,
    max: u32,
    error: Option<FormError>,
    notice: Option<String>,
}

struct DeliveryRow {
    msg_id: String,
    event_type: String,
    created_at: When,
    status: String,
    attempts: u32,
    last_answer: String,
    /// A pending delivery's next try.
    next_attempt: Option<When>,
}

#[derive(Template)]
#[template(path = "webhook.html")]
struct WebhookPage {
    email: String,
    csrf: String,
    nonce: String,
    id: String,
    url: String,
    url_draft: String,
    enabled: bool,
    events: Vec<EventChoice>,
    previous_until: Option<When>,
    deliveries: Vec<DeliveryRow>,
    secret: Option<String>,
    error: Option<FormError>,
    notice: Option<String>,
}

/// A form error from a webhook operation, next to its field, and the page's status.
fn form_error(e: &WebhookError) -> (StatusCode, FormError) {
    let api = api_error(e);
    let error = match e {
        WebhookError::Invalid { field, message } => FormError::at(field, message),
        _ => FormError::at("form", &api.parts().2),
    };
    (api.parts().0, error)
}

fn last_delivery(d: Option<&Delivery>) -> String {
    match d {
        None => "none yet".into(),
        Some(d) => format!("{} · {}", d.event_type, delivery_answer(d)),
    }
}

fn delivery_answer(d: &Delivery) -> String {
    match (d.status, d.last_status, &d.last_error) {
        (DeliveryStatus::Pending, None, None) => "not tried yet".into(),
        (_, Some(s), _) if (200..300).contains(&s) => format!("HTTP {s}"),
        (_, Some(s), _) => format!("HTTP {s} (failed)"),
        (_, None, Some(e)) => e.clone(),
        (_, None, None) => "—".into(),
    }
}

struct Draft<'a> {
    url: &'a str,
    events: Option<Vec<&'a str>>,
}

#[allow(clippy::too_many_arguments)]
async fn list_page(
    state: &AppState,
    admin: &PanelAdmin,
    status: StatusCode,
    error: Option<FormError>,
    draft: Option<Draft<'_>>,
    secret: Option<String>,
    notice: Option<String>,
) -> Response {
    let list = match state.webhooks.list(&admin.actor).await {
        Ok(l) => l,
        Err(e) => return error_page(&e.into(), "/admin"),
    };
    let now = state.accounts.now();
    let mut rows = Vec::with_capacity(list.len());
    for w in &list {
        let last = state
            .webhooks
            .deliveries(&admin.actor, &w.id.to_string(), 1)
            .await
            .ok();
        let last = last.as_ref().and_then(|l| l.first());
        rows.push(Row {
            id: w.id.to_string(),
            url: w.url.to_string(),
            events: summary(w.events),
            enabled: w.enabled,
            last_delivery: last_delivery(last),
            last_at: last.map(|d| When::new(d.created_at, now)),
        });
    }
    let chosen: Option<Vec<&str>> = draft.as_ref().and_then(|d| d.events.clone());
    html(
        status,
        &WebhooksPage {
            email: admin.email.clone(),
            csrf: admin.csrf.clone(),
            nonce: new_nonce(),
            at_limit: list.len() >= MAX_WEBHOOKS_PER_COMPANY as usize,
            max: MAX_WEBHOOKS_PER_COMPANY,
            webhooks: rows,
            events: choices(|e| match &chosen {
                Some(c) => c.contains(&e.as_str()),
                None => true,
            }),
            url: draft.map(|d| d.url.to_owned()).unwrap_or_default(),
            secret,
            error,
            notice,
        },
    )
}

/// "All 8 events" or the names.
fn summary(events: EventSet) -> String {
    if events == EventSet::all() {
        let n = EventType::subscribable().count();
        return format!("All {n} events");
    }
    events
        .iter()
        .map(EventType::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(serde::Deserialize)]
pub(super) struct Done {
    done: Option<String>,
}

fn notice(done: Option<&str>) -> Option<String> {
    done.map(|d| {
        match d {
            "removed" => "Webhook removed.",
            "saved" => "Saved.",
            "test" => {
                "Test event queued: it is sent within a few seconds; reload to see the answer."
            }
            "already" => "That form was already sent; the secret it showed is not shown again.",
            _ => "Done.",
        }
        .to_owned()
    })
}

/// `GET /admin/webhooks`.
pub(super) async fn webhooks(
    State(state): State<AppState>,
    admin: PanelAdmin,
    Query(d): Query<Done>,
) -> Response {
    let n = notice(d.done.as_deref());
    list_page(&state, &admin, StatusCode::OK, None, None, None, n).await
}

/// `POST /admin/webhooks`: the new endpoint's secret is shown on the page this answers.
pub(super) async fn create(
    State(state): State<AppState>,
    admin: PanelAdmin,
    form: Form,
) -> Response {
    if let Err(e) = form.check_csrf(&admin.csrf) {
        return error_page(&e, "/admin/webhooks");
    }
    if let Some(refused) = check_nonce(&state, &form, "/admin/webhooks") {
        return refused;
    }
    let url = form.get("url").unwrap_or("");
    let events = form.all("event");
    match state.webhooks.create(&admin.actor, url, &events).await {
        Ok(c) => {
            let secret = Some(c.secret.to_text().to_string());
            let n = Some(format!("Endpoint {} added.", c.webhook.url));
            list_page(&state, &admin, StatusCode::CREATED, None, None, secret, n).await
        }
        Err(e) => {
            let draft = Draft {
                url,
                events: Some(events.clone()),
            };
            let (status, error) = form_error(&e);
            list_page(&state, &admin, status, Some(error), Some(draft), None, None).await
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn detail_page(
    state: &AppState,
    admin: &PanelAdmin,
    w: &Webhook,
    status: StatusCode,
    error: Option<FormError>,
    draft: Option<Draft<'_>>,
    secret: Option<String>,
    notice: Option<String>,
) -> Response {
    let deliveries = match state
        .webhooks
        .deliveries(&admin.actor, &w.id.to_string(), DELIVERIES_SHOWN)
        .await
    {
        Ok(d) => d,
        Err(e) => return error_page(&e.into(), "/admin/webhooks"),
    };
    let now = state.accounts.now();
    let chosen: Option<Vec<&str>> = draft.as_ref().and_then(|d| d.events.clone());
    html(
        status,
        &WebhookPage {
            email: admin.email.clone(),
            csrf: admin.csrf.clone(),
            nonce: new_nonce(),
            id: w.id.to_string(),
            url: w.url.to_string(),
            url_draft: draft
                .as_ref()
                .map_or_else(|| w.url.to_string(), |d| d.url.to_owned()),
            enabled: w.enabled,
            events: choices(|e| match &chosen {
                Some(c) => c.contains(&e.as_str()),
                None => w.events.contains(e),
            }),
            previous_until: w
                .previous_secret_until
                .filter(|t| *t > now)
                .map(|t| When::new(t, now)),
            deliveries: deliveries
                .iter()
                .map(|d| DeliveryRow {
                    msg_id: d.msg_id.clone(),
                    event_type: d.event_type.to_string(),
                    created_at: When::new(d.created_at, now),
                    status: d.status.as_str().to_owned(),
                    attempts: d.attempts,
                    last_answer: delivery_answer(d),
                    next_attempt: match (d.status, d.next_attempt_at) {
                        (DeliveryStatus::Pending, Some(t)) => Some(When::new(t, now)),
                        _ => None,
                    },
                })
                .collect(),
            secret,
            error,
            notice,
        },
    )
}

async fn own(state: &AppState, admin: &PanelAdmin, id: &str) -> Result<Webhook, Response> {
    state
        .webhooks
        .get(&admin.actor, id)
        .await
        .map_err(|e| error_page(&e.into(), "/admin/webhooks"))
}

/// `GET /admin/webhooks/{id}`.
pub(super) async fn webhook(
    State(state): State<AppState>,
    admin: PanelAdmin,
    Path(id): Path<String>,
    Query(d): Query<Done>,
) -> Response {
    let w = match own(&state, &admin, &id).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let n = notice(d.done.as_deref());
    detail_page(&state, &admin, &w, StatusCode::OK, None, None, None, n).await
}

/// `POST /admin/webhooks/{id}`: URL, events, enabled.
pub(super) async fn update(
    State(state): State<AppState>,
    admin: PanelAdmin,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    if let Err(e) = form.check_csrf(&admin.csrf) {
        return error_page(&e, "/admin/webhooks");
    }
    let url = form.get("url").unwrap_or("");
    let events = form.all("event");
    let changes = WebhookChanges {
        url: Some(url.to_owned()),
        events: Some(events.iter().map(|e| (*e).to_owned()).collect()),
        enabled: Some(form.get("enabled").is_some()),
    };
    match state.webhooks.update(&admin.actor, &id, changes).await {
        Ok(w) => Redirect::to(&format!("/admin/webhooks/{}?done=saved", w.id)).into_response(),
        Err(WebhookError::NotFound) => {
            error_page(&AdminApiError::WebhookNotFound, "/admin/webhooks")
        }
        Err(e) => {
            let w = match own(&state, &admin, &id).await {
                Ok(w) => w,
                Err(r) => return r,
            };
            let draft = Draft {
                url,
                events: Some(events.clone()),
            };
            let (status, error) = form_error(&e);
            detail_page(
                &state,
                &admin,
                &w,
                status,
                Some(error),
                Some(draft),
                None,
                None,
            )
            .await
        }
    }
}

/// `POST /admin/webhooks/{id}/test`.
pub(super) async fn send_test(
    State(state): State<AppState>,
    admin: PanelAdmin,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    if let Err(e) = form.check_csrf(&admin.csrf) {
        return error_page(&e, "/admin/webhooks");
    }
    match state.webhooks.send_test(&admin.actor, &id).await {
        Ok(d) => {
            Redirect::to(&format!("/admin/webhooks/{}?done=test", d.webhook_id)).into_response()
        }
        Err(e) => error_page(&e.into(), "/admin/webhooks"),
    }
}

/// `POST /admin/webhooks/{id}/rotate`: the new secret is shown on the page this answers.
pub(super) async fn rotate(
    State(state): State<AppState>,
    admin: PanelAdmin,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    if let Err(e) = form.check_csrf(&admin.csrf) {
        return error_page(&e, "/admin/webhooks");
    }
    if let Some(refused) = check_nonce(&state, &form, &format!("/admin/webhooks/{id}")) {
        return refused;
    }
    match state.webhooks.rotate_secret(&admin.actor, &id).await {
        Ok(r) => {
            let secret = Some(r.secret.to_text().to_string());
            let n = Some("Signing secret rotated.".to_owned());
            detail_page(
                &state,
                &admin,
                &r.webhook,
                StatusCode::OK,
                None,
                None,
                secret,
                n,
            )
            .await
        }
        Err(e) => error_page(&e.into(), "/admin/webhooks"),
    }
}

/// `POST /admin/webhooks/{id}/delete`.
pub(super) async fn delete(
    State(state): State<AppState>,
    admin: PanelAdmin,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    if let Err(e) = form.check_csrf(&admin.csrf) {
        return error_page(&e, "/admin/webhooks");
    }
    match state.webhooks.delete(&admin.actor, &id).await {
        Ok(()) => Redirect::to("/admin/webhooks?done=removed").into_response(),
        Err(e) => error_page(&e.into(), "/admin/webhooks"),
    }
}
