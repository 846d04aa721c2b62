//! The credential pages: the list (with the secret just created or rotated, shown once), create,
//! edit, rotate, delete.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use tollgate_core::admin::CredentialChanges;
use tollgate_core::clock::rfc3339;

use super::panel::{Form, PanelAdmin, check_nonce, error_page, html, new_nonce};
use crate::admin::api::{self, ops};
use crate::error::AdminApiError;
use crate::state::AppState;

struct Row {
    client_id: String,
    label: String,
    scopes: String,
    created_at: String,
    last_used_at: String,
}

struct ShownSecret {
    client_id: String,
    secret: String,
}

#[derive(Template)]
#[template(path = "credentials.html")]
struct CredentialsPage {
    email: String,
    csrf: String,
    credentials: Vec<Row>,
    ceiling: Vec<String>,
    count: usize,
    max: u32,
    at_limit: bool,
    error: Option<String>,
    notice: Option<String>,
    secret: Option<ShownSecret>,
    nonce: String,
}

/// The credentials page showing a secret just created or rotated (the only time it is shown).
async fn secret_page(
    state: &AppState,
    admin: &PanelAdmin,
    status: StatusCode,
    notice: &str,
    created: &tollgate_core::admin::CreatedCredential,
) -> Response {
    let shown = ShownSecret {
        client_id: created.credential.client_id.as_str().to_owned(),
        secret: created.secret.expose_secret().to_owned(),
    };
    credentials_page(
        state,
        admin,
        status,
        None,
        Some(notice.to_owned()),
        Some(shown),
    )
    .await
}

#[derive(serde::Deserialize)]
pub(super) struct Notice {
    done: Option<String>,
}

async fn credentials_page(
    state: &AppState,
    admin: &PanelAdmin,
    status: StatusCode,
    error: Option<String>,
    notice: Option<String>,
    secret: Option<ShownSecret>,
) -> Response {
    let company = match state.admin.company(&admin.actor.company_id()).await {
        Ok(c) => c,
        Err(e) => return error_page(&e.into(), "/admin"),
    };
    let list = match state.admin.credentials(&company.id).await {
        Ok(l) => l,
        Err(e) => return error_page(&e.into(), "/admin"),
    };
    let rows: Vec<Row> = list
        .iter()
        .map(|c| Row {
            client_id: c.client_id.as_str().to_owned(),
            label: c.label.clone(),
            scopes: c.scopes.intersection(&company.scopes).to_string(),
            created_at: rfc3339(c.created_at),
            last_used_at: c
                .last_used_at
                .map(rfc3339)
                .unwrap_or_else(|| "never".into()),
        })
        .collect();
    let count = rows.len();
    html(
        status,
        &CredentialsPage {
            email: admin.email.clone(),
            csrf: admin.csrf.clone(),
            credentials: rows,
            ceiling: company.scopes.iter().map(|s| s.to_string()).collect(),
            count,
            max: company.max_credentials,
            at_limit: count >= company.max_credentials as usize,
            error,
            notice,
            secret,
            nonce: new_nonce(),
        },
    )
}

pub(super) async fn credentials(
    State(state): State<AppState>,
    admin: PanelAdmin,
    Query(n): Query<Notice>,
) -> Response {
    let notice = n.done.as_deref().map(|d| match d {
        "updated" => "Credential updated.".to_owned(),
        "deleted" => "Credential deleted; its tokens are refused from now on.".to_owned(),
        "already" => {
            "That form was already sent: nothing was done again (a secret is shown only once)."
                .to_owned()
        }
        _ => "Done.".to_owned(),
    });
    credentials_page(&state, &admin, StatusCode::OK, None, notice, None).await
}

/// Checks the CSRF token, then the form's one-use token: `Some(response)` to send instead.
fn guard_secret_form(state: &AppState, admin: &PanelAdmin, form: &Form) -> Option<Response> {
    if let Err(e) = form.check_csrf(&admin.csrf) {
        return Some(error_page(&e, "/admin/credentials"));
    }
    check_nonce(state, form)
}

pub(super) async fn create(
    State(state): State<AppState>,
    admin: PanelAdmin,
    form: Form,
) -> Response {
    if let Some(refused) = guard_secret_form(&state, &admin, &form) {
        return refused;
    }
    let result = async {
        form.check_csrf(&admin.csrf)?;
        let scopes = form.scopes()?;
        ops::create(
            &state,
            &admin.actor,
            form.get("label").unwrap_or(""),
            scopes,
        )
        .await
    }
    .await;
    match result {
        Ok(c) => {
            secret_page(
                &state,
                &admin,
                StatusCode::CREATED,
                "Credential created.",
                &c,
            )
            .await
        }
        Err(AdminApiError::Csrf) => error_page(&AdminApiError::Csrf, "/admin/credentials"),
        Err(e) => {
            let (status, _, message) = e.parts();
            credentials_page(&state, &admin, status, Some(message), None, None).await
        }
    }
}

