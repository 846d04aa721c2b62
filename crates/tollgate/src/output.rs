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

/// Prints `text` and a newline on stdout (for output a file or a variable takes as it is).
pub fn print_line(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}")?;
    Ok(())
}

/// Prints `text` on stdout as it is (it ends with its own newline).
pub fn print_text(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

pub fn company(c: &Company) -> Value {
    json!({
        "id": c.id.to_string(),
        "name": c.name,
        "scopes": c.scopes,
        "max_credentials": c.max_credentials,
        "token_quota_per_hour": c.token_quota_per_hour,
        "resources": c.resources.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "created_at": rfc3339(c.created_at),
        "updated_at": rfc3339(c.updated_at),
    })
}

/// A credential; `secret` only right after create or rotate (the admin API's shape).
pub fn credential(c: &Credential, ceiling: &ScopeSet, secret: Option<&ClientSecret>) -> Value {
    serde_json::to_value(tollgate_server::views::credential_view(
        c,
        ceiling,
        secret.map(ClientSecret::expose_secret),
    ))
    .unwrap_or(Value::Null)
}
