//! RFC 8414 authorization server metadata and the JWKS.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tollgate_core::catalog::ScopeCatalog;

use crate::state::AppState;

/// The metadata document, built once at start.
/// The RFC 8414 metadata; every algorithm tollgate signs with is listed (a key of any of them may
/// still be published after a change of `signing_alg`).
pub(crate) fn metadata(issuer: &str, catalog: &ScopeCatalog) -> Arc<Value> {
    let algs: Vec<&str> = tollgate_proto::SigningAlg::ALL
        .iter()
        .map(|a| a.as_str())
        .collect();
    let auth_methods = ["client_secret_basic", "client_secret_post"];
    Arc::new(json!({
        "issuer": issuer,
        "token_endpoint": format!("{issuer}/api/v2/oauth2/token"),
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "introspection_endpoint": format!("{issuer}/api/v2/oauth2/introspect"),
        "revocation_endpoint": format!("{issuer}/api/v2/oauth2/revoke"),
        "grant_types_supported": ["client_credentials"],
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "scopes_supported": catalog.all(),
        "access_token_signing_alg_values_supported": algs,
        "service_documentation": format!("{issuer}/docs"),
    }))
}

/// `GET /.well-known/oauth-authorization-server` (RFC 8414).
#[utoipa::path(get, path = "/.well-known/oauth-authorization-server", tag = "discovery",
    responses((status = 200, description = "Authorization server metadata", body = serde_json::Value)))]
pub(crate) async fn server_metadata(State(state): State<AppState>) -> Response {
    (
        [(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=300"),
        )],
        Json(Value::clone(&state.metadata)),
    )
        .into_response()
}

/// `GET /.well-known/openid-configuration`: the same document, for clients that only look there.
#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "discovery",
    responses((status = 200, description = "Authorization server metadata", body = serde_json::Value)))]
pub(crate) async fn openid_configuration(state: State<AppState>) -> Response {
    server_metadata(state).await
}

/// `GET /.well-known/jwks.json`: every published key (the current one and, during a rotation's
/// overlap, the previous ones).
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "discovery",
    responses((status = 200, description = "Published signing keys", body = JwksDoc)))]
pub(crate) async fn jwks(State(state): State<AppState>) -> Response {
    let ring = state.authority.keys();
    let keys: Vec<&Value> = ring.public_keys().iter().map(|k| &k.jwk).collect();
    (
        [(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=60"),
        )],
        Json(json!({ "keys": keys })),
    )
        .into_response()
}

/// This module's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(server_metadata, openid_configuration, jwks),
    components(schemas(JwksDoc))
)]
pub(crate) struct Doc;

/// A JSON Web Key Set.
#[derive(utoipa::ToSchema)]
#[schema(as = Jwks)]
#[allow(dead_code)]
pub(crate) struct JwksDoc {
    /// Published keys (JWK objects with `kid`, `alg`, `use`).
    keys: Vec<serde_json::Value>,
}
