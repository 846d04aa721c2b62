//! Why a request is refused, answered in tollgate's own formats: 401 `invalid_token` with the
//! RFC 6750 challenge, 403 `invalid_scope`, and 503 when revocations cannot be checked
//! ([`FailMode::Closed`](crate::FailMode::Closed)).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tollgate_proto::{ApiErrorBody, OAuthErrorBody, OAuthErrorCode};

/// Why a token (or a request) is refused. The `Display` text is what the client reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// No `Authorization` header (401, a challenge without `error=`).
    #[error("an access token is required (Authorization: Bearer …)")]
    Missing,
    /// An `Authorization` header of another scheme (401, a challenge without `error=`).
    #[error("the Authorization header must use the Bearer scheme")]
    NotBearer,
    /// Not a JWT we can read (401).
    #[error("the access token is malformed")]
    Malformed,
    /// Wrong `iss`, `aud`, `typ` or `alg`, an unknown key, a bad signature, or claims tollgate
    /// does not issue (401).
    #[error("the access token is invalid")]
    Invalid,
    /// Past `exp` (401).
    #[error("the access token has expired")]
    Expired,
    /// Revoked, its credential or company deleted, or the secret that obtained it rotated away
    /// (401), as the revocation feed says.
    #[error("the access token has been revoked")]
    Revoked,
    /// The token lacks the scope (403 `invalid_scope`).
    #[error("this request needs the scope {0}")]
    InsufficientScope(String),
    /// The revocation feed has been down longer than `max_staleness` and the verifier fails closed
    /// (503 `serviceUnavailable`, `Retry-After: 1`).
    #[error("token revocations cannot be checked right now; retry later")]
    Unavailable,
    /// A handler asked for verified claims on a route the layer does not cover (500, logged).
    #[error("internal error")]
    NotVerified,
}

const JSON: HeaderValue = HeaderValue::from_static("application/json");

fn json(status: StatusCode, body: &impl serde::Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (status, [(header::CONTENT_TYPE, JSON)], bytes).into_response(),
        Err(_) => status.into_response(),
    }
}

fn quote(s: &str) -> String {
    s.replace(['"', '\\'], "")
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let description = self.to_string();
        let (mut resp, challenge) = match &self {
            Self::InsufficientScope(scope) => (
                json(
                    StatusCode::FORBIDDEN,
                    &ApiErrorBody::new("invalid_scope", description),
                ),
                Some(format!(
                    "Bearer realm=\"tollgate\", error=\"insufficient_scope\", scope=\"{}\"",
                    quote(scope)
                )),
            ),
            Self::Unavailable => {
                let mut r = json(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &ApiErrorBody::new("serviceUnavailable", description),
                );
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                (r, None)
            }
            Self::NotVerified => {
                tracing::error!(
                    "verified claims asked for on a route without tollgate_middleware::VerifyLayer"
                );
                (
                    json(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        &ApiErrorBody::new("internalError", description),
                    ),
                    None,
                )
            }
            Self::Missing | Self::NotBearer => (
                invalid_token(description),
                Some("Bearer realm=\"tollgate\"".to_owned()),
            ),
            Self::Malformed | Self::Invalid | Self::Expired | Self::Revoked => {
                let challenge = format!(
                    "Bearer realm=\"tollgate\", error=\"invalid_token\", error_description=\"{}\"",
                    quote(&description)
                );
                (invalid_token(description), Some(challenge))
            }
        };
        if let Some(v) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        resp
    }
}

fn invalid_token(description: String) -> Response {
    json(
        StatusCode::UNAUTHORIZED,
        &OAuthErrorBody {
            error: OAuthErrorCode::InvalidToken,
            error_description: Some(description),
        },
    )
}

/// Why [`Verifier::discover`](crate::Verifier::discover) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoverError {
    /// The request failed (connection, TLS, timeout) or its body was not JSON.
    #[error("{what}: {source}")]
    Http {
        /// Which request.
        what: &'static str,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// The server answered with an error status.
    #[error("{what}: HTTP {status}")]
    Status {
        /// Which request.
        what: &'static str,
        /// The status.
        status: u16,
    },
    /// The metadata lacks a field, or names another issuer (RFC 8414 §3.3).
    #[error("authorization server metadata: {0}")]
    Metadata(String),
    /// The options make no sense (an empty algorithm list, say).
    #[error("options: {0}")]
    Options(String),
}
