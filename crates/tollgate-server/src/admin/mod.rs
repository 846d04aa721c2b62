//! The admin side: the web panel (`/admin`) and the admin JSON API (`/admin/api/v1/`).

pub(crate) mod api;
pub(crate) mod audit;
pub(crate) mod auth;
pub(crate) mod pages;
pub(crate) mod protect;
pub(crate) mod usage;
pub(crate) mod webhooks;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::state::AppState;

/// What the panel may load: its own stylesheet and script, nothing inline, and no framing.
const PANEL_CSP: &str = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
     form-action 'self'; object-src 'none'";

/// Headers on every admin response (panel pages, their assets and the admin API): nothing is
/// cached or sniffed, no referrer leaves the panel, and pages obey [`PANEL_CSP`]. Admin API
/// responses may carry a client secret (create, rotate): `no-store` keeps it out of every cache.
async fn security_headers(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let asset = req.uri().path().starts_with("/admin/assets/");
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    let set = |h: &mut axum::http::HeaderMap, name: HeaderName, value: &'static str| {
        h.insert(name, HeaderValue::from_static(value));
    };
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::REFERRER_POLICY, "no-referrer");
    set(h, header::CONTENT_SECURITY_POLICY, PANEL_CSP);
    if !asset {
        set(h, header::CACHE_CONTROL, "no-store");
    }
    resp
}

/// The panel's stylesheet and script, from the binary.
async fn asset_css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../assets/panel.css"),
    )
}

async fn asset_js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../assets/panel.js"),
    )
}

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
            "/admin/api/v1/credentials/revoke-leaked",
            post(api::revoke_leaked),
        )
        .route(
            "/admin/api/v1/credentials/{client_id}/rotate",
            post(api::rotate_credential),
        )
        .route(
            "/admin/api/v1/credentials/{client_id}/secrets/{secret_id}",
            axum::routing::delete(api::end_secret),
        )
        .route(
            "/admin/api/v1/users",
            get(api::list_users).post(api::create_user),
        )
        .route(
            "/admin/api/v1/users/{id}",
            axum::routing::patch(api::update_user).delete(api::delete_user),
        )
        .route(
            "/admin/api/v1/webhooks",
            get(webhooks::list).post(webhooks::create),
        )
        .route(
            "/admin/api/v1/webhooks/{id}",
            get(webhooks::get)
                .patch(webhooks::update)
                .delete(webhooks::delete),
        )
        .route(
            "/admin/api/v1/webhooks/{id}/rotate-secret",
            post(webhooks::rotate_secret),
        )
        .route(
            "/admin/api/v1/webhooks/{id}/test",
            post(webhooks::send_test),
        )
        .route(
            "/admin/api/v1/webhooks/{id}/deliveries",
            get(webhooks::deliveries),
        )
        .route("/admin/api/v1/audit", get(api::list_audit))
        .route("/admin/api/v1/session", get(api::session))
        .route("/admin/assets/panel.css", get(asset_css))
        .route("/admin/assets/panel.js", get(asset_js))
        .merge(pages::routes())
        .layer(axum::middleware::from_fn(security_headers))
}
