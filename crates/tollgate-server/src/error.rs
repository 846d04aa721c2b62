//! Where errors become HTTP responses — the only place.
//!
//! - [`TokenError`]: the token endpoint, RFC 6749 §5.2 bodies `{"error","error_description"}`.
//! - [`ApiError`]: the protected API: `invalid_token` (401, RFC 6750 `WWW-Authenticate`),
//!   `invalid_scope` (403), and the reference's envelope `{"error":{"code","message"}}` for the rest.
//!
//! Internal failures are logged with their cause and answered with a generic 500.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tollgate_core::groups::GroupError;
use tollgate_proto::{ApiErrorBody, OAuthErrorBody, OAuthErrorCode};

const JSON: HeaderValue = HeaderValue::from_static("application/json");

fn json_response(status: StatusCode, body: &impl serde::Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (status, [(header::CONTENT_TYPE, JSON)], bytes).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// Token endpoint errors.
#[derive(Debug)]
pub enum TokenError {
    /// 400 `invalid_request`.
    InvalidRequest(String),
    /// 401 `invalid_client`; `basic`: the client used HTTP Basic (answer with a Basic challenge).
    InvalidClient { basic: bool },
    /// 400 `unsupported_grant_type`.
    UnsupportedGrantType,
    /// 400 `invalid_scope`.
    InvalidScope(String),
    /// 400 `unauthorized_client` (revoking another client's token).
    UnauthorizedClient(String),
    /// 415.
    UnsupportedMediaType,
    /// 413.
    PayloadTooLarge(usize),
    /// 500.
    Internal,
    /// 429 with `Retry-After` (the rate limits' own body).
    TooManyRequests(crate::ratelimit::Refused),
}

impl From<crate::ratelimit::Refused> for TokenError {
    fn from(r: crate::ratelimit::Refused) -> Self {
        Self::TooManyRequests(r)
    }
}

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        let basic = matches!(self, Self::InvalidClient { basic: true });
        let (status, code, description) = match self {
            Self::InvalidRequest(d) => (StatusCode::BAD_REQUEST, OAuthErrorCode::InvalidRequest, d),
            Self::InvalidClient { .. } => (
                StatusCode::UNAUTHORIZED,
                OAuthErrorCode::InvalidClient,
                "client authentication failed".to_owned(),
            ),
            Self::UnsupportedGrantType => (
                StatusCode::BAD_REQUEST,
                OAuthErrorCode::UnsupportedGrantType,
                "only the client_credentials grant is supported".to_owned(),
            ),
            Self::InvalidScope(d) => (StatusCode::BAD_REQUEST, OAuthErrorCode::InvalidScope, d),
            Self::UnauthorizedClient(d) => (
                StatusCode::BAD_REQUEST,
                OAuthErrorCode::UnauthorizedClient,
                d,
            ),
            Self::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                OAuthErrorCode::InvalidRequest,
                "the body must be application/json or application/x-www-form-urlencoded".to_owned(),
            ),
            Self::PayloadTooLarge(limit) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                OAuthErrorCode::InvalidRequest,
                format!("the request body exceeds {limit} bytes"),
            ),
            // The rate limits' own answer (429, `Retry-After`, their body).
            Self::TooManyRequests(refused) => return refused.into_response(),
            Self::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                OAuthErrorCode::Extension("server_error".into()),
                "internal error".to_owned(),
            ),
        };
        let mut resp = json_response(
            status,
            &OAuthErrorBody {
                error: code,
                error_description: Some(description),
            },
        );
        let h = resp.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if basic {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"tollgate\""),
            );
        }
        resp
    }
}

/// Protected API errors.
#[derive(Debug)]
pub enum ApiError {
    /// 401 `invalid_token`. `token_sent`: whether any token was presented (RFC 6750 §3.1: no
    /// `error=` in the challenge when none was).
    InvalidToken {
        /// Description.
        description: &'static str,
        /// Whether a token was sent.
        token_sent: bool,
    },
    /// 403 `invalid_scope` (`insufficient_scope` in the challenge).
    InsufficientScope(&'static str),
    /// 400 `missingApiVersion`.
    MissingApiVersion { header: String, supported: String },
    /// 400 `unsupportedApiVersion`.
    UnsupportedApiVersion { header: String, supported: String },
    /// 4xx with a code and message (validation, bad cursor, …).
    Client {
        /// Status.
        status: StatusCode,
        /// camelCase code.
        code: &'static str,
        /// Message.
        message: String,
    },
    /// An example-API domain error.
    Group(GroupError),
    /// 429: over the company's API budget (the rate limits' own body, `Retry-After`).
    TooManyRequests(crate::ratelimit::Refused),
    /// 500.
    Internal,
}

impl ApiError {
    /// 400 `invalidInput`.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::Client {
            status: StatusCode::BAD_REQUEST,
            code: "invalidInput",
            message: message.into(),
        }
    }
}

impl From<GroupError> for ApiError {
    fn from(e: GroupError) -> Self {
        Self::Group(e)
    }
}

