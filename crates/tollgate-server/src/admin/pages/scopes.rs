//! The scope matrix of the create and edit forms: one row per resource, a column per action
//! (read, write, bulk; any other action in a last column), a checkbox only where the company's
//! ceiling allows the scope, a one-line description per resource from the catalog.

use tollgate_core::catalog::ScopeCatalog;
use tollgate_proto::ScopeSet;

/// The columns every resource has a cell in.
const COLUMNS: [&str; 3] = ["read", "write", "bulk"];

/// One scope's checkbox.
pub(super) struct Cell {
    pub(super) scope: String,
    pub(super) action: String,
    pub(super) checked: bool,
}

/// One resource.
pub(super) struct MatrixRow {
    pub(super) resource: String,
    pub(super) description: String,
    /// One per [`COLUMNS`] entry: `None` where the company does not allow it.
    pub(super) cells: Vec<Option<Cell>>,
    /// Scopes of other actions (`credentials:manage`).
    pub(super) other: Vec<Cell>,
}

/// The matrix of a company's ceiling, with `ticked` checked.
pub(super) struct ScopeMatrix {
    pub(super) columns: Vec<&'static str>,
    pub(super) rows: Vec<MatrixRow>,
    pub(super) has_other: bool,
    /// Scopes the company allows.
    pub(super) allowed: usize,
}

impl ScopeMatrix {
    pub(super) fn new(ceiling: &ScopeSet, ticked: &[String], catalog: &ScopeCatalog) -> Self {
        let mut rows: Vec<MatrixRow> = Vec::new();
        for s in ceiling.iter() {
            let text = s.as_str();
            let (resource, action) = text.split_once(':').unwrap_or((text, ""));
            if rows.last().is_none_or(|r| r.resource != resource) {
                rows.push(MatrixRow {
                    resource: resource.to_owned(),
                    description: catalog.description(resource).unwrap_or("").to_owned(),
                    cells: COLUMNS.iter().map(|_| None).collect(),
                    other: Vec::new(),
                });
            }
            let Some(row) = rows.last_mut() else { continue };
            let cell = Cell {
                scope: text.to_owned(),
                action: action.to_owned(),
                checked: ticked.iter().any(|t| t == text),
            };
            match COLUMNS.iter().position(|c| *c == action) {
                Some(i) => row.cells[i] = Some(cell),
                None => row.other.push(cell),
            }
        }
        Self {
            columns: COLUMNS.to_vec(),
            has_other: rows.iter().any(|r| !r.other.is_empty()),
            allowed: ceiling.len(),
            rows,
        }
    }
}

/// "All 45 permissions" when `granted` holds every scope the company allows, else "3 permissions".
pub(super) fn summary(granted: &ScopeSet, ceiling: &ScopeSet) -> String {
    let n = granted.intersection(ceiling).len();
    if n > 0 && n == ceiling.len() {
        format!("All {n} permissions")
    } else if n == 1 {
        "1 permission".to_owned()
    } else {
        format!("{n} permissions")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_per_resource_cells_only_where_allowed() {
        let ceiling =
            ScopeSet::parse_list("groups:read groups:write users:read credentials:manage").unwrap();
        let m = ScopeMatrix::new(&ceiling, &["groups:write".into()], &ScopeCatalog::default());
        let resources: Vec<&str> = m.rows.iter().map(|r| r.resource.as_str()).collect();
        assert_eq!(resources, ["credentials", "groups", "users"]);
        let groups = &m.rows[1];
        assert_eq!(groups.cells[0].as_ref().map(|c| c.checked), Some(false));
        assert_eq!(groups.cells[1].as_ref().map(|c| c.checked), Some(true));
        assert!(groups.cells[2].is_none(), "no bulk allowed");
        assert!(!groups.description.is_empty());
        assert_eq!(m.rows[0].other[0].scope, "credentials:manage");
        assert!(m.has_other);
        assert_eq!(m.allowed, 4);
        assert_eq!(summary(&ceiling, &ceiling), "All 4 permissions");
        assert_eq!(
            summary(&ScopeSet::parse_list("users:read").unwrap(), &ceiling),
            "1 permission"
        );
        assert_eq!(
            summary(
                &ScopeSet::parse_list("users:read groups:read").unwrap(),
                &ceiling
            ),
            "2 permissions"
        );
    }
}
