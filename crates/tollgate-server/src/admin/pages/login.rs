//! Logging in and out, and the home page of members (who see no admin pages).

use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::panel::{
    ErrorOn as _, Form, FormError, PanelUser, done_page, error_page, html, same_origin,
};
use crate::admin::auth::{SESSION_COOKIE, session_cookie};
use crate::error::AdminApiError;
use crate::state::AppState;
use tollgate_core::accounts::PasswordChangeError;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    error: Option<String>,
    /// The email a refused login was sent with (kept: only the password is typed again).
    email: String,
}

pub(super) async fn login_page() -> Response {
    html(
        StatusCode::OK,
        &LoginPage {
            error: None,
            email: String::new(),
        },
    )
}

fn session_cookie_header(state: &AppState, value: &str, max_age: i64) -> Option<HeaderValue> {
    let secure = if state.tls || state.base_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .ok()
}

pub(super) async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    form: Form,
) -> Response {
    if !same_origin(&state, &headers) {
        // Login CSRF: the status of a CSRF failure, the login page's own words.
        return html(
            AdminApiError::Csrf.parts().0,
            &LoginPage {
                error: Some(
                    "This login form was sent from another site; log in from this page.".into(),
                ),
                email: String::new(),
            },
        );
    }
    let email = form.get("email").unwrap_or("").trim().to_lowercase();
    let password = form.get("password").unwrap_or("");
    let ip = state.client_addr_of(peer.ip(), &headers).to_string();
    if !state.login_limiter.allow(&ip, &email) {
        let (status, _, message) = AdminApiError::TooManyAttempts.parts();
        return html(
            status,
            &LoginPage {
                error: Some(message),
                email,
            },
        );
    }
    match state.accounts.login(&email, password, Some(ip)).await {
        Ok(s) => {
            let mut resp = Redirect::to("/admin").into_response();
            if let Some(c) =
                session_cookie_header(&state, &s.token, tollgate_core::accounts::SESSION_TTL)
            {
                resp.headers_mut().insert(header::SET_COOKIE, c);
            }
            resp
        }
        Err(tollgate_core::accounts::AccountError::BadLogin) => html(
            AdminApiError::BadLogin.parts().0,
            &LoginPage {
                error: Some("Wrong email or password.".into()),
                email,
            },
        ),
        Err(e) => error_page(&e.into(), "/admin/login"),
    }
}

pub(super) async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: PanelUser,
    form: Form,
) -> Response {
    if let Err(e) = form.check_csrf(&user.session.csrf) {
        return error_page(&e, "/admin");
    }
    if let Some(t) = session_cookie(&headers)
        && let Err(e) = state
            .accounts
            .logout(t, &user.session, user.remote.clone())
            .await
    {
        // The cookie is cleared below either way; the session ends at its expiry at the latest.
        tracing::warn!(error = %e, "logout: the session could not be ended or audited");
    }
    let mut resp = Redirect::to("/admin/login").into_response();
    if let Some(c) = session_cookie_header(&state, "", 0) {
        resp.headers_mut().insert(header::SET_COOKIE, c);
    }
    resp
}

#[derive(Template)]
#[template(path = "member.html")]
struct MemberPage {
    email: String,
    csrf: String,
}

pub(super) async fn home(user: PanelUser) -> Response {
    if user.session.user.role.is_admin() {
        Redirect::to("/admin/credentials").into_response()
    } else {
        html(
            StatusCode::OK,
            &MemberPage {
                email: user.session.user.email.as_str().to_owned(),
                csrf: user.session.csrf,
            },
        )
    }
}

#[derive(Template)]
#[template(path = "password.html")]
struct PasswordPage {
    email: String,
    csrf: String,
    /// Whether the user sees the admin navigation.
    admin: bool,
    error: Option<FormError>,
}

fn password_page(user: &PanelUser, status: StatusCode, error: Option<FormError>) -> Response {
    html(
        status,
        &PasswordPage {
            email: user.session.user.email.as_str().to_owned(),
            csrf: user.session.csrf.clone(),
            admin: user.session.user.role.is_admin(),
            error,
        },
    )
}

/// `GET /admin/password`: "Change my password", for every logged-in user.
pub(super) async fn change_password_page(user: PanelUser) -> Response {
    password_page(&user, StatusCode::OK, None)
}

/// `POST /admin/password`: the current password, the new one twice. Every session of the user
/// ends, this one too: they log in again with the new password.
pub(super) async fn change_password(
    State(state): State<AppState>,
    user: PanelUser,
    form: Form,
) -> Response {
    if let Err(e) = form.check_csrf(&user.session.csrf) {
        return error_page(&e, "/admin/password");
    }
    // Guessing the current password from a session costs like guessing it at the login form.
    let ip = user.remote.as_deref().unwrap_or("");
    if !state
        .login_limiter
        .allow(ip, user.session.user.email.as_str())
    {
        let e = AdminApiError::TooManyAttempts;
        let error = FormError::at("form", &e.parts().2);
        return password_page(&user, e.parts().0, Some(error));
    }
    let new = form.get("new_password").unwrap_or("");
    if form.get("confirm_password").unwrap_or("") != new {
        let error = FormError::at("confirm_password", "the two new passwords differ");
        return password_page(&user, StatusCode::BAD_REQUEST, Some(error));
    }
    let result = state
        .accounts
        .change_own_password(
            &user.session,
            form.get("current_password").unwrap_or(""),
            new,
            user.remote.clone(),
        )
        .await;
    match result {
        Ok(()) => {
            let mut resp = done_page(
                "Password changed",
                "Your password is changed and every session of yours has ended. Log in again with the new password.",
                "/admin/login",
            );
            if let Some(c) = session_cookie_header(&state, "", 0) {
                resp.headers_mut().insert(header::SET_COOKIE, c);
            }
            resp
        }
        Err(PasswordChangeError::WrongCurrent) => password_page(
            &user,
            StatusCode::BAD_REQUEST,
            Some(FormError::at(
                "current_password",
                "the current password is wrong",
            )),
        ),
        Err(PasswordChangeError::New(e)) => {
            let e = AdminApiError::from(e);
            let (status, _, message) = e.parts();
            let field = if status == StatusCode::BAD_REQUEST {
                "new_password"
            } else {
                "form"
            };
            password_page(&user, status, Some(FormError::at(field, &message)))
        }
    }
}