fn quote(s: &str) -> String {
    s.replace(['"', '\\'], "")
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            Self::TooManyRequests(refused) => refused.into_response(),
            Self::InvalidToken {
                description,
                token_sent,
            } => {
                let mut resp = json_response(
                    StatusCode::UNAUTHORIZED,
                    &OAuthErrorBody {
                        error: OAuthErrorCode::InvalidToken,
                        error_description: Some(description.to_owned()),
                    },
                );
                let challenge = if token_sent {
                    format!(
                        "Bearer realm=\"tollgate\", error=\"invalid_token\", error_description=\"{}\"",
                        quote(description)
                    )
                } else {
                    "Bearer realm=\"tollgate\"".to_owned()
                };
                if let Ok(v) = HeaderValue::from_str(&challenge) {
                    resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
                }
                resp
            }
            Self::InsufficientScope(scope) => {
                let mut resp = json_response(
                    StatusCode::FORBIDDEN,
                    &ApiErrorBody::new(
                        "invalid_scope",
                        format!("this request needs the scope {scope}"),
                    ),
                );
                let challenge = format!(
                    "Bearer realm=\"tollgate\", error=\"insufficient_scope\", scope=\"{}\"",
                    quote(scope)
                );
                if let Ok(v) = HeaderValue::from_str(&challenge) {
                    resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
                }
                resp
            }
            Self::MissingApiVersion { header, supported } => json_response(
                StatusCode::BAD_REQUEST,
                &ApiErrorBody::new(
                    "missingApiVersion",
                    format!("the {header} header is required; supported versions: {supported}"),
                ),
            ),
            Self::UnsupportedApiVersion { header, supported } => json_response(
                StatusCode::BAD_REQUEST,
                &ApiErrorBody::new(
                    "unsupportedApiVersion",
                    format!("unsupported {header}; supported versions: {supported}"),
                ),
            ),
            Self::Client {
                status,
                code,
                message,
            } => json_response(status, &ApiErrorBody::new(code, message)),
            Self::Group(e) => match e.code() {
                Some(code) => {
                    let status = match e {
                        GroupError::GroupNotFound | GroupError::ParentGroupNotFound => {
                            StatusCode::NOT_FOUND
                        }
                        _ => StatusCode::BAD_REQUEST,
                    };
                    json_response(status, &ApiErrorBody::new(code, e.to_string()))
                }
                None => {
                    tracing::error!(error = %e, "example API failed");
                    Self::Internal.into_response()
                }
            },
            Self::Internal => json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                &ApiErrorBody::new("internalError", "internal error"),
            ),
        }
    }
}

/// Admin API errors (JSON envelope `{"error":{"code","message"}}`), also rendered by the panel.
#[derive(Debug)]
pub enum AdminApiError {
    /// 401: no valid session or token.
    Unauthenticated,
    /// 403: authenticated, but not an owner/admin (or token without `credentials:manage`).
    Forbidden,
    /// 403: missing or wrong CSRF token.
    Csrf,
    /// 429: too many login attempts.
    TooManyAttempts,
    /// 4xx with a code and message.
    Client {
        /// Status.
        status: StatusCode,
        /// camelCase code.
        code: &'static str,
        /// Message.
        message: String,
    },
    /// 500.
    Internal,
}

impl AdminApiError {
    /// Status, code and message.
    pub fn parts(&self) -> (StatusCode, &'static str, String) {
        match self {
            Self::Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "log in, or send a bearer token holding credentials:manage".into(),
            ),
            Self::Forbidden => (
                StatusCode::FORBIDDEN,
                "forbidden",
                "only a platform admin can do this; ask your platform admin".into(),
            ),
            Self::Csrf => (
                StatusCode::FORBIDDEN,
                "invalidCsrfToken",
                "missing or wrong CSRF token; reload the page and try again".into(),
            ),
            Self::TooManyAttempts => (
                StatusCode::TOO_MANY_REQUESTS,
                "tooManyRequests",
                "too many login attempts; wait a minute".into(),
            ),
            Self::Client {
                status,
                code,
                message,
            } => (*status, code, message.clone()),
            Self::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internalError",
                "internal error".into(),
            ),
        }
    }

    fn client(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self::Client {
            status,
            code,
            message: message.into(),
        }
    }
}

impl From<tollgate_core::admin::AdminError> for AdminApiError {
    fn from(e: tollgate_core::admin::AdminError) -> Self {
        use tollgate_core::admin::AdminError as E;
        let msg = e.to_string();
        match e {
            E::CompanyNotFound => Self::client(StatusCode::NOT_FOUND, "companyNotFound", msg),
            E::CredentialNotFound => Self::client(StatusCode::NOT_FOUND, "credentialNotFound", msg),
            E::Invalid(_) => Self::client(StatusCode::BAD_REQUEST, "invalidInput", msg),
            E::UnknownScopes(_) => Self::client(StatusCode::BAD_REQUEST, "unknownScope", msg),
            E::OutsideCeiling(_) => Self::client(StatusCode::BAD_REQUEST, "scopeNotAllowed", msg),
            E::CredentialLimit { .. } => {
                Self::client(StatusCode::CONFLICT, "credentialLimitReached", msg)
            }
            other => {
                tracing::error!(error = %other, "admin operation failed");
                Self::Internal
            }
        }
    }
}

impl From<tollgate_core::accounts::AccountError> for AdminApiError {
    fn from(e: tollgate_core::accounts::AccountError) -> Self {
        use tollgate_core::accounts::AccountError as E;
        let msg = e.to_string();
        match e {
            E::Invalid(_) => Self::client(StatusCode::BAD_REQUEST, "invalidInput", msg),
            E::EmailTaken => Self::client(StatusCode::CONFLICT, "emailTaken", msg),
            E::UserNotFound => Self::client(StatusCode::NOT_FOUND, "userNotFound", msg),
            E::CompanyNotFound => Self::client(StatusCode::NOT_FOUND, "companyNotFound", msg),
            E::LastAdmin => Self::client(StatusCode::CONFLICT, "lastAdmin", msg),
            E::BadLogin => Self::client(StatusCode::UNAUTHORIZED, "badLogin", msg),
            E::NoSession => Self::Unauthenticated,
            other => {
                tracing::error!(error = %other, "account operation failed");
                Self::Internal
            }
        }
    }
}

impl IntoResponse for AdminApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = self.parts();
        json_response(status, &ApiErrorBody::new(code, message))
    }
}
