//! The token endpoint, RFC 7662 introspection and RFC 7009 revocation. A request is parsed once
//! (`parse`) into a [`TokenRequest`]; then the authority authenticates the client and signs a token
//! without touching the database.

mod parse;

use axum::body::Body;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tollgate_core::authority::{ClientAuthFailure, IssueError};
use tollgate_core::ids::ClientId;
use tollgate_proto::TokenResponse;
use utoipa::ToSchema;

use crate::error::TokenError;
use crate::metrics::TokenOutcome;
use crate::state::AppState;
use parse::ManagementRequest;
pub use parse::TokenRequest;

/// `POST /api/v2/oauth2/token`: the client credentials grant.
#[utoipa::path(
    post,
    path = "/api/v2/oauth2/token",
    tag = "oauth",
    request_body(content(
        (TokenRequestDoc = "application/json"),
        (TokenRequestDoc = "application/x-www-form-urlencoded"),
    )),
    responses(
        (status = 200, description = "A token (`Cache-Control: no-store`)", body = TokenResponseDoc),
        (status = 400, description = "invalid_request, unsupported_grant_type, invalid_scope, invalid_target (a `resource` malformed or not the credential's)", body = crate::schemas::OAuthErrorDoc),
        (status = 401, description = "invalid_client", body = crate::schemas::OAuthErrorDoc),
        (status = 413, description = "Body over the limit", body = crate::schemas::OAuthErrorDoc),
        (status = 415, description = "Unsupported content type", body = crate::schemas::OAuthErrorDoc),
        (status = 429, description = "Over a rate limit: failed authentications by this address or client ID, token requests by this client ID, or the credential's issuance quota (new tokens per hour)", body = crate::schemas::TooManyRequestsDoc, headers(("Retry-After" = u64, description = "Seconds until the budget refills"))),
    ),
    security((), ("client_basic" = [])),
)]
pub(crate) async fn token(State(state): State<AppState>, req: Request) -> Response {
    let result = token_inner(&state, req).await;
    state.metrics.token(match &result {
        Ok(_) => TokenOutcome::Issued,
        Err(TokenError::InvalidClient { .. }) => TokenOutcome::InvalidClient,
        Err(TokenError::InvalidScope(_)) => TokenOutcome::InvalidScope,
        Err(TokenError::InvalidTarget(_)) => TokenOutcome::InvalidTarget,
        Err(TokenError::UnsupportedGrantType) => TokenOutcome::UnsupportedGrantType,
        Err(TokenError::TooManyRequests(_)) => TokenOutcome::RateLimited,
        Err(TokenError::QuotaExceeded(_)) => TokenOutcome::QuotaExceeded,
        Err(TokenError::Internal) => TokenOutcome::Error,
        Err(_) => TokenOutcome::InvalidRequest,
    });
    match result {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

/// The body, up to the configured limit.
async fn read_body(state: &AppState, body: Body) -> Result<Bytes, TokenError> {
    axum::body::to_bytes(body, state.max_body_bytes)
        .await
        .map_err(|e| {
            let too_large = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            if too_large {
                TokenError::PayloadTooLarge(state.max_body_bytes)
            } else {
                TokenError::InvalidRequest("the body could not be read".into())
            }
        })
}

fn no_store_json(status: StatusCode, bytes: Vec<u8>) -> Response {
    (
        status,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (header::PRAGMA, HeaderValue::from_static("no-cache")),
        ],
        bytes,
    )
        .into_response()
}

/// An introspection or revocation request whose caller is authenticated.
struct Managed {
    token: String,
    caller: tollgate_core::ids::ClientId,
    company: tollgate_core::ids::CompanyId,
}

/// Parses an introspection or revocation request and authenticates its caller, under the same
/// rate limits as the token endpoint (without the token-request budget).
async fn management_request(state: &AppState, req: Request) -> Result<Managed, TokenError> {
    let (gate, req) = gated(state, req, ManagementRequest::parse).await?;
    gate.client(&req.client_id, false).await?;
    let authenticated = match ClientId::parse(&req.client_id) {
        Ok(id) => {
            state
                .authority
                .authenticate_or_catch_up(&*state.store, &id, &req.secret, gate.ip())
                .await
        }
        Err(_) => Err(ClientAuthFailure::UnknownClient),
    };
    let (caller, company) = match authenticated {
        Ok(found) => found,
        Err(why) => {
            gate.failed(Some(&req.client_id)).await;
            crate::webhooks::note_auth_failure(state, &req.client_id, why, gate.ip());
            return Err(TokenError::InvalidClient {
                basic: req.basic,
                why: why.description(),
            });
        }
    };
    let token = req
        .token
        .ok_or_else(|| TokenError::InvalidRequest("missing token".into()))?;
    Ok(Managed {
        token,
        caller,
        company,
    })
}

/// `POST /api/v2/oauth2/introspect` (RFC 7662). A caller sees only its own company's tokens;
/// everything else reads `{"active": false}`.
#[utoipa::path(
    post,
    path = "/api/v2/oauth2/introspect",
    tag = "oauth",
    request_body(content(
        (TokenManagementRequestDoc = "application/x-www-form-urlencoded"),
        (TokenManagementRequestDoc = "application/json"),
    )),
    responses(
        (status = 200, body = IntrospectionResponseDoc),
        (status = 400, description = "invalid_request", body = crate::schemas::OAuthErrorDoc),
        (status = 401, description = "invalid_client", body = crate::schemas::OAuthErrorDoc),
        (status = 429, description = "Over a rate limit: failed authentications by this address or client ID", body = crate::schemas::TooManyRequestsDoc, headers(("Retry-After" = u64, description = "Seconds until the budget refills"))),
    ),
    security((), ("client_basic" = [])),
)]
pub(crate) async fn introspect(State(state): State<AppState>, req: Request) -> Response {
    let req = match management_request(&state, req).await {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let bytes = match state.authority.introspect(&req.token, &req.company) {
        Some(i) => serde_json::to_vec(&i),
        None => serde_json::to_vec(&serde_json::json!({"active": false})),
    };
    match bytes {
        Ok(b) => no_store_json(StatusCode::OK, b),
        Err(_) => TokenError::Internal.into_response(),
    }
}

/// `POST /api/v2/oauth2/revoke` (RFC 7009). 200 for unknown, invalid or expired tokens; a token of
/// another client is refused; a revoked token is refused by the resource side at once.
#[utoipa::path(
    post,
    path = "/api/v2/oauth2/revoke",
    tag = "oauth",
    request_body(content(
        (TokenManagementRequestDoc = "application/x-www-form-urlencoded"),
        (TokenManagementRequestDoc = "application/json"),
    )),
    responses(
        (status = 200, description = "Revoked, or nothing to revoke"),
        (status = 400, description = "invalid_request, unauthorized_client (another client's token)", body = crate::schemas::OAuthErrorDoc),
        (status = 401, description = "invalid_client", body = crate::schemas::OAuthErrorDoc),
        (status = 429, description = "Over a rate limit: failed authentications by this address or client ID", body = crate::schemas::TooManyRequestsDoc, headers(("Retry-After" = u64, description = "Seconds until the budget refills"))),
    ),
    security((), ("client_basic" = [])),
)]
pub(crate) async fn revoke(State(state): State<AppState>, req: Request) -> Response {
    let req = match management_request(&state, req).await {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    if let Some(target) = state.authority.revocation_target(&req.token) {
        if target.client_id != req.caller {
            return TokenError::UnauthorizedClient(
                "the token was not issued to this client".into(),
            )
            .into_response();
        }
        if let Err(e) = state
            .store
            .revoke_token(&target.jti, &target.client_id, target.exp)
            .await
        {
            tracing::error!(error = %e, "could not record a revocation");
            return TokenError::Internal.into_response();
        }
        state.authority.note_revoked(&target);
    }
    no_store_json(StatusCode::OK, Vec::new())
}

/// The start of every request to the token, introspection and revocation endpoints: the address's
/// rate-limit gate, then the body read and parsed once by `parse`. A request refused while parsing
/// for its client authentication (a scheme other than Basic) counts as a failed authentication.
async fn gated<'s, T>(
    state: &'s AppState,
    req: Request,
    parse: impl FnOnce(&HeaderMap, &[u8]) -> Result<T, TokenError>,
) -> Result<(crate::ratelimit::Gate<'s>, T), TokenError> {
    let (parts, body) = req.into_parts();
    let gate = state
        .rate_limits
        .gate(state.client_addr(&parts.extensions, &parts.headers))
        .await?;
    let parsed = read_body(state, body)
        .await
        .and_then(|b| parse(&parts.headers, &b));
    match parsed {
        Ok(v) => Ok((gate, v)),
        Err(e) => {
            if matches!(e, TokenError::InvalidClient { .. }) {
                gate.failed(None).await;
            }
            Err(e)
        }
    }
}

