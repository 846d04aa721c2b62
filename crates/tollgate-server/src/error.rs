//! Where errors become HTTP responses — the only place.
//!
//! - [`TokenError`]: the token endpoint, RFC 6749 §5.2 bodies `{"error","error_description"}`.
//! - [`ApiError`]: the protected API: `invalid_token` (401, RFC 6750 `WWW-Authenticate`),
//!   `invalid_scope` (403), and the reference's envelope `{"error":{"code","message"}}` for the rest.
//!
//! - [`AdminApiError`]: the admin API and the panel, the same envelope.
//! - [`Refused`]: a rate limit's 429 `{"error":"tooManyRequests"}` with `Retry-After`.
//!
//! Handlers and extractors name *what* went wrong (a variant); only this module picks the status,
//! the code and the body. Domain errors are converted here (`From` impls); internal failures (a
//! store outage included) are logged with their cause and answered with a generic 500. The
//! schemas of these bodies in the OpenAPI document are in `schemas`.
//!
//! An API mounted beside tollgate ([`crate::App::mount`]) answers its own domain errors in its own
//! error type, and tollgate's (token, version, scope, body) by converting to [`ApiError`].

use std::borrow::Cow;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tollgate_core::authority::IssueError;
use tollgate_proto::{ApiErrorBody, OAuthErrorBody, OAuthErrorCode};

use crate::ratelimit::Refused;

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
    /// 401 `invalid_client`; `basic`: the client used HTTP Basic (answer with a Basic challenge);
    /// `why`: the description beyond "client authentication failed", given only to a client whose
    /// secret matched (`ClientAuthFailure::description`).
    InvalidClient {
        /// The client used HTTP Basic.
        basic: bool,
        /// Why, when the client may be told.
        why: Option<&'static str>,
    },
    /// 400 `unsupported_grant_type`.
    UnsupportedGrantType,
    /// 400 `invalid_scope`.
    InvalidScope(String),
    /// 400 `invalid_target` (RFC 8707): a `resource` malformed or not the client's.
    InvalidTarget(String),
    /// 400 `unauthorized_client` (revoking another client's token).
    UnauthorizedClient(String),
    /// 415.
    UnsupportedMediaType,
    /// 413.
    PayloadTooLarge(usize),
    /// 500.
    Internal,
    /// 429 with `Retry-After` (the rate limits' own body).
    TooManyRequests(Refused),
    /// 429 with `Retry-After`: the credential's issuance quota for the hour is used up.
    QuotaExceeded(Refused),
}

impl TokenError {
    /// The error of a request whose client used HTTP Basic (`basic`): an `invalid_client` then
    /// carries the Basic challenge.
    pub(crate) fn with_basic(self, basic: bool) -> Self {
        match self {
            Self::InvalidClient { why, .. } => Self::InvalidClient { basic, why },
            other => other,
        }
    }
}

/// Why the authority issued no token. `invalid_client` comes without the Basic challenge: see
/// `TokenError::with_basic`.
impl From<IssueError> for TokenError {
    fn from(e: IssueError) -> Self {
        match e {
            IssueError::InvalidClient(failure) => Self::InvalidClient {
                basic: false,
                why: failure.description(),
            },
            IssueError::InvalidScope(missing) => {
                Self::InvalidScope(format!("the credential does not hold: {missing}"))
            }
            e @ IssueError::InvalidTarget(_) => Self::InvalidTarget(e.to_string()),
            other => {
                tracing::error!(error = %other, "token issue failed");
                Self::Internal
            }
        }
    }
}

impl From<Refused> for TokenError {
    fn from(r: Refused) -> Self {
        Self::TooManyRequests(r)
    }
}

