//! The JSON shapes of credentials, users and audit events, shared by the admin API and the CLI.

use serde::Serialize;
use serde_json::{Value, json};
use tollgate_core::accounts::{AuditEntry, AuditEvent, User};
use tollgate_core::clock::rfc3339;
use tollgate_core::model::Credential;
use tollgate_proto::ScopeSet;

/// A credential as admins see it: never a secret, except `client_secret` right after create/rotate.
#[derive(Debug, Serialize)]
pub struct CredentialView {
    client_id: String,
    company_id: String,
    label: String,
    scopes: ScopeSet,
    effective_scopes: ScopeSet,
    created_at: String,
    updated_at: String,
    last_used_at: Option<String>,
    /// When the credential (and its tokens) stop working; `None`: never.
    expires_at: Option<String>,
    /// Networks token requests may come from; empty: any.
    allowed_ips: Vec<String>,
    /// The company's resources (RFC 8707 audiences) it may ask tokens for; `None`: all of them.
    resources: Option<Vec<String>>,
    secrets: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret: Option<String>,
    /// The last 30 days' usage (one credential's view only).
    #[serde(skip_serializing_if = "Option::is_none")]
    usage: Option<Value>,
}

impl CredentialView {
    /// The view with the credential's usage summary and each secret's last use
    /// (`last_used_at`, `last_used_ip`; null for a secret never used).
    pub fn with_usage(mut self, usage: Value, uses: &[tollgate_core::usage::SecretUse]) -> Self {
        for s in &mut self.secrets {
            let used = uses
                .iter()
                .find(|u| Some(u.secret_id.as_str()) == s["id"].as_str());
            s["last_used_at"] = used.map(|u| rfc3339(u.at)).into();
            s["last_used_ip"] = used.and_then(|u| u.ip).map(|ip| ip.to_string()).into();
        }
        self.usage = Some(usage);
        self
    }
}

/// The view of `c` within `ceiling`; `secret` only right after create or rotate.
pub fn credential_view(c: &Credential, ceiling: &ScopeSet, secret: Option<&str>) -> CredentialView {
    CredentialView {
        client_id: c.client_id.as_str().to_owned(),
        company_id: c.company_id.to_string(),
        label: c.label.clone(),
        scopes: c.scopes.clone(),
        effective_scopes: c.scopes.intersection(ceiling),
        created_at: rfc3339(c.created_at),
        updated_at: rfc3339(c.updated_at),
        last_used_at: c.last_used_at.map(rfc3339),
        expires_at: c.access.expires_at.map(rfc3339),
        allowed_ips: c
            .access
            .allowed_ips
            .networks()
            .iter()
            .map(ToString::to_string)
            .collect(),
        resources: c
            .access
            .resources
            .as_ref()
            .map(|l| l.iter().map(ToString::to_string).collect()),
        secrets: c
            .secrets
            .iter()
            .map(|s| json!({"id": s.id.as_str(), "created_at": rfc3339(s.created_at), "expires_at": s.expires_at.map(rfc3339)}))
            .collect(),
        client_secret: secret.map(str::to_owned),
        usage: None,
    }
}

/// A user as admins see it (never the password hash).
pub fn user_view(u: &User) -> Value {
    json!({"id": u.id, "email": u.email.as_str(), "role": u.role, "created_at": rfc3339(u.created_at)})
}

/// An audit event.
pub fn audit_view(e: &AuditEvent) -> Value {
    json!({"at": rfc3339(e.at), "actor": e.actor, "action": e.action, "target": e.target, "remote_addr": e.remote_addr})
}

/// An audit entry with its place in the log (`seq`: pass it as `before` for the next page) and
/// the action as people read it.
pub fn audit_entry_view(e: &AuditEntry) -> Value {
    let mut v = audit_view(&e.event);
    if let Some(m) = v.as_object_mut() {
        m.insert("seq".into(), e.seq.into());
        m.insert("action_label".into(), e.event.action.label().into());
    }
    v
}
