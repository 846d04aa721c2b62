//! The web panel: server-rendered (askama, escaped by default), usable without JavaScript. Sessions
//! live in an HttpOnly, SameSite=Strict cookie (Secure when the issuer is https); every form carries
//! the session's CSRF token.

use std::net::SocketAddr;

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use tollgate_core::accounts::{Accounts, ActiveSession, AdminActor, Role};
use tollgate_core::admin::CredentialChanges;
use tollgate_core::clock::rfc3339;
use tollgate_proto::ScopeSet;

use super::api::{self, ops};
use super::auth::{SESSION_COOKIE, remote_addr, session_cookie};
use crate::error::AdminApiError;
use crate::state::AppState;

/// One-use tokens of the forms that show a secret (create, rotate): a second POST of the same form —
/// the browser's Reload on the page showing the secret — creates or rotates nothing. Kept in memory
/// for an hour on the node that served the form.
#[derive(Debug, Default)]
pub struct FormNonces(std::sync::Mutex<std::collections::HashMap<String, i64>>);

impl FormNonces {
    /// Whether `nonce` is seen for the first time (and remembers it).
    fn first_use(&self, nonce: &str, now: i64) -> bool {
        let Ok(mut seen) = self.0.lock() else {
            return false;
        };
        if seen.len() > 10_000 {
            seen.retain(|_, t| *t > now - 3600);
        }
        seen.insert(nonce.to_owned(), now).is_none()
    }
}

fn new_nonce() -> String {
    tollgate_core::accounts::random_token().unwrap_or_default()
}

/// Refuses a replayed form: `Some` is the response to send instead.
fn check_nonce(state: &AppState, form: &FormBody) -> Option<Response> {
    match form.get("nonce").filter(|n| n.len() >= 16) {
        Some(n) if state.form_nonces.first_use(n, state.accounts.now()) => None,
        Some(_) => Some(Redirect::to("/admin/credentials?done=already").into_response()),
        None => Some(error_page(
            &AdminApiError::Client {
                status: StatusCode::BAD_REQUEST,
                code: "invalidInput",
                message: "the form is incomplete; reload the page and try again".into(),
            },
            "/admin/credentials",
        )),
    }
}

/// Login CSRF: a login form posted from another site is refused (Fetch Metadata, then Origin).
fn same_origin(state: &AppState, headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return matches!(site, "same-origin" | "none");
    }
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        Some(origin) => state.base_url.trim_end_matches('/') == origin,
        None => true,
    }
}

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin", get(home))
        .route("/admin/login", get(login_page).post(login))
        .route("/admin/logout", post(logout))
        .route("/admin/credentials", get(credentials).post(create))
        .route(
            "/admin/credentials/{client_id}",
            get(edit_page).post(update),
        )
        .route("/admin/credentials/{client_id}/rotate", post(rotate))
        .route(
            "/admin/credentials/{client_id}/delete",
            get(delete_page).post(delete),
        )
        .route("/admin/users", get(users).post(add_user))
        .route("/admin/users/{id}/role", post(set_role))
        .route("/admin/users/{id}/delete", post(remove_user))
        .route("/admin/audit", get(audit))
}

fn html(status: StatusCode, t: &impl Template) -> Response {
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
struct MessagePage<'a> {
    title: &'a str,
    message: String,
    class: &'a str,
    back: &'a str,
}

fn error_page(e: &AdminApiError, back: &str) -> Response {
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

/// A logged-in panel user, or a redirect to the login page.
struct PanelUser {
    session: ActiveSession,
    remote: Option<String>,
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
                remote: remote_addr(parts),
            }),
            Err(_) => Err(Redirect::to("/admin/login").into_response()),
        }
    }
}

