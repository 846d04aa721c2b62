//! The admin JSON API under `/admin/api/v1/`: the panel's operations, for scripts. Every operation is
//! scoped to the caller's own company; another company's objects read as missing.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use tollgate_core::accounts::{AdminActor, AuditAction, Role, UserId};
use tollgate_core::admin::{CreatedCredential, CredentialChanges, access_audit};
use tollgate_core::allowlist::IpAllowlist;
use tollgate_core::audience::Resources;
use tollgate_core::clock::UnixTime;
use tollgate_core::ids::ClientId;
use tollgate_core::model::{Credential, CredentialAccess};
use tollgate_proto::ScopeSet;

use super::auth::ApiAdmin;
use crate::error::AdminApiError;
use crate::extract::AdminJson;
use crate::state::AppState;
use crate::views::{CredentialView, credential_view, user_view};

/// The credential, if it belongs to the caller's company.
pub(crate) async fn own_credential(
    state: &AppState,
    actor: &AdminActor,
    client_id: &str,
) -> Result<Credential, AdminApiError> {
    let id = ClientId::parse(client_id).map_err(|_| AdminApiError::CredentialNotFound)?;
    match state.admin.credential(&id).await {
        Ok(c) if c.company_id == actor.company_id() => Ok(c),
        Ok(_) | Err(tollgate_core::admin::AdminError::CredentialNotFound) => {
            Err(AdminApiError::CredentialNotFound)
        }
        Err(e) => Err(e.into()),
    }
}

pub(crate) async fn ceiling(
    state: &AppState,
    actor: &AdminActor,
) -> Result<ScopeSet, AdminApiError> {
    Ok(state.admin.company(&actor.company_id()).await?.scopes)
}

async fn audit(
    state: &AppState,
    actor: &AdminActor,
    action: AuditAction,
    target: &str,
) -> Result<(), AdminApiError> {
    Ok(state
        .accounts
        .record(actor.event(action, target, state.accounts.now()))
        .await?)
}

/// Operations shared by the JSON API and the panel.
pub(crate) mod ops {
    use super::*;

    pub(crate) async fn create(
        state: &AppState,
        actor: &AdminActor,
        label: &str,
        scopes: ScopeSet,
        access: CredentialAccess,
    ) -> Result<CreatedCredential, AdminApiError> {
        // The credential and its audit entry in one transaction: a crash leaves both or neither.
        let at = state.accounts.now();
        let created = state
            .admin
            .create_credential_audited(
                &actor.company_id(),
                label,
                scopes,
                access,
                |c: &Credential| {
                    actor.event(AuditAction::CredentialCreated, c.client_id.as_str(), at)
                },
            )
            .await?;
        let c = &created.credential;
        for (action, target) in access_audit(&c.client_id, &CredentialAccess::default(), &c.access)
        {
            audit(state, actor, action, &target).await?;
        }
        Ok(created)
    }

    pub(crate) async fn update(
        state: &AppState,
        actor: &AdminActor,
        client_id: &str,
        changes: CredentialChanges,
    ) -> Result<Credential, AdminApiError> {
        let c = own_credential(state, actor, client_id).await?;
        let updated = state.admin.update_credential(&c.client_id, changes).await?;
        // Saving a form unchanged is not an event.
        if (&updated.label, &updated.scopes) != (&c.label, &c.scopes) {
            audit(
                state,
                actor,
                AuditAction::CredentialUpdated,
                c.client_id.as_str(),
            )
            .await?;
        }
        for (action, target) in access_audit(&c.client_id, &c.access, &updated.access) {
            audit(state, actor, action, &target).await?;
        }
        Ok(updated)
    }

    pub(crate) async fn rotate(
        state: &AppState,
        actor: &AdminActor,
        client_id: &str,
        grace: i64,
    ) -> Result<CreatedCredential, AdminApiError> {
        let c = own_credential(state, actor, client_id).await?;
        let r = state.admin.rotate_secret(&c.client_id, grace).await?;
        audit(
            state,
            actor,
            AuditAction::CredentialRotated,
            &format!("{} (grace {grace}s)", c.client_id),
        )
        .await?;
        Ok(r)
    }