/// Counts a 429 against the credential `client_id` names, if it exists here (the usage chart).
fn note_rate_limited(state: &AppState, client_id: &str) {
    if let Some(c) = state.authority.directory().credential(client_id) {
        state.authority.usage().rate_limited(&c.client_id);
    }
}

/// Parse once, then: rate limits by client ID (before the secret is checked), authenticate and
/// sign; a failed authentication counts against the client ID and the address.
async fn token_inner(state: &AppState, req: Request) -> Result<Response, TokenError> {
    let (gate, req) = gated(state, req, TokenRequest::parse).await?;
    if let Err(refused) = gate.client(&req.client_id, true).await {
        note_rate_limited(state, &req.client_id);
        return Err(refused.into());
    }
    let issued = match ClientId::parse(&req.client_id) {
        Ok(id) => {
            state
                .authority
                .issue_or_catch_up(
                    &*state.store,
                    &id,
                    &req.secret,
                    req.scope.as_ref(),
                    &req.resources,
                    gate.ip(),
                )
                .await
        }
        Err(_) => Err(IssueError::InvalidClient(ClientAuthFailure::UnknownClient)),
    };
    let issued = match issued {
        Ok(issued) => issued,
        Err(e) => {
            if let IssueError::InvalidClient(why) = &e {
                let reason = why.reason();
                tracing::info!(client_id = %crate::logging::Untrusted(&req.client_id), reason, "client authentication failed");
                gate.failed(Some(&req.client_id)).await;
                crate::webhooks::note_auth_failure(state, &req.client_id, *why, gate.ip());
            }
            return Err(TokenError::from(e).with_basic(req.basic));
        }
    };
    if issued.reused {
        state.metrics.token_reused();
    } else {
        // The quota counts new tokens only; over it, the token just signed is not handed out.
        state
            .rate_limits
            .issued(&req.client_id, issued.quota_override)
            .await
            .map_err(|refused| {
                note_rate_limited(state, &req.client_id);
                TokenError::QuotaExceeded(refused)
            })?;
    }
    let body = TokenResponse {
        token_type: "Bearer".into(),
        access_token: issued.access_token,
        expires_in: u64::from(issued.expires_in),
        scope: issued.scope_text,
    };
    let bytes = serde_json::to_vec(&body).map_err(|_| TokenError::Internal)?;
    Ok(no_store_json(StatusCode::OK, bytes))
}