impl IntoResponse for TokenError {
    fn into_response(self) -> Response {
        let basic = matches!(self, Self::InvalidClient { basic: true, .. });
        let (status, code, description) = match self {
            Self::InvalidRequest(d) => (StatusCode::BAD_REQUEST, OAuthErrorCode::InvalidRequest, d),
            Self::InvalidClient { why, .. } => (
                StatusCode::UNAUTHORIZED,
                OAuthErrorCode::InvalidClient,
                why.unwrap_or("client authentication failed").to_owned(),
            ),
            Self::UnsupportedGrantType => (
                StatusCode::BAD_REQUEST,
                OAuthErrorCode::UnsupportedGrantType,
                "only the client_credentials grant is supported".to_owned(),
            ),
            Self::InvalidScope(d) => (StatusCode::BAD_REQUEST, OAuthErrorCode::InvalidScope, d),
            Self::InvalidTarget(d) => (StatusCode::BAD_REQUEST, OAuthErrorCode::InvalidTarget, d),
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
            Self::QuotaExceeded(refused) => {
                return refused.response_with(
                    r#"{"error":"tooManyRequests","error_description":"this credential's token quota for the hour is used up: use the token it has, or wait for Retry-After"}"#,
                );
            }
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
    /// 403 `invalid_scope` (`insufficient_scope` in the challenge): the scope the request needs.
    InsufficientScope(Cow<'static, str>),
    /// 400 `missingApiVersion`.
    MissingApiVersion { header: String, supported: String },
    /// 400 `unsupportedApiVersion`.
    UnsupportedApiVersion { header: String, supported: String },
    /// 400 `invalidInput`: the message says which input and why.
    InvalidInput(String),
    /// 413 `payloadTooLarge`: the body exceeds this many bytes.
    PayloadTooLarge(usize),
    /// 404 `notFound`: no such route.
    NoSuchRoute,
    /// 405 `methodNotAllowed`: the gateway route names no scopes for this method.
    MethodNotAllowed,
    /// 502 `badGateway`: the route's upstream refused the connection or reset it.
    BadGateway,
    /// 504 `gatewayTimeout`: the route's upstream sent no response head in time.
    GatewayTimeout,
    /// 429: over the company's API budget (the rate limits' own body, `Retry-After`).
    TooManyRequests(Refused),
    /// 503 `serviceUnavailable` with `Retry-After` (the revocation feed's subscriber cap).
    Unavailable(&'static str),
    /// 500.
    Internal,
}

impl ApiError {
    /// 400 `invalidInput`.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::InvalidInput(message.into())
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
                    quote(&scope)
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
            Self::InvalidInput(message) => json_response(
                StatusCode::BAD_REQUEST,
                &ApiErrorBody::new("invalidInput", message),
            ),
            Self::PayloadTooLarge(limit) => json_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                &ApiErrorBody::new(
                    "payloadTooLarge",
                    format!("the request body exceeds {limit} bytes"),
                ),
            ),
            Self::NoSuchRoute => json_response(
                StatusCode::NOT_FOUND,
                &ApiErrorBody::new("notFound", "no such route"),
            ),
            Self::MethodNotAllowed => json_response(
                StatusCode::METHOD_NOT_ALLOWED,
                &ApiErrorBody::new("methodNotAllowed", "this route does not take this method"),
            ),
            Self::BadGateway => json_response(
                StatusCode::BAD_GATEWAY,
                &ApiErrorBody::new(
                    "badGateway",
                    "the upstream service refused the connection or closed it",
                ),
            ),
            Self::GatewayTimeout => json_response(
                StatusCode::GATEWAY_TIMEOUT,
                &ApiErrorBody::new(
                    "gatewayTimeout",
                    "the upstream service did not answer in time",
                ),
            ),
            Self::Unavailable(message) => {
                let mut resp = json_response(
                    StatusCode::SERVICE_UNAVAILABLE,
                    &ApiErrorBody::new("serviceUnavailable", message),
                );
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
                resp
            }
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
    /// 401 `badLogin`: wrong email or password.
    BadLogin,
    /// 400 `invalidInput`: the message says which input and why.
    InvalidInput(String),
    /// 400 `unknownScope`: scopes not in the catalog (the message names them).
    UnknownScope(String),
    /// 400 `scopeNotAllowed`: scopes outside the company's ceiling (the message names them).
    ScopeNotAllowed(String),
    /// 404 `companyNotFound`.
    CompanyNotFound,
    /// 404 `credentialNotFound` (also: another company's credential).
    CredentialNotFound,
    /// 404 `userNotFound` (also: another company's user).
    UserNotFound,
    /// 404 `secretNotFound`: the credential has no such secret.
    SecretNotFound,
    /// 409 `lastSecret`: the secret is the credential's only live one.
    LastSecret,
    /// 404 `webhookNotFound` (also: another company's webhook).
    WebhookNotFound,
    /// 409 `webhookLimitReached` (the message gives the limit).
    WebhookLimitReached(String),
    /// 409 `credentialLimitReached` (the message gives the limit).
    CredentialLimitReached(String),
    /// 409 `emailTaken`.
    EmailTaken,
    /// 409 `lastAdmin`: the company would be left without an owner or admin.
    LastAdmin,
    /// 403 `humanSessionRequired`: an API credential tried to manage an owner or admin.
    HumanSessionRequired,
    /// 500 (the cause is logged where it is converted).
    Internal,
}

impl AdminApiError {
    /// Status, code and message.
    pub fn parts(&self) -> (StatusCode, &'static str, String) {
        let (status, code, message): (StatusCode, &'static str, Cow<'_, str>) = match self {
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
            Self::BadLogin => (
                StatusCode::UNAUTHORIZED,
                "badLogin",
                "wrong email or password".into(),
            ),
            Self::InvalidInput(m) => (StatusCode::BAD_REQUEST, "invalidInput", m.into()),
            Self::UnknownScope(m) => (StatusCode::BAD_REQUEST, "unknownScope", m.into()),
            Self::ScopeNotAllowed(m) => (StatusCode::BAD_REQUEST, "scopeNotAllowed", m.into()),
            Self::CompanyNotFound => (
                StatusCode::NOT_FOUND,
                "companyNotFound",
                "company not found".into(),
            ),
            Self::CredentialNotFound => (
                StatusCode::NOT_FOUND,
                "credentialNotFound",
                "credential not found".into(),
            ),
            Self::UserNotFound => (
                StatusCode::NOT_FOUND,
                "userNotFound",
                "user not found".into(),
            ),
            Self::SecretNotFound => (
                StatusCode::NOT_FOUND,
                "secretNotFound",
                "the credential has no such secret".into(),
            ),
            Self::LastSecret => (
                StatusCode::CONFLICT,
                "lastSecret",
                "this is the credential's only live secret: rotate it instead".into(),
            ),
            Self::CredentialLimitReached(m) => {
                (StatusCode::CONFLICT, "credentialLimitReached", m.into())
            }
            Self::WebhookNotFound => (
                StatusCode::NOT_FOUND,
                "webhookNotFound",
                "webhook not found".into(),
            ),
            Self::WebhookLimitReached(m) => (StatusCode::CONFLICT, "webhookLimitReached", m.into()),
            Self::EmailTaken => (
                StatusCode::CONFLICT,
                "emailTaken",
                "a user with this email already exists".into(),
            ),
            Self::LastAdmin => (
                StatusCode::CONFLICT,
                "lastAdmin",
                "a company must keep at least one owner or admin".into(),
            ),
            Self::HumanSessionRequired => (
                StatusCode::FORBIDDEN,
                "humanSessionRequired",
                "owners and admins are managed by a logged-in person, not by an API credential"
                    .into(),
            ),
            Self::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internalError",
                "internal error".into(),
            ),
        };
        (status, code, message.into_owned())
    }

    /// Whether the object the request names does not exist (for the caller): the panel answers
    /// with an error page instead of the form again.
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            Self::CompanyNotFound
                | Self::CredentialNotFound
                | Self::UserNotFound
                | Self::SecretNotFound
                | Self::WebhookNotFound
        )
    }
}

