//! Which cached first pages are current: a version per company, bumped by this node's writes at
//! once and by the change feed's `groups` entries (keyed by company) for writes elsewhere; an epoch
//! bumped on every full reload of the directory (entries may have been missed: every page is stale).

use std::sync::atomic::{AtomicU64, Ordering};

use dashmap::DashMap;
use tollgate_core::directory::FeedListener;
use tollgate_core::ids::CompanyId;

/// The change feed's kind for a company's groups (written by the `groups` table's triggers).
pub const FEED_KIND: &str = "groups";

/// The version of a company's groups: a page read at one version is stale at another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version {
    epoch: u64,
    company: u64,
}

/// The versions of every company's groups.
#[derive(Debug, Default)]
pub struct Versions {
    companies: DashMap<CompanyId, u64>,
    epoch: AtomicU64,
}

impl Versions {
    /// The current version of `company`'s groups.
    pub fn of(&self, company: &CompanyId) -> Version {
        Version {
            epoch: self.epoch.load(Ordering::SeqCst),
            company: self.companies.get(company).map_or(0, |v| *v),
        }
    }

    /// `company`'s groups changed.
    pub fn bump(&self, company: &CompanyId) {
        *self.companies.entry(*company).or_insert(0) += 1;
    }
}

impl FeedListener for Versions {
    fn changed(&self, key: &str) {
        if let Ok(company) = CompanyId::parse(key) {
            self.bump(&company);
        }
    }

    fn reloaded(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_or_a_reload_makes_a_version_stale() {
        let v = Versions::default();
        let a = CompanyId::parse("0123456789abcdef01234567").unwrap();
        let b = CompanyId::parse("76543210fedcba9876543210").unwrap();
        let (a0, b0) = (v.of(&a), v.of(&b));
        v.changed(&a.to_string());
        assert_ne!(v.of(&a), a0);
        assert_eq!(v.of(&b), b0, "another company's pages stay current");
        let b1 = v.of(&b);
        v.reloaded();
        assert_ne!(v.of(&b), b1);
        v.changed("not a company id");
    }
}