/// This module's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(token, introspect, revoke),
    components(schemas(
        TokenRequestDoc,
        TokenResponseDoc,
        TokenManagementRequestDoc,
        IntrospectionResponseDoc
    ))
)]
pub(crate) struct Doc;

/// Token request, JSON form (the reference's) — `scope` optional.
#[derive(ToSchema)]
#[schema(as = TokenRequest)]
#[allow(dead_code)]
pub(crate) struct TokenRequestDoc {
    /// Only `client_credentials`.
    #[schema(example = "client_credentials")]
    grant_type: String,
    /// Client ID (omit when using HTTP Basic).
    client_id: Option<String>,
    /// Client secret (omit when using HTTP Basic).
    client_secret: Option<String>,
    /// Space-delimited subset of the credential's scopes; default: all of them.
    scope: Option<String>,
    /// RFC 8707 resource indicators: the audience(s) the token is for (a string, or an array of
    /// them; in a form body, the parameter repeated). Default: the server's audience.
    resource: Option<Vec<String>>,
}

/// Successful token response (RFC 6749 §5.1).
#[derive(ToSchema)]
#[schema(as = TokenResponse)]
#[allow(dead_code)]
pub(crate) struct TokenResponseDoc {
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    token_type: String,
    /// An RFC 9068 JWT, or with `token_format = "opaque"` an encrypted token (`tgo1_…`).
    access_token: String,
    /// Lifetime in seconds (a number).
    #[schema(example = 3600)]
    expires_in: u64,
    /// Space-delimited scopes granted.
    scope: String,
}

/// Introspection or revocation request (form or JSON).
#[derive(ToSchema)]
#[schema(as = TokenManagementRequest)]
#[allow(dead_code)]
pub(crate) struct TokenManagementRequestDoc {
    /// The access token.
    token: String,
    /// Ignored (tollgate has one kind of token).
    token_type_hint: Option<String>,
    /// Client ID (omit when using HTTP Basic).
    client_id: Option<String>,
    /// Client secret (omit when using HTTP Basic).
    client_secret: Option<String>,
}

/// RFC 7662 response: `{"active": false}` alone for any token that is not an active token of the
/// caller's company.
#[derive(ToSchema)]
#[schema(as = IntrospectionResponse)]
#[allow(dead_code)]
pub(crate) struct IntrospectionResponseDoc {
    active: bool,
    scope: Option<String>,
    client_id: Option<String>,
    sub: Option<String>,
    token_type: Option<String>,
    exp: Option<i64>,
    iat: Option<i64>,
    iss: Option<String>,
    aud: Option<AudienceDoc>,
    jti: Option<String>,
    company_id: Option<String>,
}

/// `aud`: one audience, or an array when the token is for several resources (RFC 8707).
#[derive(serde::Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub(crate) enum AudienceDoc {
    One(String),
    Many(Vec<String>),
}
