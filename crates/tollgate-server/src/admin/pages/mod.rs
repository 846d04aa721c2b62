//! The web panel: server-rendered (askama, escaped by default), usable without JavaScript. Sessions
//! live in an HttpOnly, SameSite=Strict cookie (Secure when the issuer is https); every form carries
//! the session's CSRF token.
//!
//! - `panel`: what every page uses (rendering, error page, user extractors, forms).
//! - `login`: log in and out, the members' home page.
//! - `credentials`: list, create, edit, rotate, delete.
//! - `users`: the company's users and roles; the audit log.
//! - `webhooks`: the company's webhook endpoints and their deliveries.

mod credentials;
mod login;
mod panel;
mod scopes;
mod users;
mod webhooks;
mod when;

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;
use credentials::{
    create, credentials, delete, delete_page, edit_page, end_secret, revoke_leaked, rotate, update,
};
use login::{change_password, change_password_page, home, login, login_page, logout};
use users::{add_user, audit, audit_export, remove_user, set_role, users};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin", get(home))
        .route("/admin/login", get(login_page).post(login))
        .route("/admin/logout", post(logout))
        .route(
            "/admin/password",
            get(change_password_page).post(change_password),
        )
        .route("/admin/credentials", get(credentials).post(create))
        .route(
            "/admin/credentials/{client_id}",
            get(edit_page).post(update),
        )
        .route("/admin/credentials/revoke-leaked", post(revoke_leaked))
        .route("/admin/credentials/{client_id}/rotate", post(rotate))
        .route(
            "/admin/credentials/{client_id}/secrets/{secret_id}/revoke",
            post(end_secret),
        )
        .route(
            "/admin/credentials/{client_id}/delete",
            get(delete_page).post(delete),
        )
        .route("/admin/users", get(users).post(add_user))
        .route("/admin/users/{id}/role", post(set_role))
        .route("/admin/users/{id}/delete", post(remove_user))
        .route(
            "/admin/webhooks",
            get(webhooks::webhooks).post(webhooks::create),
        )
        .route(
            "/admin/webhooks/{id}",
            get(webhooks::webhook).post(webhooks::update),
        )
        .route("/admin/webhooks/{id}/test", post(webhooks::send_test))
        .route("/admin/webhooks/{id}/rotate", post(webhooks::rotate))
        .route("/admin/webhooks/{id}/delete", post(webhooks::delete))
        .route("/admin/audit", get(audit))
        .route("/admin/audit/export", get(audit_export))
}
