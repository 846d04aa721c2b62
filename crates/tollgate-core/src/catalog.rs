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

/// One line on what each resource of the reference API holds, for people choosing scopes.
const DESCRIPTIONS: &[(&str, &str)] = &[
    ("attendanceSheets", "Who attended classroom sessions"),
    (
        "bulkOperations",
        "The state of bulk operations started through the API",
    ),
    (
        "certificateOutlines",
        "Templates of the certificates learners receive",
    ),
    (
        "classrooms",
        "Classroom (in-person and virtual) sessions and their slots",
    ),
    ("courseStats", "Learners' progress and scores in courses"),
    ("courses", "Courses and their content"),
    ("customFields", "Custom fields on users and their values"),
    ("customLinks", "Custom links shown to learners"),
    (
        "credentials",
        "This company's API credentials (reserved: the operator grants it)",
    ),
    (
        "externalIds",
        "Identifiers of users and content in other systems",
    ),
    (
        "groups",
        "Groups of users and their members (the example API)",
    ),
    (
        "integrations",
        "Connections to other tools (SSO, HRIS, content providers)",
    ),
    (
        "learningNeeds",
        "Learning needs raised by users and managers",
    ),
    ("pathStats", "Learners' progress in learning paths"),
    ("paths", "Learning paths and their steps"),
    ("projects", "Collaborative authoring projects"),
    ("skills", "Skills of the skills framework"),
    ("skillsJobSkills", "Which skills each job needs"),
    ("skillsJobs", "Jobs of the skills framework"),
    ("skillsLibraries", "Libraries of skills"),
    ("skillsPowers", "Skill levels assessed per user"),
    ("subscriptions", "Who is enrolled in which course or path"),
    ("tags", "Tags that classify content"),
    ("tokens", "Single sign-on tokens for users"),
    (
        "tollgate",
        "tollgate's revocation feed (reserved: the operator grants it)",
    ),
    ("users", "User accounts and their profiles"),
    (
        "webhookSecrets",
        "The secrets that sign the platform's own webhooks",
    ),
    ("webhooks", "The platform's own webhook subscriptions"),
];

/// The scopes this deployment knows.
#[derive(Debug, Clone)]
pub struct ScopeCatalog {
    all: ScopeSet,
    /// Descriptions of resources added by the configuration (`scope_descriptions`).
    extra_descriptions: std::collections::BTreeMap<String, String>,
}

/// Scopes that are not in the catalog, and the catalog's scopes they are closest to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope(s): {0}{hint}", hint = did_you_mean(&self.1))]
pub struct UnknownScopes(pub ScopeSet, pub Vec<String>);

fn did_you_mean(close: &[String]) -> String {
    if close.is_empty() {
        String::new()
    } else {
        format!(" (did you mean {}?)", close.join(", "))
    }
}

/// The one entry of `known` closest to `s`, if it is close (a typo, a wrong case, a missing
/// letter): for "did you mean …?" messages.
pub fn closest<'a>(s: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    known
        .into_iter()
        .map(|k| {
            (
                strsim::jaro_winkler(&s.to_lowercase(), &k.to_lowercase()),
                k,
            )
        })
        .filter(|(score, _)| *score >= 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

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
        Self {
            all,
            extra_descriptions: std::collections::BTreeMap::new(),
        }
    }

    /// The same catalog, with one-line descriptions of resources (`resource` → text) that the
    /// configuration adds or overrides.
    pub fn with_descriptions(mut self, d: impl IntoIterator<Item = (String, String)>) -> Self {
        self.extra_descriptions.extend(d);
        self
    }

    /// What `resource` (the part of a scope before `:`) holds, if the catalog says.
    pub fn description(&self, resource: &str) -> Option<&str> {
        self.extra_descriptions
            .get(resource)
            .map(String::as_str)
            .or_else(|| {
                DESCRIPTIONS
                    .iter()
                    .find(|(r, _)| *r == resource)
                    .map(|(_, d)| *d)
            })
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
            let close = unknown
                .iter()
                .filter_map(|u| closest(u.as_str(), self.all.iter().map(|s| s.as_str())))
                .map(str::to_owned)
                .collect();
            Err(UnknownScopes(unknown, close))
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
    fn unknown_scopes_suggest_the_closest() {
        let c = ScopeCatalog::default();
        let e = c
            .check(&ScopeSet::parse_list("groups:reed users:read").unwrap())
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown scope(s): groups:reed (did you mean groups:read?)"
        );
        let e = c
            .check(&ScopeSet::parse_list("zzz:qqq").unwrap())
            .unwrap_err();
        assert_eq!(e.to_string(), "unknown scope(s): zzz:qqq");
        assert_eq!(
            closest("Admin", ["owner", "admin", "member"]),
            Some("admin")
        );
        assert_eq!(closest("adm", ["owner", "admin", "member"]), Some("admin"));
        assert_eq!(closest("root", ["owner", "admin", "member"]), None);
    }

    #[test]
    fn every_resource_of_the_catalog_has_a_description() {
        let c = ScopeCatalog::default();
        for s in c.all().iter() {
            let resource = s.as_str().split(':').next().unwrap();
            assert!(c.description(resource).is_some(), "{resource}");
        }
        let c = ScopeCatalog::new([Scope::parse("invoices:read").unwrap()])
            .with_descriptions([("invoices".to_owned(), "Invoices".to_owned())]);
        assert_eq!(c.description("invoices"), Some("Invoices"));
        assert_eq!(c.description("nothing"), None);
    }

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
