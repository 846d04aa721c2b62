//! The users page (add, change role, remove) and the audit log.

use super::panel::{ErrorOn as _, Form, FormError, PanelAdmin, error_page, html};
use super::when::When;
use crate::error::AdminApiError;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use tollgate_core::accounts::Role;

struct UserRow {
    id: String,
    email: String,
    role: String,
    created_at: When,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    email: String,
    csrf: String,
    users: Vec<UserRow>,
    roles: Vec<String>,
    error: Option<FormError>,
    /// What the last action did.
    notice: Option<String>,
    /// The add-user form's email and role, as a refused form had them.
    new_email: String,
    new_role: String,
}

async fn users_page(
    state: &AppState,
    admin: &PanelAdmin,
    status: StatusCode,
    error: Option<FormError>,
    draft: Option<&Form>,
    notice: Option<String>,
) -> Response {
    let list = match state.accounts.users(&admin.actor).await {
        Ok(l) => l,
        Err(e) => return error_page(&e.into(), "/admin"),
    };
    let now = state.accounts.now();
    html(
        status,
        &UsersPage {
            email: admin.email.clone(),
            csrf: admin.csrf.clone(),
            users: list
                .iter()
                .map(|u| UserRow {
                    id: u.id.to_string(),
                    email: u.email.as_str().to_owned(),
                    role: u.role.as_str().to_owned(),
                    created_at: When::new(u.created_at, now),
                })
                .collect(),
            roles: [Role::Owner, Role::Admin, Role::Member]
                .iter()
                .map(|r| r.as_str().to_owned())
                .collect(),
            error,
            notice,
            new_email: draft.and_then(|f| f.get("email")).unwrap_or("").to_owned(),
            new_role: draft
                .and_then(|f| f.get("role"))
                .unwrap_or("member")
                .to_owned(),
        },
    )
}

#[derive(serde::Deserialize)]
pub(super) struct Done {
    done: Option<String>,
}

pub(super) async fn users(
    State(state): State<AppState>,
    admin: PanelAdmin,
    Query(d): Query<Done>,
) -> Response {
    let notice = d.done.as_deref().map(|d| {
        match d {
            "added" => "User added.",
            "role" => "Role changed.",
            "removed" => "User removed; their sessions ended.",
            _ => "Done.",
        }
        .to_owned()
    });
    users_page(&state, &admin, StatusCode::OK, None, None, notice).await
}

async fn users_result(
    state: &AppState,
    admin: &PanelAdmin,
    r: Result<(), AdminApiError>,
    draft: Option<&Form>,
    done: &str,
) -> Response {
    match r {
        Ok(()) => Redirect::to(&format!("/admin/users?done={done}")).into_response(),
        Err(AdminApiError::Csrf) => error_page(&AdminApiError::Csrf, "/admin/users"),
        Err(e) => {
            // Errors of the add form go next to its fields; the others above the list.
            let error = match draft {
                Some(_) => FormError::of(&e),
                None => FormError::at("form", &e.parts().2),
            };
            users_page(state, admin, e.parts().0, Some(error), draft, None).await
        }
    }
}

pub(super) async fn add_user(
    State(state): State<AppState>,
    admin: PanelAdmin,
    form: Form,
) -> Response {
    let r = async {
        form.check_csrf(&admin.csrf)?;
        let role: Role = form.get("role").unwrap_or("").parse()?;
        state
            .accounts
            .create_user(
                &admin.actor.company_id(),
                form.get("email").unwrap_or(""),
                role,
                form.get("password").unwrap_or(""),
                Some(&admin.actor),
            )
            .await?;
        Ok(())
    }
    .await;
    users_result(&state, &admin, r, Some(&form), "added").await
}

fn parse_user_id(id: &str) -> Result<tollgate_core::accounts::UserId, AdminApiError> {
    tollgate_core::accounts::UserId::parse(id)
        .map_err(|_| tollgate_core::accounts::AccountError::UserNotFound.into())
}

pub(super) async fn set_role(
    State(state): State<AppState>,
    admin: PanelAdmin,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    let r = async {
        form.check_csrf(&admin.csrf)?;
        let role: Role = form.get("role").unwrap_or("").parse()?;
        state
            .accounts
            .set_role(&admin.actor, &parse_user_id(&id)?, role)
            .await?;
        Ok(())
    }
    .await;
    users_result(&state, &admin, r, None, "role").await
}

pub(super) async fn remove_user(
    State(state): State<AppState>,
    admin: PanelAdmin,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    let r = async {
        form.check_csrf(&admin.csrf)?;
        state
            .accounts
            .remove_user(&admin.actor, &parse_user_id(&id)?)
            .await?;
        Ok(())
    }
    .await;
    users_result(&state, &admin, r, None, "removed").await
}

// ---------- audit ----------

/// Entries on one page of the audit log.
const AUDIT_PAGE: u32 = 50;

struct EventRow {
    at: When,
    actor: String,
    action: String,
    code: String,
    target: String,
    remote: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    email: String,
    csrf: String,
    events: Vec<EventRow>,
    /// The filters as sent, to show them in the form again.
    action: String,
    actor: String,
    credential: String,
    since: String,
    until: String,
    /// Every action (code, label) and the company's credentials (client ID, label), for the
    /// filters' choices.
    actions: Vec<(String, String)>,
    credentials: Vec<(String, String)>,
    /// The link to the next (older) page, if there is one.
    older: Option<String>,
    /// The filters as a query string, for the export links.
    filters: String,
    error: Option<FormError>,
}