    /// Revokes a leaked secret of the caller's company from its text: a new secret at once, the
    /// leaked one (and its tokens) dead. Another company's secret reads as unknown.
    pub(crate) async fn revoke_leaked(
        state: &AppState,
        actor: &AdminActor,
        leaked: &tollgate_core::secret::ClientSecret,
    ) -> Result<CreatedCredential, AdminApiError> {
        let r = state
            .admin
            .revoke_leaked_secret(leaked, Some(&actor.company_id()))
            .await?;
        audit(
            state,
            actor,
            AuditAction::CredentialSecretLeaked,
            r.credential.client_id.as_str(),
        )
        .await?;
        Ok(r)
    }

    /// Ends one secret of the caller's company's credential at once.
    pub(crate) async fn end_secret(
        state: &AppState,
        actor: &AdminActor,
        client_id: &str,
        secret_id: &str,
    ) -> Result<Credential, AdminApiError> {
        let c = own_credential(state, actor, client_id).await?;
        state.admin.end_secret(&c.client_id, secret_id).await?;
        audit(
            state,
            actor,
            AuditAction::CredentialSecretRevoked,
            &format!("{} (secret {secret_id})", c.client_id),
        )
        .await?;
        Ok(state.admin.credential(&c.client_id).await?)
    }

    pub(crate) async fn delete(
        state: &AppState,
        actor: &AdminActor,
        client_id: &str,
    ) -> Result<(), AdminApiError> {
        let c = own_credential(state, actor, client_id).await?;
        match state.admin.delete_credential(&c.client_id).await {
            // Deleted concurrently by someone else: the outcome the caller wanted.
            Ok(()) | Err(tollgate_core::admin::AdminError::CredentialNotFound) => {}
            Err(e) => return Err(e.into()),
        }
        audit(
            state,
            actor,
            AuditAction::CredentialDeleted,
            c.client_id.as_str(),
        )
        .await
    }
}

/// `GET /admin/api/v1/credentials`.
#[utoipa::path(
    get,
    path = "/admin/api/v1/credentials",
    tag = "admin",
    responses(
        (status = 200, description = "The company's credentials", body = Vec<super::doc::CredentialDoc>),
        super::doc::ReadErrors,
    ),
    security(("admin_session" = []), ("bearer" = ["credentials:manage"])),
)]
pub(crate) async fn list_credentials(
    State(state): State<AppState>,
    ApiAdmin(actor): ApiAdmin,
) -> Result<Json<Vec<CredentialView>>, AdminApiError> {
    let ceiling = ceiling(&state, &actor).await?;
    let list = state.admin.credentials(&actor.company_id()).await?;
    Ok(Json(
        list.iter()
            .map(|c| credential_view(c, &ceiling, None))
            .collect(),
    ))
}

/// A new credential.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = AdminCredentialCreate)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateBody {
    label: String,
    scopes: Vec<String>,
    /// RFC 3339; absent or null: no expiry.
    #[serde(default)]
    expires_at: Option<String>,
    /// CIDRs or addresses; absent or empty: any address.
    #[serde(default)]
    allowed_ips: Vec<String>,
    /// Which of the company's resources (RFC 8707) its tokens may be for; absent or null: all.
    #[serde(default)]
    resources: Option<Vec<String>>,
}

fn scopes(list: &[String]) -> Result<ScopeSet, AdminApiError> {
    ScopeSet::parse_list(&list.join(" ")).map_err(|e| AdminApiError::InvalidInput(e.to_string()))
}

/// `expires_at` as sent: an RFC 3339 time, or null for none.
pub(crate) fn expiry(text: Option<&str>) -> Result<Option<UnixTime>, AdminApiError> {
    text.map(|t| {
        tollgate_core::clock::parse_rfc3339(t)
            .map_err(|e| AdminApiError::InvalidInput(format!("expires_at: {e}")))
    })
    .transpose()
}