impl From<tollgate_core::admin::AdminError> for AdminApiError {
    fn from(e: tollgate_core::admin::AdminError) -> Self {
        use tollgate_core::admin::AdminError as E;
        match e {
            E::CompanyNotFound => Self::CompanyNotFound,
            E::CredentialNotFound => Self::CredentialNotFound,
            E::SecretNotFound => Self::SecretNotFound,
            E::LastSecret => Self::LastSecret,
            E::Invalid(m) => Self::InvalidInput(m),
            e @ E::UnknownScopes(_) => Self::UnknownScope(e.to_string()),
            e @ E::OutsideCeiling(_) => Self::ScopeNotAllowed(e.to_string()),
            e @ E::CredentialLimit { .. } => Self::CredentialLimitReached(e.to_string()),
            other => {
                tracing::error!(error = %other, "admin operation failed");
                Self::Internal
            }
        }
    }
}

/// Account errors; a store outage (checking a session included) is a 500, never "not logged in".
impl From<tollgate_core::accounts::AccountError> for AdminApiError {
    fn from(e: tollgate_core::accounts::AccountError) -> Self {
        use tollgate_core::accounts::AccountError as E;
        match e {
            E::Invalid(m) => Self::InvalidInput(m),
            E::EmailTaken => Self::EmailTaken,
            E::UserNotFound => Self::UserNotFound,
            E::CompanyNotFound => Self::CompanyNotFound,
            E::LastAdmin => Self::LastAdmin,
            E::NeedsHumanSession => Self::HumanSessionRequired,
            E::BadLogin => Self::BadLogin,
            E::NoSession => Self::Unauthenticated,
            other => {
                tracing::error!(error = %other, "account operation failed");
                Self::Internal
            }
        }
    }
}

