//! Who is calling the admin side: a panel session (cookie; state-changing requests also carry the
//! session's CSRF token) or an integration whose token holds `credentials:manage`.

use axum::extract::FromRequestParts;
use axum::http::Method;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use tollgate_core::accounts::{Accounts, ActiveSession, AdminActor};
use tollgate_core::catalog::CREDENTIALS_MANAGE;

use crate::error::AdminApiError;
use crate::state::AppState;

/// The session cookie's name.
pub(crate) const SESSION_COOKIE: &str = "tollgate_session";
/// The header carrying the CSRF token on admin API calls made with a session.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";

/// The caller's address, for the audit log.
pub(crate) fn remote_addr(state: &AppState, parts: &Parts) -> Option<String> {
    state
        .client_addr(&parts.extensions, &parts.headers)
        .map(|ip| ip.to_string())
}

/// The session cookie's value, if any.
pub(crate) fn session_cookie(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty())
}

/// A logged-in panel user (any role).
#[derive(Debug, Clone)]
pub(crate) struct Session(pub ActiveSession);

impl FromRequestParts<AppState> for Session {
    type Rejection = AdminApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = session_cookie(&parts.headers).ok_or(AdminApiError::Unauthenticated)?;
        // No such session: 401; the store failing: 500, logged (never "not logged in").
        Ok(Self(state.accounts.session(token).await?))
    }
}

/// An administrator of a company, through the admin JSON API.
#[derive(Debug, Clone)]
pub(crate) struct ApiAdmin(pub AdminActor);

impl FromRequestParts<AppState> for ApiAdmin {
    type Rejection = AdminApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let remote = remote_addr(state, parts);
        if let Some(auth) = parts.headers.get(AUTHORIZATION) {
            let v = auth.to_str().map_err(|_| AdminApiError::Unauthenticated)?;
            let (scheme, token) = v.split_once(' ').ok_or(AdminApiError::Unauthenticated)?;
            if !scheme.eq_ignore_ascii_case("bearer") {
                return Err(AdminApiError::Unauthenticated);
            }
            let access = state
                .authority
                .authorize(token.trim())
                .map_err(|_| AdminApiError::Unauthenticated)?;
            if !access.allows(CREDENTIALS_MANAGE) {
                return Err(AdminApiError::Forbidden);
            }
            return Ok(Self(AdminActor::for_client(
                access.company_id(),
                access.client_id().clone(),
                remote,
            )));
        }
        let Session(session) = Session::from_request_parts(parts, state).await?;
        if parts.method != Method::GET && parts.method != Method::HEAD {
            let sent = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !bool::from(subtle::ConstantTimeEq::ct_eq(
                sent.as_bytes(),
                session.csrf.as_bytes(),
            )) {
                return Err(AdminApiError::Csrf);
            }
        }
        Accounts::admin_actor(&session, remote)
            .map(Self)
            .ok_or(AdminApiError::Forbidden)
    }
}