/// Who did it, as people read it.
fn actor_label(actor: &str, labels: &std::collections::HashMap<String, String>) -> String {
    match actor.split_once(':') {
        Some(("user", email)) => email.to_owned(),
        Some(("client", id)) => match labels.get(id) {
            Some(label) => format!("API client {id} ({label})"),
            None => format!("API client {id}"),
        },
        _ => match actor {
            "operator" => "platform operator (CLI)".to_owned(),
            "system" => "tollgate (automatic)".to_owned(),
            "anonymous" => "nobody logged in".to_owned(),
            other => other.to_owned(),
        },
    }
}

/// The target, with the credential's label after a client ID.
fn target_label(target: &str, labels: &std::collections::HashMap<String, String>) -> String {
    let id = target.split(' ').next().unwrap_or(target);
    match labels.get(id) {
        Some(label) => format!("{target} · {label}"),
        None => target.to_owned(),
    }
}

pub(super) async fn audit(
    State(state): State<AppState>,
    admin: PanelAdmin,
    params: Result<
        Query<crate::admin::audit::AuditParams>,
        axum::extract::rejection::QueryRejection,
    >,
) -> Response {
    let (params, error) = match params {
        Ok(Query(p)) => (p, None),
        Err(e) => (
            crate::admin::audit::AuditParams::default(),
            Some(crate::admin::audit::bad_params(e)),
        ),
    };
    let company = admin.actor.company_id();
    let credentials = match state.admin.credentials(&company).await {
        Ok(c) => c,
        Err(e) => return error_page(&e.into(), "/admin"),
    };
    let labels: std::collections::HashMap<String, String> = credentials
        .iter()
        .map(|c| (c.client_id.as_str().to_owned(), c.label.clone()))
        .collect();
    let mut status = StatusCode::OK;
    let (entries, error) = match error.map_or_else(|| params.query(AUDIT_PAGE), Err) {
        Ok(q) => match state.accounts.query_audit(&company, &q).await {
            Ok(entries) => (entries, None),
            Err(e) => return error_page(&e.into(), "/admin"),
        },
        Err(e) => {
            status = e.parts().0;
            (Vec::new(), Some(FormError::at("form", &e.parts().2)))
        }
    };
    let filters = params.filters_query();
    let older = (entries.len() == AUDIT_PAGE as usize)
        .then(|| {
            entries
                .last()
                .map(|e| format!("/admin/audit?before={}{filters}", e.seq))
        })
        .flatten();
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let now = state.accounts.now();
    html(
        status,
        &AuditPage {
            email: admin.email.clone(),
            csrf: admin.csrf.clone(),
            events: entries
                .into_iter()
                .map(|e| {
                    let ev = e.event;
                    EventRow {
                        at: When::new(ev.at, now),
                        actor: actor_label(&ev.actor, &labels),
                        action: ev.action.label().to_owned(),
                        code: ev.action.as_str().to_owned(),
                        target: target_label(&ev.target, &labels),
                        remote: ev.remote_addr.unwrap_or_default(),
                    }
                })
                .collect(),
            action: text(&params.action),
            actor: text(&params.actor),
            credential: text(&params.credential),
            since: text(&params.since),
            until: text(&params.until),
            actions: tollgate_core::accounts::AuditAction::ALL
                .iter()
                .map(|a| (a.as_str().to_owned(), a.label().to_owned()))
                .collect(),
            credentials: credentials
                .iter()
                .map(|c| (c.client_id.as_str().to_owned(), c.label.clone()))
                .collect(),
            older,
            filters,
            error,
        },
    )
}

/// `GET /admin/audit/export?format=csv|ndjson&…`: every entry the filters select (at most
/// 100,000), as a download.
pub(super) async fn audit_export(
    State(state): State<AppState>,
    admin: PanelAdmin,
    params: Result<
        Query<crate::admin::audit::AuditParams>,
        axum::extract::rejection::QueryRejection,
    >,
) -> Response {
    use axum::http::{HeaderValue, header};
    let result = async {
        let Query(params) = params.map_err(crate::admin::audit::bad_params)?;
        let query = params.query(crate::admin::audit::MAX_PAGE)?;
        let (kind, ext, render): (&str, &str, fn(&[_]) -> String) = match params.format.as_deref() {
            Some("csv") => ("text/csv; charset=utf-8", "csv", crate::admin::audit::csv),
            Some("ndjson") => (
                "application/x-ndjson",
                "ndjson",
                crate::admin::audit::ndjson,
            ),
            _ => {
                return Err(AdminApiError::InvalidInput(
                    "format must be csv or ndjson".into(),
                ));
            }
        };
        let entries =
            crate::admin::audit::all_entries(&state, &admin.actor.company_id(), query).await?;
        Ok::<_, AdminApiError>((kind, ext, render(&entries)))
    }
    .await;
    match result {
        Ok((kind, ext, body)) => {
            let disposition = format!("attachment; filename=\"tollgate-audit.{ext}\"");
            (
                [
                    (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
                    (
                        header::CONTENT_DISPOSITION,
                        HeaderValue::from_str(&disposition)
                            .unwrap_or(HeaderValue::from_static("attachment")),
                    ),
                    (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
                ],
                body,
            )
                .into_response()
        }
        Err(e) => error_page(&e, "/admin/audit"),
    }
}