/// `resources` as sent.
pub(crate) fn resources<S: AsRef<str>>(list: &[S]) -> Result<Resources, AdminApiError> {
    Resources::parse(list).map_err(|e| AdminApiError::InvalidInput(format!("resources: {e}")))
}

/// `allowed_ips` as sent.
pub(crate) fn allowlist<S: AsRef<str>>(list: &[S]) -> Result<IpAllowlist, AdminApiError> {
    IpAllowlist::parse(list).map_err(|e| AdminApiError::InvalidInput(format!("allowed_ips: {e}")))
}

/// A field that may be absent (leave it), null (clear it) or a value (set it).
fn absent_null_or<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// `POST /admin/api/v1/credentials`: the secret is in this response only.
#[utoipa::path(
    post,
    path = "/admin/api/v1/credentials",
    tag = "admin",
    request_body = CreateBody,
    responses(
        (status = 201, description = "Created; `client_secret` is in this answer only", body = super::doc::CredentialDoc),
        (status = 400, description = "invalidInput (the message says which field and why), unknownScope, scopeNotAllowed", body = crate::schemas::ApiErrorDoc),
        (status = 409, description = "credentialLimitReached", body = crate::schemas::ApiErrorDoc),
        super::doc::WriteErrors,
    ),
    security(("admin_session" = [], "csrf" = []), ("bearer" = ["credentials:manage"])),
)]
pub(crate) async fn create_credential(
    State(state): State<AppState>,
    ApiAdmin(actor): ApiAdmin,
    AdminJson(b): AdminJson<CreateBody>,
) -> Result<(StatusCode, Json<CredentialView>), AdminApiError> {
    let access = CredentialAccess {
        expires_at: expiry(b.expires_at.as_deref())?,
        allowed_ips: allowlist(&b.allowed_ips)?,
        resources: b.resources.as_deref().map(resources).transpose()?,
    };
    let created = ops::create(&state, &actor, &b.label, scopes(&b.scopes)?, access).await?;
    let ceiling = ceiling(&state, &actor).await?;
    Ok((
        StatusCode::CREATED,
        Json(credential_view(
            &created.credential,
            &ceiling,
            Some(created.secret.expose_secret()),
        )),
    ))
}

/// `GET /admin/api/v1/credentials/{client_id}`.
#[utoipa::path(
    get,
    path = "/admin/api/v1/credentials/{client_id}",
    tag = "admin",
    params(("client_id" = String, Path, description = "The credential's client ID")),
    responses(
        (status = 200, description = "The credential, its last 30 days' usage and each secret's last use", body = super::doc::CredentialDoc),
        (status = 404, description = "credentialNotFound (also: another company's credential)", body = crate::schemas::ApiErrorDoc),
        super::doc::ReadErrors,
    ),
    security(("admin_session" = []), ("bearer" = ["credentials:manage"])),
)]
pub(crate) async fn get_credential(
    State(state): State<AppState>,
    ApiAdmin(actor): ApiAdmin,
    Path(id): Path<String>,
) -> Result<Json<CredentialView>, AdminApiError> {
    let c = own_credential(&state, &actor, &id).await?;
    let (usage, uses) = super::usage::usage_of(&state, &c.client_id)
        .await
        .map_err(tollgate_core::admin::AdminError::from)?;
    Ok(Json(
        credential_view(&c, &ceiling(&state, &actor).await?, None).with_usage(usage.json(), &uses),
    ))
}

/// Changes to a credential: absent fields are left as they are.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = AdminCredentialUpdate)]
#[serde(deny_unknown_fields)]
pub(crate) struct UpdateBody {
    label: Option<String>,
    scopes: Option<Vec<String>>,
    /// Absent: unchanged; null: no expiry; an RFC 3339 time.
    #[serde(default, deserialize_with = "absent_null_or")]
    #[schema(value_type = Option<String>)]
    expires_at: Option<Option<String>>,
    /// Absent: unchanged; empty: any address.
    allowed_ips: Option<Vec<String>>,
    /// Absent: unchanged; null: all of the company's resources; a list: these of them.
    #[serde(default, deserialize_with = "absent_null_or")]
    #[schema(value_type = Option<Vec<String>>)]
    resources: Option<Option<Vec<String>>>,
}