/// A role that does not parse, from a form or a JSON body: 400 `invalidInput`, as every account input.
impl From<tollgate_core::accounts::InvalidRole> for AdminApiError {
    fn from(e: tollgate_core::accounts::InvalidRole) -> Self {
        tollgate_core::accounts::AccountError::from(e).into()
    }
}

/// A malformed admin API body (`Json` extractor): 400 `invalidInput` with what was wrong.
impl From<axum::extract::rejection::JsonRejection> for AdminApiError {
    fn from(e: axum::extract::rejection::JsonRejection) -> Self {
        Self::InvalidInput(e.body_text())
    }
}

impl IntoResponse for AdminApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = self.parts();
        json_response(status, &ApiErrorBody::new(code, message))
    }
}

/// The rate limits' answer: 429 `{"error":"tooManyRequests"}` with `Retry-After` (at least 1 s).
impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        self.response_with(r#"{"error":"tooManyRequests"}"#)
    }
}

impl Refused {
    /// The 429 with `Retry-After`, and `body` (a `tooManyRequests` error object).
    fn response_with(self, body: &'static str) -> Response {
        let mut r = (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::CONTENT_TYPE, JSON)],
            body,
        )
            .into_response();
        r.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(self.retry_after.max(1)),
        );
        r
    }
}

#[cfg(test)]
mod tests {
    use tollgate_core::accounts::AccountError;
    use tollgate_core::store::StoreError;

    use super::*;

    fn outage() -> StoreError {
        StoreError::Backend("connection refused".into())
    }

    #[test]
    fn a_store_outage_on_the_admin_side_is_a_500_not_a_401() {
        let e = AdminApiError::from(AccountError::Store(outage()));
        assert_eq!(e.parts().0, StatusCode::INTERNAL_SERVER_ERROR);
        let e = AdminApiError::from(AccountError::NoSession);
        assert_eq!(e.parts().0, StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn named_variants_keep_their_status_and_code() {
        let e = AdminApiError::from(tollgate_core::admin::AdminError::CredentialNotFound);
        assert!(e.is_not_found());
        assert_eq!(
            e.parts(),
            (
                StatusCode::NOT_FOUND,
                "credentialNotFound",
                "credential not found".to_owned()
            )
        );
        assert_eq!(
            AdminApiError::EmailTaken.parts().1,
            "emailTaken",
            "the code clients branch on"
        );
    }

    #[test]
    fn refused_is_a_429_with_retry_after() {
        let r = Refused { retry_after: 0 }.into_response();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()[header::RETRY_AFTER], "1");
    }
}