#[derive(Template)]
#[template(path = "edit.html")]
struct EditPage {
    email: String,
    csrf: String,
    client_id: String,
    label: String,
    scopes: Vec<(String, bool)>,
    error: Option<String>,
    nonce: String,
}

async fn edit_view(
    state: &AppState,
    admin: &PanelAdmin,
    client_id: &str,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    let c = match api::own_credential(state, &admin.actor, client_id).await {
        Ok(c) => c,
        Err(e) => return error_page(&e, "/admin/credentials"),
    };
    let ceiling = match api::ceiling(state, &admin.actor).await {
        Ok(c) => c,
        Err(e) => return error_page(&e, "/admin/credentials"),
    };
    html(
        status,
        &EditPage {
            email: admin.email.clone(),
            csrf: admin.csrf.clone(),
            client_id: c.client_id.as_str().to_owned(),
            label: c.label.clone(),
            scopes: ceiling
                .iter()
                .map(|s| (s.to_string(), c.scopes.contains(s)))
                .collect(),
            error,
            nonce: new_nonce(),
        },
    )
}

pub(super) async fn edit_page(
    State(state): State<AppState>,
    admin: PanelAdmin,
    Path(id): Path<String>,
) -> Response {
    edit_view(&state, &admin, &id, StatusCode::OK, None).await
}

pub(super) async fn update(
    State(state): State<AppState>,
    admin: PanelAdmin,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    let result = async {
        form.check_csrf(&admin.csrf)?;
        let changes = CredentialChanges {
            label: form.get("label").map(str::to_owned),
            scopes: Some(form.scopes()?),
        };
        ops::update(&state, &admin.actor, &id, changes).await
    }
    .await;
    match result {
        Ok(_) => Redirect::to("/admin/credentials?done=updated").into_response(),
        Err(e @ AdminApiError::Csrf) => error_page(&e, "/admin/credentials"),
        Err(e) if e.is_not_found() => error_page(&e, "/admin/credentials"),
        Err(e) => {
            let (status, _, message) = e.parts();
            edit_view(&state, &admin, &id, status, Some(message)).await
        }
    }
}

pub(super) async fn rotate(
    State(state): State<AppState>,
    admin: PanelAdmin,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    if let Some(refused) = guard_secret_form(&state, &admin, &form) {
        return refused;
    }
    let result = async {
        form.check_csrf(&admin.csrf)?;
        let grace = form
            .get("grace")
            .filter(|g| !g.is_empty())
            .map(|g| g.trim().parse::<i64>())
            .transpose()
            .map_err(|_| {
                AdminApiError::InvalidInput("grace must be a whole number of seconds".into())
            })?
            .unwrap_or(0);
        ops::rotate(&state, &admin.actor, &id, grace).await
    }
    .await;
    match result {
        Ok(r) => secret_page(&state, &admin, StatusCode::OK, "Secret rotated.", &r).await,
        Err(e @ AdminApiError::Csrf) => error_page(&e, "/admin/credentials"),
        Err(e) if e.is_not_found() => error_page(&e, "/admin/credentials"),
        Err(e) => {
            let (status, _, message) = e.parts();
            edit_view(&state, &admin, &id, status, Some(message)).await
        }
    }
}

#[derive(Template)]
#[template(path = "delete.html")]
struct DeletePage {
    email: String,
    csrf: String,
    client_id: String,
    label: String,
}

pub(super) async fn delete_page(
    State(state): State<AppState>,
    admin: PanelAdmin,
    Path(id): Path<String>,
) -> Response {
    match api::own_credential(&state, &admin.actor, &id).await {
        Ok(c) => html(
            StatusCode::OK,
            &DeletePage {
                email: admin.email.clone(),
                csrf: admin.csrf.clone(),
                client_id: c.client_id.as_str().to_owned(),
                label: c.label,
            },
        ),
        Err(e) => error_page(&e, "/admin/credentials"),
    }
}

pub(super) async fn delete(
    State(state): State<AppState>,
    admin: PanelAdmin,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    let result = async {
        form.check_csrf(&admin.csrf)?;
        ops::delete(&state, &admin.actor, &id).await
    }
    .await;
    match result {
        Ok(()) => Redirect::to("/admin/credentials?done=deleted").into_response(),
        Err(e) => error_page(&e, "/admin/credentials"),
    }
}