/// `PATCH /admin/api/v1/credentials/{client_id}`.
#[utoipa::path(
    patch,
    path = "/admin/api/v1/credentials/{client_id}",
    tag = "admin",
    params(("client_id" = String, Path, description = "The credential's client ID")),
    request_body = UpdateBody,
    responses(
        (status = 200, description = "The credential as changed", body = super::doc::CredentialDoc),
        (status = 400, description = "invalidInput (the message says which field and why), unknownScope, scopeNotAllowed", body = crate::schemas::ApiErrorDoc),
        (status = 404, description = "credentialNotFound (also: another company's credential)", body = crate::schemas::ApiErrorDoc),
        super::doc::WriteErrors,
    ),
    security(("admin_session" = [], "csrf" = []), ("bearer" = ["credentials:manage"])),
)]
pub(crate) async fn update_credential(
    State(state): State<AppState>,
    ApiAdmin(actor): ApiAdmin,
    Path(id): Path<String>,
    AdminJson(b): AdminJson<UpdateBody>,
) -> Result<Json<CredentialView>, AdminApiError> {
    let changes = CredentialChanges {
        label: b.label,
        scopes: b.scopes.as_deref().map(scopes).transpose()?,
        expires_at: b.expires_at.map(|t| expiry(t.as_deref())).transpose()?,
        allowed_ips: b.allowed_ips.as_deref().map(allowlist).transpose()?,
        resources: b
            .resources
            .map(|r| r.as_deref().map(resources).transpose())
            .transpose()?,
    };
    let c = ops::update(&state, &actor, &id, changes).await?;
    Ok(Json(credential_view(
        &c,
        &ceiling(&state, &actor).await?,
        None,
    )))
}

/// A rotation: the old secret keeps working for `grace_seconds` (default 0: it stops at once).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[schema(as = AdminCredentialRotate)]
#[serde(deny_unknown_fields)]
pub(crate) struct RotateBody {
    #[serde(default)]
    #[schema(minimum = 0)]
    grace_seconds: i64,
}

/// `POST /admin/api/v1/credentials/{client_id}/rotate`: the new secret is in this response only.
#[utoipa::path(
    post,
    path = "/admin/api/v1/credentials/{client_id}/rotate",
    tag = "admin",
    params(("client_id" = String, Path, description = "The credential's client ID")),
    request_body(content = Option<RotateBody>, description = "Optional: no body rotates with no grace"),
    responses(
        (status = 200, description = "Rotated; the new `client_secret` is in this answer only", body = super::doc::CredentialDoc),
        (status = 400, description = "invalidInput", body = crate::schemas::ApiErrorDoc),
        (status = 404, description = "credentialNotFound (also: another company's credential)", body = crate::schemas::ApiErrorDoc),
        super::doc::WriteErrors,
    ),
    security(("admin_session" = [], "csrf" = []), ("bearer" = ["credentials:manage"])),
)]
pub(crate) async fn rotate_credential(
    State(state): State<AppState>,
    ApiAdmin(actor): ApiAdmin,
    Path(id): Path<String>,
    body: Option<AdminJson<RotateBody>>,
) -> Result<Json<CredentialView>, AdminApiError> {
    let grace = body.map(|AdminJson(b)| b.grace_seconds).unwrap_or(0);
    let r = ops::rotate(&state, &actor, &id, grace).await?;
    Ok(Json(credential_view(
        &r.credential,
        &ceiling(&state, &actor).await?,
        Some(r.secret.expose_secret()),
    )))
}

/// A leaked secret, as its text.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = AdminRevokeLeaked)]
#[serde(deny_unknown_fields)]
pub(crate) struct LeakedBody {
    #[schema(value_type = String)]
    secret: tollgate_core::secret::ClientSecret,
}

