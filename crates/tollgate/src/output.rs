//! JSON shapes printed by the CLI.

use std::io::Write as _;

use serde_json::{Value, json};
use tollgate_core::clock::rfc3339;
use tollgate_core::model::{Company, Credential};
use tollgate_core::secret::ClientSecret;
use tollgate_proto::ScopeSet;

/// Prints `v` as pretty JSON on stdout.
pub fn print_json(v: &impl serde::Serialize) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, v)?;
    writeln!(out)?;
    Ok(())
}

pub fn company(c: &Company) -> Value {
    json!({
        "id": c.id.to_string(),
        "name": c.name,
        "scopes": c.scopes,
        "max_credentials": c.max_credentials,
        "created_at": rfc3339(c.created_at),
        "updated_at": rfc3339(c.updated_at),
    })
}

/// A credential; `secret` only right after create or rotate.
pub fn credential(c: &Credential, ceiling: &ScopeSet, secret: Option<&ClientSecret>) -> Value {
    let mut v = json!({
        "client_id": c.client_id.as_str(),
        "company_id": c.company_id.to_string(),
        "label": c.label,
        "scopes": c.scopes,
        "effective_scopes": c.scopes.intersection(ceiling),
        "secrets": c.secrets.iter().map(|s| json!({
            "id": s.id.as_str(),
            "created_at": rfc3339(s.created_at),
            "expires_at": s.expires_at.map(rfc3339),
        })).collect::<Vec<_>>(),
        "created_at": rfc3339(c.created_at),
        "updated_at": rfc3339(c.updated_at),
        "last_used_at": c.last_used_at.map(rfc3339),
    });
    if let (Some(s), Some(m)) = (secret, v.as_object_mut()) {
        m.insert("client_secret".into(), Value::String(s.expose().to_owned()));
    }
    v
}
