//! The credential pages: the list (with the secret just created or rotated, shown once), create,
//! edit, rotate, delete, and revoking a leaked secret from its text.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use tollgate_core::admin::CredentialChanges;
use tollgate_core::allowlist::IpAllowlist;
use tollgate_core::clock::{UnixTime, rfc3339};
use tollgate_core::model::CredentialAccess;

use super::panel::{
    ErrorOn as _, Form, FormError, PanelAdmin, check_nonce, error_page, html, new_nonce,
};
use super::when::When;
use crate::admin::api::{self, ops};
use crate::error::AdminApiError;
use crate::state::AppState;

struct Row {
    client_id: String,
    label: String,
    scopes: String,
    /// "All 45 permissions", "3 permissions".
    summary: String,
    created_at: When,
    /// `None`: never used.
    last_used_at: Option<When>,
    expiry: Option<Expiry>,
    ip_limited: bool,
}

/// A credential's expiry as the list shows it.
struct Expiry {
    at: When,
    expired: bool,
    /// Within [`SOON_DAYS`].
    soon: bool,
    /// Whole days left, rounded up.
    days: i64,
}

/// The list marks credentials that expire within this many days.
const SOON_DAYS: i64 = 30;

impl Expiry {
    fn of(at: UnixTime, now: UnixTime) -> Self {
        let left = at - now;
        let days = (left + 86_399).div_euclid(86_400);
        Self {
            at: When::new(at, now),
            expired: left <= 0,
            soon: left > 0 && days <= SOON_DAYS,
            days,
        }
    }
}

/// What the admin typed and ticked in a form that was refused: shown again as it was.
struct Draft {
    label: String,
    scopes: Vec<String>,
    expires_at: String,
    allowed_ips: String,
    /// `None`: all of the company's resources; else those ticked.
    resources: Option<Vec<String>>,
}

impl Draft {
    fn of(form: &Form) -> Self {
        Self {
            label: form.get("label").unwrap_or("").to_owned(),
            scopes: form.all("scope").into_iter().map(str::to_owned).collect(),
            expires_at: form.get("expires_at").unwrap_or("").to_owned(),
            allowed_ips: form.get("allowed_ips").unwrap_or("").to_owned(),
            resources: (form.get("resources_mode") == Some("some")).then(|| {
                form.all("resource")
                    .into_iter()
                    .map(str::to_owned)
                    .collect()
            }),
        }
    }
}

/// One of the company's resources (RFC 8707 audiences) in the form, ticked or not.
struct ResourceChoice {
    uri: String,
    ticked: bool,
}

/// The company's resources as the form offers them: ticked as `chosen` says (`None`: all).
fn resource_choices(
    company: &tollgate_core::audience::Resources,
    chosen: Option<&[String]>,
) -> Vec<ResourceChoice> {
    company
        .iter()
        .map(|r| ResourceChoice {
            uri: r.to_string(),
            ticked: chosen.is_none_or(|c| c.iter().any(|x| x == r.as_str())),
        })
        .collect()
}

/// The form's resources: `None` when it has no such field (not the panel's own form, or a company
/// without resources), `Some(None)` for all of the company's, else those ticked.
fn form_resources(
    form: &Form,
) -> Result<Option<Option<tollgate_core::audience::Resources>>, AdminApiError> {
    match form.get("resources_mode") {
        None => Ok(None),
        Some("all") => Ok(Some(None)),
        Some(_) => api::resources(&form.all("resource")).map(|r| Some(Some(r))),
    }
}

/// The form's expiry: a `datetime-local` value (`2027-01-31T18:00`, read as UTC) or an RFC 3339
/// time; empty: none.
fn form_expiry(form: &Form) -> Result<Option<UnixTime>, AdminApiError> {
    let text = form.get("expires_at").unwrap_or("").trim();
    if text.is_empty() {
        return Ok(None);
    }
    let utc = match text.len() {
        16 => format!("{text}:00Z"),
        19 => format!("{text}Z"),
        _ => text.to_owned(),
    };
    api::expiry(Some(&utc))
}

/// The form's IP allowlist: entries separated by lines, commas or spaces.
fn form_allowlist(form: &Form) -> Result<IpAllowlist, AdminApiError> {
    let text = form.get("allowed_ips").unwrap_or("");
    let entries: Vec<&str> = text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|e| !e.is_empty())
        .collect();
    api::allowlist(&entries)
}

/// The form's value of a stored expiry (`datetime-local`, UTC).
fn expiry_input(at: Option<UnixTime>) -> String {
    at.map(|t| {
        let s = rfc3339(t);
        s.get(..16).unwrap_or(&s).to_owned()
    })
    .unwrap_or_default()
}