impl std::fmt::Debug for LeakedBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LeakedBody([redacted])")
    }
}

/// `POST /admin/api/v1/credentials/revoke-leaked` `{"secret": …}`: the leaked secret stops at once
/// (its tokens too); the credential's new secret is in this response only. 404
/// `credentialNotFound` for a secret that is not one of the caller's company's.
#[utoipa::path(
    post,
    path = "/admin/api/v1/credentials/revoke-leaked",
    tag = "admin",
    request_body = LeakedBody,
    responses(
        (status = 200, description = "The leaked secret and its tokens stopped; the credential's new `client_secret` is in this answer only", body = super::doc::CredentialDoc),
        (status = 400, description = "invalidInput", body = crate::schemas::ApiErrorDoc),
        (status = 404, description = "credentialNotFound: not a secret of the caller's company", body = crate::schemas::ApiErrorDoc),
        super::doc::WriteErrors,
    ),
    security(("admin_session" = [], "csrf" = []), ("bearer" = ["credentials:manage"])),
)]
pub(crate) async fn revoke_leaked(
    State(state): State<AppState>,
    ApiAdmin(actor): ApiAdmin,
    AdminJson(b): AdminJson<LeakedBody>,
) -> Result<Json<CredentialView>, AdminApiError> {
    let r = ops::revoke_leaked(&state, &actor, &b.secret).await?;
    Ok(Json(credential_view(
        &r.credential,
        &ceiling(&state, &actor).await?,
        Some(r.secret.expose_secret()),
    )))
}

/// `DELETE /admin/api/v1/credentials/{client_id}/secrets/{secret_id}`: that secret (an old one in
/// its rotation grace, say) and its tokens are refused at once; 409 `lastSecret` for the only live
/// one.
#[utoipa::path(
    delete,
    path = "/admin/api/v1/credentials/{client_id}/secrets/{secret_id}",
    tag = "admin",
    params(
        ("client_id" = String, Path, description = "The credential's client ID"),
        ("secret_id" = String, Path, description = "The secret's id (`secrets[].id`)"),
    ),
    responses(
        (status = 200, description = "The credential, without that secret", body = super::doc::CredentialDoc),
        (status = 404, description = "credentialNotFound, secretNotFound", body = crate::schemas::ApiErrorDoc),
        (status = 409, description = "lastSecret: the credential's only live secret (rotate it instead)", body = crate::schemas::ApiErrorDoc),
        super::doc::WriteErrors,
    ),
    security(("admin_session" = [], "csrf" = []), ("bearer" = ["credentials:manage"])),
)]
pub(crate) async fn end_secret(
    State(state): State<AppState>,
    ApiAdmin(actor): ApiAdmin,
    Path((id, secret)): Path<(String, String)>,
) -> Result<Json<CredentialView>, AdminApiError> {
    let c = ops::end_secret(&state, &actor, &id, &secret).await?;
    Ok(Json(credential_view(
        &c,
        &ceiling(&state, &actor).await?,
        None,
    )))
}

