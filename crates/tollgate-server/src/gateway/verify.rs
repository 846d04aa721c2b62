//! `/auth/verify`: the forward-auth answer for a proxy in front (nginx `auth_request`, Traefik
//! `forwardAuth`, Envoy `ext_authz`), from the same route table and checks as the gateway.

use axum::body::Body;
use axum::extract::State;
use axum::http::request::Parts;
use axum::http::{HeaderName, Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};

use super::proxy::set_identity;
use crate::error::ApiError;
use crate::state::AppState;

/// The path of the endpoint; Envoy appends the original path to it.
pub(crate) const PATH: &str = "/auth/verify";

const ORIGINAL_METHOD: [HeaderName; 2] = [
    HeaderName::from_static("x-original-method"),
    HeaderName::from_static("x-forwarded-method"),
];
const ORIGINAL_URI: [HeaderName; 2] = [
    HeaderName::from_static("x-original-uri"),
    HeaderName::from_static("x-forwarded-uri"),
];

/// The operation's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(verify), tags((name = "gateway", description = "Forward-auth for a proxy in front")))]
pub(crate) struct Doc;

/// 200 with the identity headers, or the refusal the gateway would give (401, 403, 429, 400, 404,
/// 405) with its body and `WWW-Authenticate` challenge.
#[utoipa::path(
    get,
    path = "/auth/verify",
    tag = "gateway",
    description = "Any method is accepted. The original request is read from X-Original-Method / X-Original-URI (nginx), X-Forwarded-Method / X-Forwarded-Uri (Traefik), or this request's own method and the path after /auth/verify (Envoy), and matched against [[gateway.routes]].",
    params(
        ("X-Original-URI" = Option<String>, Header, description = "The original request's URI (nginx)"),
        ("X-Original-Method" = Option<String>, Header, description = "The original request's method (nginx)"),
        ("X-Forwarded-Uri" = Option<String>, Header, description = "The original request's URI (Traefik)"),
        ("X-Forwarded-Method" = Option<String>, Header, description = "The original request's method (Traefik)"),
    ),
    responses(
        (status = 200, description = "Allowed: who calls", headers(
            ("X-Tollgate-Client-Id" = String, description = "The caller's client ID"),
            ("X-Tollgate-Company-Id" = String, description = "The caller's company"),
            ("X-Tollgate-Scopes" = String, description = "The token's scopes in force, space separated"),
        )),
        (status = 400, description = "Version header missing or unsupported, no original URI, or a path not in normal form", body = crate::schemas::ApiErrorDoc),
        (status = 401, description = "invalid_token", body = crate::schemas::OAuthErrorDoc),
        (status = 403, description = "invalid_scope: the route needs a scope the token lacks", body = crate::schemas::ApiErrorDoc),
        (status = 404, description = "No route for the original path", body = crate::schemas::ApiErrorDoc),
        (status = 405, description = "The route names no scopes for the original method", body = crate::schemas::ApiErrorDoc),
        (status = 429, description = "Over the company's API budget", body = crate::schemas::TooManyRequestsDoc, headers(("Retry-After" = u64, description = "Seconds until the budget refills"))),
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn verify(State(state): State<AppState>, req: Request<Body>) -> Response {
    let (parts, _) = req.into_parts();
    match try_verify(&state, &parts).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn try_verify(state: &AppState, parts: &Parts) -> Result<Response, ApiError> {
    let (method, target) = original_request(parts)?;
    let path = target.split(['?', '#']).next().unwrap_or(target);
    super::normal_path(path)?;
    let route = state
        .gateway
        .table()
        .find(path)
        .cloned()
        .ok_or(ApiError::NoSuchRoute)?;
    let access = super::admit(state, &route, &method, &parts.headers).await?;
    let mut resp = StatusCode::OK.into_response();
    set_identity(resp.headers_mut(), &access);
    Ok(resp)
}

/// The original method and URI: from nginx's `X-Original-*` or Traefik's `X-Forwarded-*` headers,
/// else (Envoy's `path_prefix`) this request's own method and the path after [`PATH`].
fn original_request(parts: &Parts) -> Result<(Method, &str), ApiError> {
    let header = |names: &[HeaderName; 2]| {
        names
            .iter()
            .find_map(|n| parts.headers.get(n))
            .map(|v| {
                v.to_str().map_err(|_| {
                    ApiError::invalid_input(format!("the {} header is not text", names[0]))
                })
            })
            .transpose()
    };
    let method = match header(&ORIGINAL_METHOD)? {
        Some(m) => Method::from_bytes(m.trim().as_bytes())
            .map_err(|_| ApiError::invalid_input("X-Original-Method is not a method"))?,
        None => parts.method.clone(),
    };
    if let Some(uri) = header(&ORIGINAL_URI)? {
        return Ok((method, uri));
    }
    let after = parts
        .uri
        .path_and_query()
        .map_or("", |pq| pq.as_str())
        .strip_prefix(PATH)
        .filter(|rest| rest.starts_with('/'));
    match after {
        Some(rest) => Ok((method, rest)),
        None => Err(ApiError::invalid_input(
            "the original URI is required: X-Original-URI (nginx), X-Forwarded-Uri (Traefik), or \
             the path after /auth/verify (Envoy's path_prefix)",
        )),
    }
}