/// The form's value of a stored allowlist, one network per line.
fn allowlist_input(list: &IpAllowlist) -> String {
    list.networks()
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
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
    /// The company's scopes, ticked as the refused create form had them.
    matrix: super::scopes::ScopeMatrix,
    matrix_id: &'static str,
    /// The create form's label, as the refused form had it.
    label: String,
    /// The create form's expiry and allowlist, as the refused form had them.
    expires_at: String,
    allowed_ips: String,
    /// The company's resources, and whether the form says "all of them".
    resource_choices: Vec<ResourceChoice>,
    resources_all: bool,
    count: usize,
    max: u32,
    at_limit: bool,
    error: Option<FormError>,
    notice: Option<String>,
    secret: Option<ShownSecret>,
    /// Where the shown secret gets tokens.
    token_url: String,
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
        secret: created.secret.expose_secret().to_owned(),
    };
    credentials_page(
        state,
        admin,
        status,
        None,
        None,
        Some(notice.to_owned()),
        Some(shown),
    )
    .await
}

#[derive(serde::Deserialize)]
pub(super) struct Notice {
    done: Option<String>,
}

async fn credentials_page(
    state: &AppState,
    admin: &PanelAdmin,
    status: StatusCode,
    error: Option<FormError>,
    draft: Option<Draft>,
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
    let now = state.accounts.now();
    let rows: Vec<Row> = list
        .iter()
        .rev()
        .map(|c| Row {
            client_id: c.client_id.as_str().to_owned(),
            label: c.label.clone(),
            scopes: c.scopes.intersection(&company.scopes).to_string(),
            summary: super::scopes::summary(&c.scopes, &company.scopes),
            created_at: When::new(c.created_at, now),
            last_used_at: c.last_used_at.map(|t| When::new(t, now)),
            expiry: c.access.expires_at.map(|t| Expiry::of(t, now)),
            ip_limited: !c.access.allowed_ips.is_empty(),
        })
        .collect();
    let count = rows.len();
    let draft = draft.unwrap_or(Draft {
        label: String::new(),
        scopes: Vec::new(),
        expires_at: String::new(),
        allowed_ips: String::new(),
        resources: None,
    });
    html(
        status,
        &CredentialsPage {
            email: admin.email.clone(),
            csrf: admin.csrf.clone(),
            credentials: rows,
            matrix: super::scopes::ScopeMatrix::new(
                &company.scopes,
                &draft.scopes,
                state.admin.catalog(),
            ),
            matrix_id: "create-scopes",
            label: draft.label,
            expires_at: draft.expires_at,
            allowed_ips: draft.allowed_ips,
            resource_choices: resource_choices(&company.resources, draft.resources.as_deref()),
            resources_all: draft.resources.is_none(),
            count,
            max: company.max_credentials,
            at_limit: count >= company.max_credentials as usize,
            error,
            notice,
            secret,
            token_url: format!("{}/api/v2/oauth2/token", state.base_url),
            nonce: new_nonce(),
        },
    )
}

pub(super) async fn credentials(
    State(state): State<AppState>,
    admin: PanelAdmin,
    Query(n): Query<Notice>,
) -> Response {
    let notice = n.done.as_deref().map(|d| match d {
        "updated" => "Credential updated.".to_owned(),
        "deleted" => "Credential deleted; its tokens are refused from now on.".to_owned(),
        "secret_revoked" => {
            "Old secret revoked; it and its tokens are refused from now on.".to_owned()
        }
        "already" => {
            "That form was already sent: nothing was done again (a secret is shown only once)."
                .to_owned()
        }
        _ => "Done.".to_owned(),
    });
    credentials_page(&state, &admin, StatusCode::OK, None, None, notice, None).await
}

/// Checks the CSRF token, then the form's one-use token: `Some(response)` to send instead.
fn guard_secret_form(state: &AppState, admin: &PanelAdmin, form: &Form) -> Option<Response> {
    if let Err(e) = form.check_csrf(&admin.csrf) {
        return Some(error_page(&e, "/admin/credentials"));
    }
    check_nonce(state, form, "/admin/credentials")
}

pub(super) async fn create(
    State(state): State<AppState>,
    admin: PanelAdmin,
    form: Form,
) -> Response {
    if let Some(refused) = guard_secret_form(&state, &admin, &form) {
        return refused;
    }
    let result = async {
        form.check_csrf(&admin.csrf)?;
        let scopes = form.scopes()?;
        let access = CredentialAccess {
            expires_at: form_expiry(&form)?,
            allowed_ips: form_allowlist(&form)?,
            resources: form_resources(&form)?.flatten(),
        };
        ops::create(
            &state,
            &admin.actor,
            form.get("label").unwrap_or(""),
            scopes,
            access,
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
            credentials_page(
                &state,
                &admin,
                e.parts().0,
                Some(FormError::of(&e)),
                Some(Draft::of(&form)),
                None,
                None,
            )
            .await
        }
    }
}

