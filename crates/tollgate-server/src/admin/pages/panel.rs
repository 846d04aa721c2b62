//! What every panel page uses: rendering (no-store, no framing), the error page, the logged-in user
//! and admin extractors, the form extractor, the forms' CSRF and one-use tokens.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use tollgate_core::accounts::{AccountError, Accounts, ActiveSession, AdminActor};
use tollgate_proto::ScopeSet;

use crate::admin::auth::{remote_addr, session_cookie};
use crate::error::AdminApiError;
use crate::state::AppState;

pub(super) fn new_nonce() -> String {
    tollgate_core::accounts::random_token().unwrap_or_default()
}

/// Refuses a replayed form (a page that showed a secret, posted again): `Some` is the response
/// to send instead, a redirect to `back` saying it was done already.
pub(super) fn check_nonce(state: &AppState, form: &Form, back: &str) -> Option<Response> {
    match form.get("nonce").filter(|n| n.len() >= 16) {
        Some(n) if state.form_nonces.first_use(n, state.accounts.now()) => None,
        Some(_) => Some(Redirect::to(&format!("{back}?done=already")).into_response()),
        None => Some(error_page(
            &AdminApiError::InvalidInput(
                "the form is incomplete; reload the page and try again".into(),
            ),
            back,
        )),
    }
}

/// Login CSRF: a login form posted from another site is refused (Fetch Metadata, then Origin).
pub(super) fn same_origin(state: &AppState, headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return matches!(site, "same-origin" | "none");
    }
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        Some(origin) => state.base_url.trim_end_matches('/') == origin,
        None => true,
    }
}

pub(super) fn html(status: StatusCode, t: &impl Template) -> Response {
    match t.render() {
        Ok(body) => (
            status,
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
                (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
            ],
            body,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "message.html")]
pub(super) struct MessagePage<'a> {
    title: &'a str,
    message: String,
    class: &'a str,
    back: &'a str,
}

pub(super) fn error_page(e: &AdminApiError, back: &str) -> Response {
    let (status, _, message) = e.parts();
    html(
        status,
        &MessagePage {
            title: if status == StatusCode::FORBIDDEN {
                "Not allowed"
            } else {
                "Something went wrong"
            },
            message,
            class: "error",
            back,
        },
    )
}

/// A page saying that something was done, with a link onwards.
pub(super) fn done_page(title: &str, message: &str, back: &str) -> Response {
    html(
        StatusCode::OK,
        &MessagePage {
            title,
            message: message.to_owned(),
            class: "ok",
            back,
        },
    )
}

/// A form's error as the panel shows it: in sentence case, next to the field it is about (the
/// templates give that field `aria-invalid` and point its `aria-describedby` at the message), or
/// above the form (`field` = "form") when it is about no one field.
pub(super) struct FormError {
    pub(super) field: &'static str,
    pub(super) message: String,
}

impl FormError {
    /// The error of `e`, placed by what it is about.
    pub(super) fn of(e: &AdminApiError) -> Self {
        let (_, _, message) = e.parts();
        let field = match e {
            AdminApiError::UnknownScope(_) | AdminApiError::ScopeNotAllowed(_) => "scopes",
            AdminApiError::EmailTaken => "email",
            AdminApiError::InvalidInput(m) => [
                "resources",
                "expires_at",
                "allowed_ips",
                "label",
                "scope",
                "email",
                "password",
                "role",
            ]
            .into_iter()
            .find(|f| m.contains(f))
            .map_or("form", |f| if f == "scope" { "scopes" } else { f }),
            _ => "form",
        };
        // Shown next to its field: "allowed_ips: …" needs no field name.
        let message = message
            .strip_prefix(field)
            .and_then(|m| m.strip_prefix(": "))
            .unwrap_or(&message);
        Self::at(field, message)
    }

    /// `message` about `field`.
    pub(super) fn at(field: &'static str, message: &str) -> Self {
        Self {
            field,
            message: sentence(message),
        }
    }

    /// Whether the error is about `field` (the templates ask).
    pub(super) fn is(&self, field: &str) -> bool {
        self.field == field
    }
}

/// What the templates ask of a page's `error`: its message, if it is about `field`.
pub(super) trait ErrorOn {
    fn on(&self, field: &str) -> Option<&str>;
}

impl ErrorOn for Option<FormError> {
    fn on(&self, field: &str) -> Option<&str> {
        self.as_ref()
            .filter(|e| e.is(field))
            .map(|e| e.message.as_str())
    }
}

/// `message` with a capital first letter and a final full stop.
fn sentence(message: &str) -> String {
    let mut chars = message.trim().chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => return String::new(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

/// A logged-in panel user, or a redirect to the login page.
pub(super) struct PanelUser {
    pub(super) session: ActiveSession,
    pub(super) remote: Option<String>,
}

impl FromRequestParts<AppState> for PanelUser {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Some(token) = session_cookie(&parts.headers) else {
            return Err(Redirect::to("/admin/login").into_response());
        };
        match state.accounts.session(token).await {
            Ok(session) => Ok(Self {
                session,
                remote: remote_addr(state, parts),
            }),
            Err(AccountError::NoSession) => Err(Redirect::to("/admin/login").into_response()),
            // The store failing is a 500 (logged by the conversion), not "log in again".
            Err(e) => Err(error_page(&e.into(), "/admin")),
        }
    }
}

/// An owner or admin; members get 403 on every admin page.
pub(super) struct PanelAdmin {
    pub(super) actor: AdminActor,
    pub(super) email: String,
    pub(super) csrf: String,
}

impl FromRequestParts<AppState> for PanelAdmin {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let u = PanelUser::from_request_parts(parts, state).await?;
        match Accounts::admin_actor(&u.session, u.remote) {
            Some(actor) => Ok(Self {
                actor,
                email: u.session.user.email.as_str().to_owned(),
                csrf: u.session.csrf,
            }),
            None => Err(error_page(&AdminApiError::Forbidden, "/admin")),
        }
    }
}

/// tollgate's form extractor for the panel: the body as ordered pairs (repeated keys kept, e.g.
/// `scope`). A body that cannot be read is answered with an error page.
pub(super) struct Form(Vec<(String, String)>);

impl FromRequest<AppState> for Form {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        match Bytes::from_request(req, state).await {
            Ok(body) => Ok(Self::parse(&body)),
            Err(_) => Err(error_page(
                &AdminApiError::InvalidInput("the form could not be read".into()),
                "/admin",
            )),
        }
    }
}

impl Form {
    fn parse(body: &[u8]) -> Self {
        Self(
            form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }
    pub(super) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    pub(super) fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }
    pub(super) fn check_csrf(&self, expected: &str) -> Result<(), AdminApiError> {
        let sent = self.get("csrf").unwrap_or("");
        if bool::from(subtle::ConstantTimeEq::ct_eq(
            sent.as_bytes(),
            expected.as_bytes(),
        )) {
            Ok(())
        } else {
            Err(AdminApiError::Csrf)
        }
    }
    pub(super) fn scopes(&self) -> Result<ScopeSet, AdminApiError> {
        ScopeSet::parse_list(&self.all("scope").join(" "))
            .map_err(|e| AdminApiError::InvalidInput(e.to_string()))
    }
}
