//! The admin side: the web panel (`/admin`) and the admin JSON API (`/admin/api/v1/`).

pub(crate) mod api;
pub(crate) mod audit;
pub(crate) mod auth;
mod doc;
pub(crate) mod pages;
pub(crate) mod protect;
pub(crate) mod usage;
pub(crate) mod webhooks;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

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

/// The admin JSON API's routes, each path with its methods and handlers, made into both the router
/// ([`api_routes`]) and this module's part of the OpenAPI document ([`Doc`], from the handlers'
/// `#[utoipa::path]` annotations): a route cannot be served undocumented. [`API_ROUTES`] lists them
/// again, for the test that each handler's annotation names the path and method it is routed at.
macro_rules! admin_api {
    ($($path:literal => { $($method:ident: $module:ident :: $handler:ident),+ $(,)? })+) => {
        fn api_routes() -> Router<AppState> {
            Router::new()
                $(.route($path, axum::routing::MethodRouter::new()$(.$method($module::$handler))+))+
        }

        /// The admin API's part of the OpenAPI document.
        #[derive(utoipa::OpenApi)]
        #[openapi(paths($($($module::$handler),+),+))]
        pub(crate) struct Doc;

        /// Every admin API route: path and methods.
        #[cfg(test)]
        pub(crate) const API_ROUTES: &[(&str, &[&str])] =
            &[$(($path, &[$(stringify!($method)),+])),+];
    };
}

admin_api! {
    "/admin/api/v1/credentials" => {
        get: api::list_credentials,
        post: api::create_credential,
    }
    "/admin/api/v1/credentials/{client_id}" => {
        get: api::get_credential,
        patch: api::update_credential,
        delete: api::delete_credential,
    }
    "/admin/api/v1/credentials/revoke-leaked" => { post: api::revoke_leaked }
    "/admin/api/v1/credentials/{client_id}/rotate" => { post: api::rotate_credential }
    "/admin/api/v1/credentials/{client_id}/secrets/{secret_id}" => { delete: api::end_secret }
    "/admin/api/v1/users" => { get: api::list_users, post: api::create_user }
    "/admin/api/v1/users/{id}" => { patch: api::update_user, delete: api::delete_user }
    "/admin/api/v1/webhooks" => { get: webhooks::list, post: webhooks::create }
    "/admin/api/v1/webhooks/{id}" => {
        get: webhooks::get,
        patch: webhooks::update,
        delete: webhooks::delete,
    }
    "/admin/api/v1/webhooks/{id}/rotate-secret" => { post: webhooks::rotate_secret }
    "/admin/api/v1/webhooks/{id}/test" => { post: webhooks::send_test }
    "/admin/api/v1/webhooks/{id}/deliveries" => { get: webhooks::deliveries }
    "/admin/api/v1/audit" => { get: api::list_audit }
    "/admin/api/v1/session" => { get: api::session }
}

/// Routes of the panel and the admin API.
pub(crate) fn routes() -> Router<AppState> {
    api_routes()
        .route("/admin/assets/panel.css", get(asset_css))
        .route("/admin/assets/panel.js", get(asset_js))
        .merge(pages::routes())
        .layer(axum::middleware::from_fn(security_headers))
}

#[cfg(test)]
mod tests {
    use utoipa::OpenApi as _;

    /// Each handler's `#[utoipa::path]` names the path and the method it is routed at, and the
    /// document has no other admin operation.
    #[test]
    fn the_document_names_each_route_as_routed() {
        let doc = serde_json::to_value(super::Doc::openapi()).unwrap();
        let mut documented: Vec<(String, String)> = doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(path, item)| {
                item.as_object()
                    .unwrap()
                    .keys()
                    .filter(|k| k.as_str() != "parameters")
                    .map(move |m| (path.clone(), m.clone()))
            })
            .collect();
        let mut routed: Vec<(String, String)> = super::API_ROUTES
            .iter()
            .flat_map(|(path, methods)| {
                methods
                    .iter()
                    .map(|m| ((*path).to_owned(), (*m).to_owned()))
            })
            .collect();
        documented.sort();
        routed.sort();
        assert_eq!(documented, routed);
        assert!(routed.len() >= 20, "{routed:?}");
    }
}