/// `DELETE /admin/api/v1/credentials/{client_id}`.
#[utoipa::path(
    delete,
    path = "/admin/api/v1/credentials/{client_id}",
    tag = "admin",
    params(("client_id" = String, Path, description = "The credential's client ID")),
    responses(
        (status = 204, description = "Deleted: its tokens stop working"),
        (status = 404, description = "credentialNotFound (also: another company's credential)", body = crate::schemas::ApiErrorDoc),
        super::doc::WriteErrors,
    ),
    security(("admin_session" = [], "csrf" = []), ("bearer" = ["credentials:manage"])),
)]
pub(crate) async fn delete_credential(
    State(state): State<AppState>,
    ApiAdmin(actor): ApiAdmin,
    Path(id): Path<String>,
) -> Result<StatusCode, AdminApiError> {
    ops::delete(&state, &actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /admin/api/v1/users`.
#[utoipa::path(
    get,
    path = "/admin/api/v1/users",
    tag = "admin",
    responses(
        (status = 200, description = "The company's panel users", body = Vec<super::doc::UserDoc>),
        super::doc::ReadErrors,
    ),
    security(("admin_session" = []), ("bearer" = ["credentials:manage"])),
)]
pub(crate) async fn list_users(
    State(state): State<AppState>,
    ApiAdmin(actor): ApiAdmin,
) -> Result<Json<Vec<Value>>, AdminApiError> {
    Ok(Json(
        state
            .accounts
            .users(&actor)
            .await?
            .iter()
            .map(user_view)
            .collect(),
    ))
}

/// A new panel user.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = AdminUserCreate)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewUserBody {
    email: String,
    #[schema(value_type = super::doc::RoleDoc)]
    role: String,
    password: String,
}

/// `POST /admin/api/v1/users`.
#[utoipa::path(
    post,
    path = "/admin/api/v1/users",
    tag = "admin",
    request_body = NewUserBody,
    responses(
        (status = 201, description = "Created", body = super::doc::UserDoc),
        (status = 400, description = "invalidInput: a bad email, role or password", body = crate::schemas::ApiErrorDoc),
        (status = 409, description = "emailTaken", body = crate::schemas::ApiErrorDoc),
        (status = 401, description = "unauthenticated: no valid session, or no valid bearer token", body = crate::schemas::ApiErrorDoc),
        (status = 403, description = "forbidden: not an owner or admin, or a token without credentials:manage; invalidCsrfToken: a session call without its X-CSRF-Token; humanSessionRequired: a token adding an owner or admin", body = crate::schemas::ApiErrorDoc),
        (status = 500, description = "internalError", body = crate::schemas::ApiErrorDoc),
    ),
    security(("admin_session" = [], "csrf" = []), ("bearer" = ["credentials:manage"])),
)]
pub(crate) async fn create_user(
    State(state): State<AppState>,
    ApiAdmin(actor): ApiAdmin,
    AdminJson(b): AdminJson<NewUserBody>,
) -> Result<(StatusCode, Json<Value>), AdminApiError> {
    let role: Role = b.role.parse()?;
    let u = state
        .accounts
        .create_user(
            &actor.company_id(),
            &b.email,
            role,
            &b.password,
            Some(&actor),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(user_view(&u))))
}

/// A user's new role.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[schema(as = AdminUserUpdate)]
#[serde(deny_unknown_fields)]
pub(crate) struct RoleBody {
    #[schema(value_type = super::doc::RoleDoc)]
    role: String,
}

fn user_id(s: &str) -> Result<UserId, AdminApiError> {
    UserId::parse(s).map_err(|_| AdminApiError::UserNotFound)
}

/// `PATCH /admin/api/v1/users/{id}`.
#[utoipa::path(
    patch,
    path = "/admin/api/v1/users/{id}",
    tag = "admin",
    params(("id" = String, Path, description = "The user's id")),
    request_body = RoleBody,
    responses(
        (status = 200, description = "The user with the new role", body = super::doc::UserDoc),
        (status = 400, description = "invalidInput: not a role", body = crate::schemas::ApiErrorDoc),
        (status = 404, description = "userNotFound (also: another company's user)", body = crate::schemas::ApiErrorDoc),
        (status = 409, description = "lastAdmin: the company would be left without an owner or admin", body = crate::schemas::ApiErrorDoc),
        (status = 401, description = "unauthenticated: no valid session, or no valid bearer token", body = crate::schemas::ApiErrorDoc),
        (status = 403, description = "forbidden: not an owner or admin, or a token without credentials:manage; invalidCsrfToken: a session call without its X-CSRF-Token; humanSessionRequired: a token managing an owner or admin", body = crate::schemas::ApiErrorDoc),
        (status = 500, description = "internalError", body = crate::schemas::ApiErrorDoc),
    ),
    security(("admin_session" = [], "csrf" = []), ("bearer" = ["credentials:manage"])),
)]
pub(crate) async fn update_user(
    State(state): State<AppState>,
    ApiAdmin(actor): ApiAdmin,
    Path(id): Path<String>,
    AdminJson(b): AdminJson<RoleBody>,
) -> Result<Json<Value>, AdminApiError> {
    let u = state
        .accounts
        .set_role(&actor, &user_id(&id)?, b.role.parse()?)
        .await?;
    Ok(Json(user_view(&u)))
}

/// `DELETE /admin/api/v1/users/{id}`.
#[utoipa::path(
    delete,
    path = "/admin/api/v1/users/{id}",
    tag = "admin",
    params(("id" = String, Path, description = "The user's id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "userNotFound (also: another company's user)", body = crate::schemas::ApiErrorDoc),
        (status = 409, description = "lastAdmin: the company would be left without an owner or admin", body = crate::schemas::ApiErrorDoc),
        (status = 401, description = "unauthenticated: no valid session, or no valid bearer token", body = crate::schemas::ApiErrorDoc),
        (status = 403, description = "forbidden: not an owner or admin, or a token without credentials:manage; invalidCsrfToken: a session call without its X-CSRF-Token; humanSessionRequired: a token managing an owner or admin", body = crate::schemas::ApiErrorDoc),
        (status = 500, description = "internalError", body = crate::schemas::ApiErrorDoc),
    ),
    security(("admin_session" = [], "csrf" = []), ("bearer" = ["credentials:manage"])),
)]
pub(crate) async fn delete_user(
    State(state): State<AppState>,
    ApiAdmin(actor): ApiAdmin,
    Path(id): Path<String>,
) -> Result<StatusCode, AdminApiError> {
    state.accounts.remove_user(&actor, &user_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /admin/api/v1/audit`: newest first.
#[utoipa::path(
    get,
    path = "/admin/api/v1/audit",
    tag = "admin",
    params(super::audit::AuditParams),
    responses(
        (status = 200, description = "The company's audit entries the filters select, newest first", body = Vec<super::doc::AuditEntryDoc>),
        (status = 400, description = "invalidInput: an unknown parameter or action, a bad time, `limit` out of 1..=500, or `format` (the panel's audit page exports)", body = crate::schemas::ApiErrorDoc),
        super::doc::ReadErrors,
    ),
    security(("admin_session" = []), ("bearer" = ["credentials:manage"])),
)]
pub(crate) async fn list_audit(
    State(state): State<AppState>,
    ApiAdmin(actor): ApiAdmin,
    params: Result<
        axum::extract::Query<super::audit::AuditParams>,
        axum::extract::rejection::QueryRejection,
    >,
) -> Result<Json<Vec<Value>>, AdminApiError> {
    let axum::extract::Query(params) = params.map_err(super::audit::bad_params)?;
    if params.format.is_some() {
        return Err(AdminApiError::InvalidInput(
            "format: the API answers JSON; the panel's audit page exports CSV and NDJSON".into(),
        ));
    }
    let query = params.query(super::audit::MAX_PAGE)?;
    let entries = state
        .accounts
        .query_audit(&actor.company_id(), &query)
        .await?;
    Ok(Json(
        entries.iter().map(crate::views::audit_entry_view).collect(),
    ))
}

/// `GET /admin/api/v1/session`: who is logged in, and the CSRF token to send as `X-CSRF-Token` on
/// state-changing admin API calls made with the session cookie.
#[utoipa::path(
    get,
    path = "/admin/api/v1/session",
    tag = "admin",
    description = "The panel session only: a bearer token is not a session.",
    responses(
        (status = 200, description = "The session, and its CSRF token", body = super::doc::SessionDoc),
        (status = 401, description = "unauthenticated: no valid session", body = crate::schemas::ApiErrorDoc),
        (status = 500, description = "internalError", body = crate::schemas::ApiErrorDoc),
    ),
    security(("admin_session" = [])),
)]
pub(crate) async fn session(super::auth::Session(s): super::auth::Session) -> Json<Value> {
    Json(json!({
        "email": s.user.email.as_str(),
        "role": s.user.role,
        "company_id": s.user.company_id.to_string(),
        "csrf_token": s.csrf,
    }))
}
