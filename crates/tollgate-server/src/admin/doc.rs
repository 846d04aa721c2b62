//! The admin JSON API's answers as OpenAPI schemas, for the handlers' `#[utoipa::path]`
//! annotations: doc-only types, as the handlers build these bodies with `json!` (`views`,
//! `webhooks::webhook_view`); the API tests check the real answers against them.

#![allow(dead_code)]

use utoipa::ToSchema;

/// A credential as admins see it (`client_secret` only right after create, rotate or
/// revoke-leaked; `usage` only in `GET /admin/api/v1/credentials/{client_id}`).
#[derive(ToSchema)]
#[schema(as = AdminCredential)]
pub(crate) struct CredentialDoc {
    client_id: String,
    company_id: String,
    label: String,
    /// The scopes granted to the credential.
    scopes: Vec<String>,
    /// `scopes` within the company's ceiling: what its tokens can get.
    effective_scopes: Vec<String>,
    /// RFC 3339.
    created_at: String,
    /// RFC 3339.
    updated_at: String,
    /// RFC 3339; null: never used.
    #[schema(required = true)]
    last_used_at: Option<String>,
    /// RFC 3339: when the credential (and its tokens) stop working; null: never.
    #[schema(required = true)]
    expires_at: Option<String>,
    /// Networks token requests may come from; empty: any.
    allowed_ips: Vec<String>,
    /// Which of the company's resources (RFC 8707 audiences) its tokens may be for; null: all of
    /// them. The server's default audience is always allowed.
    #[schema(required = true)]
    resources: Option<Vec<String>>,
    /// Its live secrets (more than one during a rotation's grace).
    secrets: Vec<SecretDoc>,
    /// The secret, in the answer that made it only.
    #[schema(required = false)]
    client_secret: String,
    /// The last 30 days' usage.
    #[schema(required = false)]
    usage: UsageDoc,
}

/// One secret of a credential (never its value).
#[derive(ToSchema)]
#[schema(as = AdminCredentialSecret)]
pub(crate) struct SecretDoc {
    /// The id to end it with (`DELETE …/secrets/{secret_id}`).
    id: String,
    /// RFC 3339.
    created_at: String,
    /// RFC 3339: end of its rotation grace; null: no end.
    #[schema(required = true)]
    expires_at: Option<String>,
    /// RFC 3339; null: never used (`GET …/credentials/{client_id}` only).
    #[schema(required = false)]
    last_used_at: Option<String>,
    /// The address of its last use (`GET …/credentials/{client_id}` only).
    #[schema(required = false)]
    last_used_ip: Option<String>,
}

/// A credential's usage over the last `days` days: totals, and the days with any.
#[derive(ToSchema)]
#[schema(as = AdminCredentialUsage)]
pub(crate) struct UsageDoc {
    days: u32,
    tokens: u64,
    api_calls: u64,
    failed_auth: u64,
    rate_limited: u64,
    daily: Vec<UsageDayDoc>,
}

/// One day of [`UsageDoc`].
#[derive(ToSchema)]
#[schema(as = AdminCredentialUsageDay)]
pub(crate) struct UsageDayDoc {
    /// `YYYY-MM-DD`, UTC.
    date: String,
    tokens: u64,
    api_calls: u64,
    failed_auth: u64,
    rate_limited: u64,
}

/// A role in a company.
#[derive(ToSchema)]
#[schema(as = AdminRole)]
#[schema(rename_all = "lowercase")]
pub(crate) enum RoleDoc {
    Owner,
    Admin,
    Member,
}

/// A panel user (never the password).
#[derive(ToSchema)]
#[schema(as = AdminUser)]
pub(crate) struct UserDoc {
    id: String,
    email: String,
    role: RoleDoc,
    /// RFC 3339.
    created_at: String,
}

/// Who is logged in.
#[derive(ToSchema)]
#[schema(as = AdminSession)]
pub(crate) struct SessionDoc {
    email: String,
    role: RoleDoc,
    company_id: String,
    /// Send it as `X-CSRF-Token` on state-changing calls made with the session cookie.
    csrf_token: String,
}