/// One live secret on the edit page.
struct SecretRow {
    id: String,
    created_at: When,
    /// When and from where (if known) it last got a token; `None`: never.
    last_used: Option<(When, Option<String>)>,
    /// While a rotation's grace runs, when it ends ("19:53 UTC (in 58 min)").
    until: Option<When>,
}

#[derive(Template)]
#[template(path = "edit.html")]
struct EditPage {
    /// Live secrets, oldest first.
    secrets: Vec<SecretRow>,
    email: String,
    csrf: String,
    client_id: String,
    label: String,
    matrix: super::scopes::ScopeMatrix,
    matrix_id: &'static str,
    /// What the credential's tokens get now ("groups:read groups:write"), and how many.
    granted: String,
    summary: String,
    /// Scopes the credential holds outside the company's ceiling: shown, kept, not editable.
    dormant: Vec<String>,
    expires_at: String,
    allowed_ips: String,
    resource_choices: Vec<ResourceChoice>,
    resources_all: bool,
    error: Option<FormError>,
    nonce: String,
    /// The last 30 days' usage (chart and numbers).
    usage: crate::admin::usage::Usage,
    chart_height: u32,
}

async fn edit_view(
    state: &AppState,
    admin: &PanelAdmin,
    client_id: &str,
    status: StatusCode,
    error: Option<FormError>,
    draft: Option<Draft>,
) -> Response {
    let c = match api::own_credential(state, &admin.actor, client_id).await {
        Ok(c) => c,
        Err(e) => return error_page(&e, "/admin/credentials"),
    };
    let ceiling = match api::ceiling(state, &admin.actor).await {
        Ok(c) => c,
        Err(e) => return error_page(&e, "/admin/credentials"),
    };
    // A refused form is shown as it was sent; else the credential as stored.
    let (label, ticked, expires_at, allowed_ips, resources) = match draft {
        Some(d) => (d.label, d.scopes, d.expires_at, d.allowed_ips, d.resources),
        None => (
            c.label.clone(),
            c.scopes.iter().map(|s| s.to_string()).collect(),
            expiry_input(c.access.expires_at),
            allowlist_input(&c.access.allowed_ips),
            c.access
                .resources
                .as_ref()
                .map(|l| l.iter().map(|r| r.to_string()).collect()),
        ),
    };
    let company_resources = match state.admin.company(&c.company_id).await {
        Ok(company) => company.resources,
        Err(e) => return error_page(&e.into(), "/admin/credentials"),
    };
    let now = state.accounts.now();
    let (usage, uses) = match crate::admin::usage::usage_of(state, &c.client_id).await {
        Ok(u) => u,
        Err(e) => {
            return error_page(
                &AdminApiError::from(tollgate_core::admin::AdminError::from(e)),
                "/admin/credentials",
            );
        }
    };
    let secrets = c
        .secrets
        .iter()
        .filter(|s| s.is_live(now))
        .map(|s| SecretRow {
            id: s.id.as_str().to_owned(),
            created_at: When::new(s.created_at, now),
            last_used: uses
                .iter()
                .find(|u| u.secret_id == s.id)
                .map(|u| (When::new(u.at, now), u.ip.map(|ip| ip.to_string()))),
            until: s.expires_at.map(|t| When::new(t, now)),
        })
        .collect();
    html(
        status,
        &EditPage {
            secrets,
            email: admin.email.clone(),
            csrf: admin.csrf.clone(),
            client_id: c.client_id.as_str().to_owned(),
            label,
            matrix: super::scopes::ScopeMatrix::new(&ceiling, &ticked, state.admin.catalog()),
            matrix_id: "edit-scopes",
            granted: c.scopes.intersection(&ceiling).to_string(),
            summary: super::scopes::summary(&c.scopes, &ceiling),
            dormant: c
                .scopes
                .difference(&ceiling)
                .iter()
                .map(|s| s.to_string())
                .collect(),
            expires_at,
            allowed_ips,
            resource_choices: resource_choices(&company_resources, resources.as_deref()),
            resources_all: resources.is_none(),
            error,
            nonce: new_nonce(),
            usage,
            chart_height: crate::admin::usage::CHART_HEIGHT,
        },
    )
}

pub(super) async fn edit_page(
    State(state): State<AppState>,
    admin: PanelAdmin,
    Path(id): Path<String>,
) -> Response {
    edit_view(&state, &admin, &id, StatusCode::OK, None, None).await
}

