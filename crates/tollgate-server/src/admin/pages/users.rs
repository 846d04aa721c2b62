//! The users page (add, change role, remove) and the audit log.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use tollgate_core::accounts::Role;
use tollgate_core::clock::rfc3339;

use super::panel::{ErrorOn as _, Form, FormError, PanelAdmin, error_page, html};
use crate::error::AdminApiError;
use crate::state::AppState;

struct UserRow {
    id: String,
    email: String,
    role: String,
    created_at: String,
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
                    created_at: rfc3339(u.created_at),
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

struct EventRow {
    at: String,
    actor: String,
    action: String,
    target: String,
    remote: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    email: String,
    csrf: String,
    events: Vec<EventRow>,
}

pub(super) async fn audit(State(state): State<AppState>, admin: PanelAdmin) -> Response {
    match state.accounts.audit(&admin.actor.company_id(), 500).await {
        Ok(events) => html(
            StatusCode::OK,
            &AuditPage {
                email: admin.email.clone(),
                csrf: admin.csrf.clone(),
                events: events
                    .into_iter()
                    .map(|e| EventRow {
                        at: rfc3339(e.at),
                        actor: e.actor,
                        action: e.action.to_string(),
                        target: e.target,
                        remote: e.remote_addr.unwrap_or_default(),
                    })
                    .collect(),
            },
        ),
        Err(e) => error_page(&e.into(), "/admin"),
    }
}