/// An audit log entry.
#[derive(ToSchema)]
#[schema(as = AdminAuditEntry)]
pub(crate) struct AuditEntryDoc {
    /// Its place in the log: pass it as `before` for the next page.
    seq: i64,
    /// RFC 3339.
    at: String,
    /// Who: a user's email, or `client:` and a client ID.
    actor: String,
    /// The dotted name, e.g. `credential.created`.
    action: String,
    /// The action as people read it.
    action_label: String,
    /// What it was done to.
    target: String,
    #[schema(required = true)]
    remote_addr: Option<String>,
}

/// A webhook endpoint (`secret` only in the answer that made it: create, rotate-secret).
#[derive(ToSchema)]
#[schema(as = AdminWebhook)]
pub(crate) struct WebhookDoc {
    id: String,
    url: String,
    /// Event types it takes.
    events: Vec<String>,
    enabled: bool,
    /// RFC 3339.
    created_at: String,
    /// RFC 3339.
    updated_at: String,
    /// RFC 3339: after a rotation, until when deliveries are also signed with the previous secret.
    #[schema(required = true)]
    previous_secret_valid_until: Option<String>,
    /// The signing secret, in the answer that made it only.
    #[schema(required = false)]
    secret: String,
}

/// Where a delivery stands.
#[derive(ToSchema)]
#[schema(as = AdminDeliveryStatus)]
#[schema(rename_all = "lowercase")]
pub(crate) enum DeliveryStatusDoc {
    Pending,
    Delivered,
    Failed,
}

/// A webhook delivery.
#[derive(ToSchema)]
#[schema(as = AdminWebhookDelivery)]
pub(crate) struct DeliveryDoc {
    /// The `webhook-id` header sent.
    msg_id: String,
    event_type: String,
    status: DeliveryStatusDoc,
    attempts: u32,
    /// The receiver's last HTTP status, if it answered.
    #[schema(required = true)]
    last_status: Option<u16>,
    /// Why the last attempt failed, if it did.
    #[schema(required = true)]
    last_error: Option<String>,
    /// RFC 3339.
    created_at: String,
    /// RFC 3339.
    #[schema(required = true)]
    last_attempt_at: Option<String>,
    /// RFC 3339: the next try, while pending.
    #[schema(required = true)]
    next_attempt_at: Option<String>,
}

/// The errors of every admin API operation that reads: no session or token, a caller who may not,
/// a failure.
#[derive(utoipa::IntoResponses)]
pub(crate) enum ReadErrors {
    /// No valid session, or no valid bearer token.
    #[response(
        status = 401,
        description = "unauthenticated: no valid session, or no valid bearer token"
    )]
    Unauthenticated(crate::schemas::ApiErrorDoc),
    /// Not an owner or admin, or a token without the scope.
    #[response(
        status = 403,
        description = "forbidden: not an owner or admin, or a token without credentials:manage"
    )]
    Forbidden(crate::schemas::ApiErrorDoc),
    /// A failure of the server.
    #[response(status = 500, description = "internalError")]
    Internal(crate::schemas::ApiErrorDoc),
}

/// The errors of every admin API operation that changes something: those of [`ReadErrors`], and a
/// session call without its CSRF token.
#[derive(utoipa::IntoResponses)]
pub(crate) enum WriteErrors {
    /// No valid session, or no valid bearer token.
    #[response(
        status = 401,
        description = "unauthenticated: no valid session, or no valid bearer token"
    )]
    Unauthenticated(crate::schemas::ApiErrorDoc),
    /// Not an owner or admin, a token without the scope, or a session call without its CSRF token.
    #[response(
        status = 403,
        description = "forbidden: not an owner or admin, or a token without credentials:manage; invalidCsrfToken: a session call without its X-CSRF-Token"
    )]
    Forbidden(crate::schemas::ApiErrorDoc),
    /// A failure of the server.
    #[response(status = 500, description = "internalError")]
    Internal(crate::schemas::ApiErrorDoc),
}