/// An owner or admin; members get 403 on every admin page.
struct PanelAdmin {
    actor: AdminActor,
    email: String,
    csrf: String,
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

/// A form body as ordered pairs (repeated keys kept, e.g. `scope`).
struct FormBody(Vec<(String, String)>);

impl FormBody {
    fn parse(body: &[u8]) -> Self {
        Self(
            form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
    fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }
    fn check_csrf(&self, expected: &str) -> Result<(), AdminApiError> {
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
    fn scopes(&self) -> Result<ScopeSet, AdminApiError> {
        ScopeSet::parse_list(&self.all("scope").join(" ")).map_err(|e| AdminApiError::Client {
            status: StatusCode::BAD_REQUEST,
            code: "invalidInput",
            message: e.to_string(),
        })
    }
}

// ---------- login ----------

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    error: Option<String>,
}

async fn login_page() -> Response {
    html(StatusCode::OK, &LoginPage { error: None })
}

fn session_cookie_header(state: &AppState, value: &str, max_age: i64) -> Option<HeaderValue> {
    let secure = if state.base_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .ok()
}

async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !same_origin(&state, &headers) {
        return html(
            StatusCode::FORBIDDEN,
            &LoginPage {
                error: Some(
                    "This login form was sent from another site; log in from this page.".into(),
                ),
            },
        );
    }
    let form = FormBody::parse(&body);
    let email = form.get("email").unwrap_or("").trim().to_lowercase();
    let password = form.get("password").unwrap_or("");
    let ip = peer.ip().to_string();
    if !state.login_limiter.allow(&ip, &email) {
        return html(
            StatusCode::TOO_MANY_REQUESTS,
            &LoginPage {
                error: Some(AdminApiError::TooManyAttempts.parts().2),
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
            StatusCode::UNAUTHORIZED,
            &LoginPage {
                error: Some("Wrong email or password.".into()),
            },
        ),
        Err(e) => error_page(&e.into(), "/admin/login"),
    }
}

async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: PanelUser,
    body: Bytes,
) -> Response {
    let form = FormBody::parse(&body);
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

async fn home(user: PanelUser) -> Response {
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

// ---------- credentials ----------

struct Row {
    client_id: String,
    label: String,
    scopes: String,
    created_at: String,
    last_used_at: String,
}

struct ShownSecret {
    client_id: String,
    secret: String,
}

#[derive(Template)]
#[template(path = "credentials.html")]
struct CredentialsPage {
    email: String,
    csrf: String,
    credentials: Vec<Row>,
    ceiling: Vec<String>,
    count: usize,
    max: u32,
    at_limit: bool,
    error: Option<String>,
    notice: Option<String>,
    secret: Option<ShownSecret>,
    nonce: String,
}

/// The credentials page showing a secret just created or rotated (the only time it is shown).
async fn secret_page(
    state: &AppState,
    admin: &PanelAdmin,
    status: StatusCode,
    notice: &str,
    created: &tollgate_core::admin::CreatedCredential,
) -> Response {
    let shown = ShownSecret {
        client_id: created.credential.client_id.as_str().to_owned(),
        secret: created.secret.expose().to_owned(),
    };
    credentials_page(
        state,
        admin,
        status,
        None,
        Some(notice.to_owned()),
        Some(shown),
    )
    .await
}

#[derive(serde::Deserialize)]
struct Notice {
    done: Option<String>,
}

async fn credentials_page(
    state: &AppState,
    admin: &PanelAdmin,
    status: StatusCode,
    error: Option<String>,
    notice: Option<String>,
    secret: Option<ShownSecret>,
) -> Response {
    let company = match state.admin.company(&admin.actor.company_id()).await {
        Ok(c) => c,
        Err(e) => return error_page(&e.into(), "/admin"),
    };
    let list = match state.admin.credentials(&company.id).await {
        Ok(l) => l,
        Err(e) => return error_page(&e.into(), "/admin"),
    };
    let rows: Vec<Row> = list
        .iter()
        .map(|c| Row {
            client_id: c.client_id.as_str().to_owned(),
            label: c.label.clone(),
            scopes: c.scopes.intersection(&company.scopes).to_string(),
            created_at: rfc3339(c.created_at),
            last_used_at: c
                .last_used_at
                .map(rfc3339)
                .unwrap_or_else(|| "never".into()),
        })
        .collect();
    let count = rows.len();
    html(
        status,
        &CredentialsPage {
            email: admin.email.clone(),
            csrf: admin.csrf.clone(),
            credentials: rows,
            ceiling: company.scopes.iter().map(|s| s.to_string()).collect(),
            count,
            max: company.max_credentials,
            at_limit: count >= company.max_credentials as usize,
            error,
            notice,
            secret,
            nonce: new_nonce(),
        },
    )
}

async fn credentials(
    State(state): State<AppState>,
    admin: PanelAdmin,
    Query(n): Query<Notice>,
) -> Response {
    let notice = n.done.as_deref().map(|d| match d {
        "updated" => "Credential updated.".to_owned(),
        "deleted" => "Credential deleted; its tokens are refused from now on.".to_owned(),
        "already" => {
            "That form was already sent: nothing was done again (a secret is shown only once)."
                .to_owned()
        }
        _ => "Done.".to_owned(),
    });
    credentials_page(&state, &admin, StatusCode::OK, None, notice, None).await
}

/// Checks the CSRF token, then the form's one-use token: `Some(response)` to send instead.
fn guard_secret_form(state: &AppState, admin: &PanelAdmin, form: &FormBody) -> Option<Response> {
    if let Err(e) = form.check_csrf(&admin.csrf) {
        return Some(error_page(&e, "/admin/credentials"));
    }
    check_nonce(state, form)
}

async fn create(State(state): State<AppState>, admin: PanelAdmin, body: Bytes) -> Response {
    let form = FormBody::parse(&body);
    if let Some(refused) = guard_secret_form(&state, &admin, &form) {
        return refused;
    }
    let result = async {
        form.check_csrf(&admin.csrf)?;
        let scopes = form.scopes()?;
        ops::create(
            &state,
            &admin.actor,
            form.get("label").unwrap_or(""),
            scopes,
        )
        .await
    }
    .await;
    match result {
        Ok(c) => {
            secret_page(
                &state,
                &admin,
                StatusCode::CREATED,
                "Credential created.",
                &c,
            )
            .await
        }
        Err(AdminApiError::Csrf) => error_page(&AdminApiError::Csrf, "/admin/credentials"),
        Err(e) => {
            let (status, _, message) = e.parts();
            credentials_page(&state, &admin, status, Some(message), None, None).await
        }
    }
}

#[derive(Template)]
#[template(path = "edit.html")]
struct EditPage {
    email: String,
    csrf: String,
    client_id: String,
    label: String,
    scopes: Vec<(String, bool)>,
    error: Option<String>,
    nonce: String,
}

async fn edit_view(
    state: &AppState,
    admin: &PanelAdmin,
    client_id: &str,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    let c = match api::own_credential(state, &admin.actor, client_id).await {
        Ok(c) => c,
        Err(e) => return error_page(&e, "/admin/credentials"),
    };
    let ceiling = match api::ceiling(state, &admin.actor).await {
        Ok(c) => c,
        Err(e) => return error_page(&e, "/admin/credentials"),
    };
    html(
        status,
        &EditPage {
            email: admin.email.clone(),
            csrf: admin.csrf.clone(),
            client_id: c.client_id.as_str().to_owned(),
            label: c.label.clone(),
            scopes: ceiling
                .iter()
                .map(|s| (s.to_string(), c.scopes.contains(s)))
                .collect(),
            error,
            nonce: new_nonce(),
        },
    )
}

async fn edit_page(
    State(state): State<AppState>,
    admin: PanelAdmin,
    Path(id): Path<String>,
) -> Response {
    edit_view(&state, &admin, &id, StatusCode::OK, None).await
}

async fn update(
    State(state): State<AppState>,
    admin: PanelAdmin,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let form = FormBody::parse(&body);
    let result = async {
        form.check_csrf(&admin.csrf)?;
        let changes = CredentialChanges {
            label: form.get("label").map(str::to_owned),
            scopes: Some(form.scopes()?),
        };
        ops::update(&state, &admin.actor, &id, changes).await
    }
    .await;
    match result {
        Ok(_) => Redirect::to("/admin/credentials?done=updated").into_response(),
        Err(
            e @ (AdminApiError::Csrf
            | AdminApiError::Client {
                status: StatusCode::NOT_FOUND,
                ..
            }),
        ) => error_page(&e, "/admin/credentials"),
        Err(e) => {
            let (status, _, message) = e.parts();
            edit_view(&state, &admin, &id, status, Some(message)).await
        }
    }
}

async fn rotate(
    State(state): State<AppState>,
    admin: PanelAdmin,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let form = FormBody::parse(&body);
    if let Some(refused) = guard_secret_form(&state, &admin, &form) {
        return refused;
    }
    let result = async {
        form.check_csrf(&admin.csrf)?;
        let grace = form
            .get("grace")
            .filter(|g| !g.is_empty())
            .map(|g| g.trim().parse::<i64>())
            .transpose()
            .map_err(|_| AdminApiError::Client {
                status: StatusCode::BAD_REQUEST,
                code: "invalidInput",
                message: "grace must be a whole number of seconds".into(),
            })?
            .unwrap_or(0);
        ops::rotate(&state, &admin.actor, &id, grace).await
    }
    .await;
    match result {
        Ok(r) => secret_page(&state, &admin, StatusCode::OK, "Secret rotated.", &r).await,
        Err(
            e @ (AdminApiError::Csrf
            | AdminApiError::Client {
                status: StatusCode::NOT_FOUND,
                ..
            }),
        ) => error_page(&e, "/admin/credentials"),
        Err(e) => {
            let (status, _, message) = e.parts();
            edit_view(&state, &admin, &id, status, Some(message)).await
        }
    }
}

#[derive(Template)]
#[template(path = "delete.html")]
struct DeletePage {
    email: String,
    csrf: String,
    client_id: String,
    label: String,
}

async fn delete_page(
    State(state): State<AppState>,
    admin: PanelAdmin,
    Path(id): Path<String>,
) -> Response {
    match api::own_credential(&state, &admin.actor, &id).await {
        Ok(c) => html(
            StatusCode::OK,
            &DeletePage {
                email: admin.email.clone(),
                csrf: admin.csrf.clone(),
                client_id: c.client_id.as_str().to_owned(),
                label: c.label,
            },
        ),
        Err(e) => error_page(&e, "/admin/credentials"),
    }
}

async fn delete(
    State(state): State<AppState>,
    admin: PanelAdmin,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let form = FormBody::parse(&body);
    let result = async {
        form.check_csrf(&admin.csrf)?;
        ops::delete(&state, &admin.actor, &id).await
    }
    .await;
    match result {
        Ok(()) => Redirect::to("/admin/credentials?done=deleted").into_response(),
        Err(e) => error_page(&e, "/admin/credentials"),
    }
}

// ---------- users ----------

struct UserRow {
    id: String,
    email: String,
    role: String,
    created_at: String,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    email: String,
    csrf: String,
    users: Vec<UserRow>,
    roles: Vec<String>,
    error: Option<String>,
}

async fn users_page(
    state: &AppState,
    admin: &PanelAdmin,
    status: StatusCode,
    error: Option<String>,
) -> Response {
    let list = match state.accounts.users(&admin.actor).await {
        Ok(l) => l,
        Err(e) => return error_page(&e.into(), "/admin"),
    };
    html(
        status,
        &UsersPage {
            email: admin.email.clone(),
            csrf: admin.csrf.clone(),
            users: list
                .iter()
                .map(|u| UserRow {
                    id: u.id.to_string(),
                    email: u.email.as_str().to_owned(),
                    role: u.role.as_str().to_owned(),
                    created_at: rfc3339(u.created_at),
                })
                .collect(),
            roles: [Role::Owner, Role::Admin, Role::Member]
                .iter()
                .map(|r| r.as_str().to_owned())
                .collect(),
            error,
        },
    )
}

async fn users(State(state): State<AppState>, admin: PanelAdmin) -> Response {
    users_page(&state, &admin, StatusCode::OK, None).await
}

async fn users_result(
    state: &AppState,
    admin: &PanelAdmin,
    r: Result<(), AdminApiError>,
) -> Response {
    match r {
        Ok(()) => Redirect::to("/admin/users").into_response(),
        Err(AdminApiError::Csrf) => error_page(&AdminApiError::Csrf, "/admin/users"),
        Err(e) => {
            let (status, _, message) = e.parts();
            users_page(state, admin, status, Some(message)).await
        }
    }
}

async fn add_user(State(state): State<AppState>, admin: PanelAdmin, body: Bytes) -> Response {
    let form = FormBody::parse(&body);
    let r = async {
        form.check_csrf(&admin.csrf)?;
        let role: Role = form
            .get("role")
            .unwrap_or("")
            .parse()
            .map_err(tollgate_core::accounts::AccountError::from)?;
        state
            .accounts
            .create_user(
                &admin.actor.company_id(),
                form.get("email").unwrap_or(""),
                role,
                form.get("password").unwrap_or(""),
                Some(&admin.actor),
            )
            .await?;
        Ok(())
    }
    .await;
    users_result(&state, &admin, r).await
}

fn parse_user_id(id: &str) -> Result<tollgate_core::accounts::UserId, AdminApiError> {
    tollgate_core::accounts::UserId::parse(id)
        .map_err(|_| tollgate_core::accounts::AccountError::UserNotFound.into())
}

async fn set_role(
    State(state): State<AppState>,
    admin: PanelAdmin,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let form = FormBody::parse(&body);
    let r = async {
        form.check_csrf(&admin.csrf)?;
        let role: Role = form
            .get("role")
            .unwrap_or("")
            .parse()
            .map_err(tollgate_core::accounts::AccountError::from)?;
        state
            .accounts
            .set_role(&admin.actor, &parse_user_id(&id)?, role)
            .await?;
        Ok(())
    }
    .await;
    users_result(&state, &admin, r).await
}

async fn remove_user(
    State(state): State<AppState>,
    admin: PanelAdmin,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let form = FormBody::parse(&body);
    let r = async {
        form.check_csrf(&admin.csrf)?;
        state
            .accounts
            .remove_user(&admin.actor, &parse_user_id(&id)?)
            .await?;
        Ok(())
    }
    .await;
    users_result(&state, &admin, r).await
}

// ---------- audit ----------

struct EventRow {
    at: String,
    actor: String,
    action: String,
    target: String,
    remote: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    email: String,
    csrf: String,
    events: Vec<EventRow>,
}

async fn audit(State(state): State<AppState>, admin: PanelAdmin) -> Response {
    match state.accounts.audit(&admin.actor.company_id(), 500).await {
        Ok(events) => html(
            StatusCode::OK,
            &AuditPage {
                email: admin.email.clone(),
                csrf: admin.csrf.clone(),
                events: events
                    .into_iter()
                    .map(|e| EventRow {
                        at: rfc3339(e.at),
                        actor: e.actor,
                        action: e.action.to_string(),
                        target: e.target,
                        remote: e.remote_addr.unwrap_or_default(),
                    })
                    .collect(),
            },
        ),
        Err(e) => error_page(&e.into(), "/admin"),
    }
}
