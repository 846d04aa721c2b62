//! The scope catalog: the scopes that exist. Company ceilings and credential scopes come from it.

use tollgate_proto::{Scope, ScopeSet};

/// The reference API's scopes (`shared/reference/scopes.txt`).
pub const REFERENCE_SCOPES: &[&str] = &[
    "attendanceSheets:read",
    "attendanceSheets:write",
    "bulkOperations:read",
    "certificateOutlines:read",
    "certificateOutlines:write",
    "classrooms:read",
    "classrooms:write",
    "courseStats:read",
    "courses:read",
    "courses:write",
    "customFields:read",
    "customFields:write",
    "customLinks:read",
    "customLinks:write",
    "externalIds:read",
    "externalIds:write",
    "groups:bulk",
    "groups:read",
    "groups:write",
    "integrations:bulk",
    "integrations:read",
    "integrations:write",
    "learningNeeds:read",
    "pathStats:read",
    "paths:read",
    "paths:write",
    "projects:read",
    "skills:bulk",
    "skills:read",
    "skillsJobSkills:bulk",
    "skillsJobs:bulk",
    "skillsJobs:write",
    "skillsLibraries:bulk",
    "skillsPowers:bulk",
    "skillsPowers:read",
    "subscriptions:bulk",
    "tags:read",
    "tags:write",
    "tokens:write",
    "users:read",
    "users:write",
    "webhookSecrets:read",
    "webhookSecrets:write",
    "webhooks:read",
    "webhooks:write",
];

/// The reserved scope that lets a credential manage its company's credentials through the admin API.
/// Only the operator can put it into a company's ceiling.
pub const CREDENTIALS_MANAGE: &str = "credentials:manage";

/// The reserved scope that lets a credential read the revocation feed (a service that verifies
/// tokens itself subscribes with it). Only the operator can put it into a company's ceiling.
pub const REVOCATIONS_READ: &str = tollgate_proto::REVOCATIONS_SCOPE;

/// The reserved scopes: never given to a company by default.
pub const RESERVED_SCOPES: &[&str] = &[CREDENTIALS_MANAGE, REVOCATIONS_READ];

/// The scopes this deployment knows.
#[derive(Debug, Clone)]
pub struct ScopeCatalog {
    all: ScopeSet,
}

/// Scopes that are not in the catalog.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope(s): {0}")]
pub struct UnknownScopes(pub ScopeSet);

impl ScopeCatalog {
    /// The reference's scopes, the reserved ones, and `extra` (from the configuration).
    pub fn new(extra: impl IntoIterator<Item = Scope>) -> Self {
        let mut all: ScopeSet = REFERENCE_SCOPES
            .iter()
            .chain(RESERVED_SCOPES)
            .filter_map(|s| Scope::parse(s).ok())
            .collect();
        for s in extra {
            all.insert(s);
        }
        Self { all }
    }

    /// Every scope of the catalog.
    pub fn all(&self) -> &ScopeSet {
        &self.all
    }

    /// Every scope but the reserved ones (`credentials:manage`, `tollgate:revocations`): what a
    /// demo company gets.
    pub fn all_unreserved(&self) -> ScopeSet {
        self.all
            .iter()
            .filter(|s| !RESERVED_SCOPES.contains(&s.as_str()))
            .cloned()
            .collect()
    }

    /// Checks that every scope of `set` exists.
    pub fn check(&self, set: &ScopeSet) -> Result<(), UnknownScopes> {
        let unknown = set.difference(&self.all);
        if unknown.is_empty() {
            Ok(())
        } else {
            Err(UnknownScopes(unknown))
        }
    }
}

impl Default for ScopeCatalog {
    fn default() -> Self {
        Self::new([])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_has_reference_scopes_and_reserved_one() {
        let c = ScopeCatalog::default();
        assert_eq!(
            c.all().len(),
            REFERENCE_SCOPES.len() + RESERVED_SCOPES.len()
        );
        assert!(c.all().contains_str("groups:read"));
        for reserved in RESERVED_SCOPES {
            assert!(c.all().contains_str(reserved));
            assert!(!c.all_unreserved().contains_str(reserved));
        }
    }

    #[test]
    fn check_names_unknown_scopes() {
        let c = ScopeCatalog::new([Scope::parse("reports:read").unwrap()]);
        assert!(
            c.check(&"reports:read groups:read".parse().unwrap())
                .is_ok()
        );
        let err = c
            .check(&"nope:read groups:read".parse().unwrap())
            .unwrap_err();
        assert_eq!(err.0.to_string(), "nope:read");
    }
}