pub(super) async fn update(
    State(state): State<AppState>,
    admin: PanelAdmin,
    Path(id): Path<String>,
    form: Form,
) -> Response {
    let result = async {
        form.check_csrf(&admin.csrf)?;
        let changes = CredentialChanges {
            label: form.get("label").map(str::to_owned),
            scopes: Some(form.scopes()?),
            // A form without the fields (not the panel's own) leaves them as they are.
            expires_at: form
                .get("expires_at")
                .map(|_| form_expiry(&form))
                .transpose()?,
            allowed_ips: form
                .get("allowed_ips")
                .map(|_| form_allowlist(&form))
                .transpose()?,
            resources: form_resources(&form)?,
        };
        ops::update(&state, &admin.actor, &id, changes).await
    }
    .await;
    match result {
        Ok(_) => Redirect::to("/admin/credentials?done=updated").into_response(),
        Err(e @ AdminApiError::Csrf) => error_page(&e, "/admin/credentials"),
        Err(e) if e.is_not_found() => error_page(&e, "/admin/credentials"),
        Err(e) => {
            let error = Some(FormError::of(&e));
            edit_view(
                &state,
                &admin,
                &id,
                e.parts().0,
                error,
                Some(Draft::of(&form)),
            )
            .await
        }
    }
}

/// "Revoke old secret now": that secret and its tokens stop at once.
pub(super) async fn end_secret(
    State(state): State<AppState>,
    admin: PanelAdmin,
    Path((id, secret)): Path<(String, String)>,
    form: Form,
) -> Response {
    let result = async {
        form.check_csrf(&admin.csrf)?;
        ops::end_secret(&state, &admin.actor, &id, &secret).await
    }
    .await;
    match result {
        Ok(_) => Redirect::to("/admin/credentials?done=secret_revoked").into_response(),
        Err(e @ AdminApiError::Csrf) => error_page(&e, "/admin/credentials"),
        Err(e) if e.is_not_found() => error_page(&e, "/admin/credentials"),
        Err(e) => {
            let error = Some(FormError::at("secrets", &e.parts().2));
            edit_view(&state, &admin, &id, e.parts().0, error, None).await
        }
    }
}

pub(super) async fn rotate(
    State(state): State<AppState>,
    admin: PanelAdmin,
    Path(id): Path<String>,
    form: Form,
) -> Response {
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
            .map_err(|_| {
                AdminApiError::InvalidInput("grace must be a whole number of seconds".into())
            })?
            .unwrap_or(0);
        ops::rotate(&state, &admin.actor, &id, grace).await
    }
    .await;
    match result {
        Ok(r) => secret_page(&state, &admin, StatusCode::OK, "Secret rotated.", &r).await,
        Err(e @ AdminApiError::Csrf) => error_page(&e, "/admin/credentials"),
        Err(e) if e.is_not_found() => error_page(&e, "/admin/credentials"),
        Err(e) => {
            let (status, _, message) = e.parts();
            let error = Some(FormError::at("grace", &message));
            edit_view(&state, &admin, &id, status, error, None).await
        }
    }
}

/// `POST /admin/credentials/revoke-leaked` (field `secret`): the leaked secret and its tokens stop
/// at once, and its credential's new secret is shown once. A secret that is not one of this
/// company's gets the list with the message, and nothing changes.
pub(super) async fn revoke_leaked(
    State(state): State<AppState>,
    admin: PanelAdmin,
    form: Form,
) -> Response {
    if let Some(refused) = guard_secret_form(&state, &admin, &form) {
        return refused;
    }
    let result = async {
        let text = form.get("secret").map(str::trim).unwrap_or("");
        if text.is_empty() {
            return Err(AdminApiError::InvalidInput(
                "paste the leaked client secret".into(),
            ));
        }
        let leaked = tollgate_core::secret::ClientSecret::new(text);
        ops::revoke_leaked(&state, &admin.actor, &leaked).await
    }
    .await;
    match result {
        Ok(r) => {
            let notice = format!(
                "The leaked secret of \u{201c}{}\u{201d} no longer works, and neither do its tokens. \
                 Give the integration the new secret below.",
                r.credential.label
            );
            secret_page(&state, &admin, StatusCode::OK, &notice, &r).await
        }
        Err(e) => {
            let (status, _, message) = e.parts();
            let message = if e.is_not_found() {
                "No credential of this company has that secret: nothing was changed.".to_owned()
            } else {
                message
            };
            let error = Some(FormError::at("secret", &message));
            credentials_page(&state, &admin, status, error, None, None, None).await
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

pub(super) async fn delete_page(
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

pub(super) async fn delete(
    State(state): State<AppState>,
    admin: PanelAdmin,
    Path(id): Path<String>,
    form: Form,
) -> Response {
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
