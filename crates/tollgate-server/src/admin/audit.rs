//! Reading the audit log: the filters the panel, the admin API and the exports share, and the CSV
//! and NDJSON exports.

use std::fmt::Write as _;

use serde::Deserialize;
use tollgate_core::accounts::{AuditAction, AuditEntry, AuditQuery};
use tollgate_core::clock::{UnixTime, rfc3339};
use tollgate_core::ids::CompanyId;

use crate::error::AdminApiError;
use crate::state::AppState;

/// Most entries one page or one API call returns.
pub(crate) const MAX_PAGE: u32 = 500;
/// Most entries an export holds.
pub(crate) const MAX_EXPORT: usize = 100_000;

/// The filters, as a query string gives them (`?action=credential.created&credential=…`); empty
/// values (an HTML form's untouched fields) are no filter.
#[derive(Debug, Default, Clone, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct AuditParams {
    /// An action's dotted name, e.g. `credential.created`.
    pub(crate) action: Option<String>,
    /// Who: a user's email, or `client:` and a client ID.
    pub(crate) actor: Option<String>,
    /// A client ID: every entry about that credential.
    pub(crate) credential: Option<String>,
    /// RFC 3339, or a day (`2026-12-03`, from its start, UTC).
    pub(crate) since: Option<String>,
    /// RFC 3339, or a day (up to its end, UTC).
    pub(crate) until: Option<String>,
    /// The `seq` of the last entry of the previous page.
    pub(crate) before: Option<i64>,
    /// How many (default and most: 500).
    #[param(minimum = 1, maximum = 500)]
    pub(crate) limit: Option<u32>,
    /// Only for the exports: `csv` or `ndjson` (the API refuses it).
    #[param(ignore)]
    pub(crate) format: Option<String>,
}

/// A query string that does not parse (an unknown parameter, `before=abc`): 400 `invalidInput`.
pub(crate) fn bad_params(e: axum::extract::rejection::QueryRejection) -> AdminApiError {
    AdminApiError::InvalidInput(format!(
        "the query string: {}",
        e.body_text()
            .trim_start_matches("Failed to deserialize query string: ")
    ))
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// A time filter: RFC 3339, or a day in UTC (`end`: the day's end, for `until`).
fn time(field: &str, text: &str, end: bool) -> Result<UnixTime, AdminApiError> {
    if text.len() == 10 {
        let t =
            tollgate_core::clock::parse_rfc3339(&format!("{text}T00:00:00Z")).map_err(|_| {
                AdminApiError::InvalidInput(format!(
                    "{field}: {text:?} is not a day (YYYY-MM-DD) or an RFC 3339 time"
                ))
            })?;
        return Ok(if end { t + 86_400 } else { t });
    }
    tollgate_core::clock::parse_rfc3339(text)
        .map_err(|e| AdminApiError::InvalidInput(format!("{field}: {e}")))
}

impl AuditParams {
    /// The query these parameters ask for, `limit` entries when they give none.
    pub(crate) fn query(&self, default_limit: u32) -> Result<AuditQuery, AdminApiError> {
        let action = given(&self.action)
            .map(|a| {
                a.parse::<AuditAction>()
                    .map_err(|e| AdminApiError::InvalidInput(format!("action: {e}")))
            })
            .transpose()?;
        let limit = self.limit.unwrap_or(default_limit);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(AdminApiError::InvalidInput(format!(
                "limit must be between 1 and {MAX_PAGE}"
            )));
        }
        Ok(AuditQuery {
            action,
            actor: given(&self.actor).map(str::to_owned),
            target: given(&self.credential).map(str::to_owned),
            since: given(&self.since)
                .map(|t| time("since", t, false))
                .transpose()?,
            until: given(&self.until)
                .map(|t| time("until", t, true))
                .transpose()?,
            before: self.before,
            limit,
        })
    }

    /// The filters again as a query string (for the next page's and the exports' links), without
    /// `before`, `limit` and `format`.
    pub(crate) fn filters_query(&self) -> String {
        let mut out = String::new();
        for (k, v) in [
            ("action", &self.action),
            ("actor", &self.actor),
            ("credential", &self.credential),
            ("since", &self.since),
            ("until", &self.until),
        ] {
            if let Some(v) = given(v) {
                let _ = write!(
                    out,
                    "&{k}={}",
                    percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)
                );
            }
        }
        out
    }
}

/// Every entry `query` selects (its `limit` is the page size of the reads), at most [`MAX_EXPORT`].
pub(crate) async fn all_entries(
    state: &AppState,
    company: &CompanyId,
    mut query: AuditQuery,
) -> Result<Vec<AuditEntry>, AdminApiError> {
    query.limit = MAX_PAGE;
    let mut out: Vec<AuditEntry> = Vec::new();
    loop {
        let page = state.accounts.query_audit(company, &query).await?;
        let done = page.len() < MAX_PAGE as usize;
        query.before = page.last().map(|e| e.seq);
        out.extend(page);
        if done || out.len() >= MAX_EXPORT {
            out.truncate(MAX_EXPORT);
            return Ok(out);
        }
    }
}

/// One CSV field (RFC 4180), never read as a formula by a spreadsheet (`=`, `+`, `-`, `@` first
/// get a `'`).
fn csv_field(out: &mut String, v: &str) {
    let v = if v.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{v}")
    } else {
        v.to_owned()
    };
    if v.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&v.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(&v);
    }
}

/// The entries as CSV, a header line first.
pub(crate) fn csv(entries: &[AuditEntry]) -> String {
    let mut out = String::from("seq,at,actor,action,target,remote_addr\r\n");
    for e in entries {
        let ev = &e.event;
        let fields = [
            e.seq.to_string(),
            rfc3339(ev.at),
            ev.actor.clone(),
            ev.action.as_str().to_owned(),
            ev.target.clone(),
            ev.remote_addr.clone().unwrap_or_default(),
        ];
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            csv_field(&mut out, f);
        }
        out.push_str("\r\n");
    }
    out
}

/// The entries as NDJSON, one JSON object a line (the admin API's shape).
pub(crate) fn ndjson(entries: &[AuditEntry]) -> String {
    let mut out = String::new();
    for e in entries {
        out.push_str(&crate::views::audit_entry_view(e).to_string());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        let mut out = String::new();
        csv_field(&mut out, "=HYPERLINK(\"x\")");
        assert_eq!(out, "\"'=HYPERLINK(\"\"x\"\")\"");
        let mut out = String::new();
        csv_field(&mut out, "a,b");
        assert_eq!(out, "\"a,b\"");
        let mut out = String::new();
        csv_field(&mut out, "plain");
        assert_eq!(out, "plain");
    }

    #[test]
    fn days_cover_the_whole_day_and_bad_values_say_why() {
        let p = AuditParams {
            since: Some("2026-12-03".into()),
            until: Some("2026-12-03".into()),
            action: Some(" ".into()),
            ..AuditParams::default()
        };
        let q = p.query(50).unwrap();
        assert_eq!(q.until.unwrap() - q.since.unwrap(), 86_400);
        assert_eq!(q.action, None, "an empty field is no filter");
        let bad = AuditParams {
            action: Some("credential.exploded".into()),
            ..AuditParams::default()
        };
        assert!(
            matches!(bad.query(50), Err(AdminApiError::InvalidInput(m)) if m.contains("action"))
        );
        let bad = AuditParams {
            limit: Some(501),
            ..AuditParams::default()
        };
        assert!(bad.query(50).is_err());
    }
}
