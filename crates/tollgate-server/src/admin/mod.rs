//! The admin side: the web panel (`/admin`) and the admin JSON API (`/admin/api/v1/`).

pub(crate) mod api;
pub(crate) mod auth;
pub(crate) mod pages;
pub(crate) mod protect;

use axum::Router;
use axum::routing::{get, post};

use crate::state::AppState;

/// Routes of the panel and the admin API.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/admin/api/v1/credentials",
            get(api::list_credentials).post(api::create_credential),
        )
        .route(
            "/admin/api/v1/credentials/{client_id}",
            get(api::get_credential)
                .patch(api::update_credential)
                .delete(api::delete_credential),
        )
        .route(
            "/admin/api/v1/credentials/{client_id}/rotate",
            post(api::rotate_credential),
        )
        .route(
            "/admin/api/v1/users",
            get(api::list_users).post(api::create_user),
        )
        .route(
            "/admin/api/v1/users/{id}",
            axum::routing::patch(api::update_user).delete(api::delete_user),
        )
        .route("/admin/api/v1/audit", get(api::list_audit))
        .route("/admin/api/v1/session", get(api::session))
        .merge(pages::routes())
}
