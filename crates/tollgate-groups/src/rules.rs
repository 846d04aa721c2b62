//! The example API's rules: every company has a root group (never deleted, never public, no parent);
//! parents lie in the same company; a group cannot move under itself or a descendant; public groups
//! carry none of the private-only fields. Another company's group reads as missing.

use std::sync::Arc;

use dashmap::DashSet;
use tollgate_core::clock::Clock;
use tollgate_core::directory::Directory;
use tollgate_core::ids::CompanyId;
use tollgate_core::random::RandomError;
use tollgate_core::store::StoreError;

use crate::model::{Group, GroupId, GroupPage, GroupPatch, NewGroup};
use crate::store::GroupStore;
use crate::versions::{FEED_KIND, Version, Versions};

/// Groups per page.
pub const PAGE_SIZE: u32 = 500;

/// Fields a public group may not carry, with the reference's error code for each.
const PRIVATE_ONLY: &[(&str, &str)] = &[
    ("url", "noCustomUrlOnPublicGroup"),
    ("imprint", "noImprintOnPublicGroup"),
    ("moderationCharter", "noModerationCharterOnPublicGroup"),
    ("privacyPolicy", "noPrivacyPolicyOnPublicGroup"),
    ("subdomain", "noSubdomainOnPublicGroup"),
    ("termsOfUse", "noTermsOfUseOnPublicGroup"),
];

/// Why a group operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GroupError {
    /// No such group in the caller's company.
    #[error("no group with this ID")]
    GroupNotFound,
    /// The parent is not a group of the caller's company.
    #[error("no parent group with this ID")]
    ParentGroupNotFound,
    /// The root group cannot be deleted or moved.
    #[error("the root group cannot be deleted or given a parent")]
    GroupIsRoot,
    /// The new parent is the group itself or one of its descendants.
    #[error("the parent group cannot be the group itself or one of its descendants")]
    ParentGroupNotDescendantOrSelf,
    /// The root group cannot be public.
    #[error("the root group cannot be public")]
    RootGroupNotPublic,
    /// A private-only field was set on a public group.
    #[error("the field `{field}` cannot be set on a public group")]
    NotOnPublicGroup {
        /// The field.
        field: &'static str,
        /// The reference's code.
        code: &'static str,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The RNG failed.
    #[error(transparent)]
    Random(#[from] RandomError),
}

impl GroupError {
    /// The reference's camelCase code (`None` for internal failures).
    pub fn code(&self) -> Option<&'static str> {
        Some(match self {
            Self::GroupNotFound => "groupNotFound",
            Self::ParentGroupNotFound => "parentGroupNotFound",
            Self::GroupIsRoot => "groupIsRoot",
            Self::ParentGroupNotDescendantOrSelf => "parentGroupNotDescendantOrSelf",
            Self::RootGroupNotPublic => "rootGroupNotPublic",
            Self::NotOnPublicGroup { code, .. } => code,
            Self::Store(_) | Self::Random(_) => return None,
        })
    }
}

/// How many companies' first pages are kept in memory.
const CACHED_PAGES: usize = 10_000;

/// The groups service.
///
/// The first page of each company's groups (what almost every `GET /api/v2/groups` asks for) is
/// kept in memory, tagged with the version of that company's groups ([`Versions`]): a write on
/// this node bumps it at once, a write on another node bumps it when the change feed brings it, and
/// a page read at an older version is read again. Later pages always come from the store.
///
/// A company gets its root group when the service first serves it (companies are created
/// without one: tollgate's core knows nothing of groups).
#[derive(Debug, Clone)]
pub struct Groups {
    store: Arc<dyn GroupStore>,
    clock: Arc<dyn Clock>,
    versions: Arc<Versions>,
    /// Companies known to have their root group.
    rooted: Arc<DashSet<CompanyId>>,
    first_pages: Arc<quick_cache::sync::Cache<CompanyId, (Version, Arc<GroupPage>)>>,
}

fn check_public(g: &Group) -> Result<(), GroupError> {
    if g.public {
        if g.parent_id.is_none() {
            return Err(GroupError::RootGroupNotPublic);
        }
        for (field, code) in PRIVATE_ONLY {
            if g.extra.get(*field).is_some_and(|v| !v.is_null()) {
                return Err(GroupError::NotOnPublicGroup { field, code });
            }
        }
    }
    Ok(())
}

impl Groups {
    /// The service over `store`; the change feed of `directory` tells it when cached pages are
    /// stale.
    pub fn new(store: Arc<dyn GroupStore>, clock: Arc<dyn Clock>, directory: &Directory) -> Self {
        let versions = Arc::new(Versions::default());
        directory.follow(FEED_KIND, Arc::clone(&versions) as _);
        Self {
            store,
            clock,
            versions,
            rooted: Arc::default(),
            first_pages: Arc::new(quick_cache::sync::Cache::new(CACHED_PAGES)),
        }
    }

    /// The storage behind the service (to seed or inspect groups around it).
    pub fn store(&self) -> &Arc<dyn GroupStore> {
        &self.store
    }

    /// Makes sure `company` has its root group (once per company and process). A company that
    /// does not exist has no groups: [`GroupError::GroupNotFound`].
    async fn rooted(&self, company: &CompanyId) -> Result<(), GroupError> {
        if self.rooted.contains(company) {
            return Ok(());
        }
        let id = GroupId::generate(self.clock.now())?;
        match self.store.ensure_root(company, &id).await {
            Ok(added) => {
                if added {
                    self.versions.bump(company);
                }
                self.rooted.insert(*company);
                Ok(())
            }
            Err(StoreError::NotFound) => Err(GroupError::GroupNotFound),
            Err(e) => Err(e.into()),
        }
    }

    /// A page of the company's groups, after `after` (the first page when `None`).
    pub async fn list(
        &self,
        company: &CompanyId,
        after: Option<&GroupId>,
    ) -> Result<Arc<GroupPage>, GroupError> {
        self.rooted(company).await?;
        if after.is_some() {
            return Ok(Arc::new(self.read_page(company, after).await?));
        }
        // The version is read before the store: a write committed during the read bumps it, so a
        // page that may miss that write is never taken for current.
        let version = self.versions.of(company);
        if let Some((v, page)) = self.first_pages.get(company)
            && v == version
        {
            return Ok(page);
        }
        let page = Arc::new(self.read_page(company, None).await?);
        self.first_pages
            .insert(*company, (version, Arc::clone(&page)));
        Ok(page)
    }

    async fn read_page(
        &self,
        company: &CompanyId,
        after: Option<&GroupId>,
    ) -> Result<GroupPage, GroupError> {
        let mut groups = self
            .store
            .list_groups(company, after, PAGE_SIZE + 1)
            .await?;
        let next_after = if groups.len() > PAGE_SIZE as usize {
            groups.truncate(PAGE_SIZE as usize);
            groups.last().map(|g| g.id)
        } else {
            None
        };
        Ok(GroupPage { groups, next_after })
    }

    /// One group.
    pub async fn get(&self, company: &CompanyId, id: &GroupId) -> Result<Group, GroupError> {
        self.rooted(company).await?;
        self.store
            .get_group(company, id)
            .await?
            .ok_or(GroupError::GroupNotFound)
    }

    /// Creates a group under a parent of the same company.
    pub async fn create(&self, company: &CompanyId, new: NewGroup) -> Result<Group, GroupError> {
        self.rooted(company).await?;
        self.store
            .get_group(company, &new.parent_id)
            .await?
            .ok_or(GroupError::ParentGroupNotFound)?;
        let mut extra = new.extra;
        extra.retain(|_, v| !v.is_null());
        let g = Group {
            id: GroupId::generate(self.clock.now())?,
            company_id: *company,
            name: new.name,
            public: new.public,
            custom: new.custom,
            parent_id: Some(new.parent_id),
            extra,
        };
        check_public(&g)?;
        self.store.insert_group(&g).await?;
        self.versions.bump(company);
        Ok(g)
    }

    /// Applies a patch.
    pub async fn update(
        &self,
        company: &CompanyId,
        id: &GroupId,
        patch: GroupPatch,
    ) -> Result<Group, GroupError> {
        let mut g = self.get(company, id).await?;
        if let Some(parent) = patch.parent_id {
            if g.parent_id.is_none() {
                return Err(GroupError::GroupIsRoot);
            }
            self.check_new_parent(company, id, &parent).await?;
            g.parent_id = Some(parent);
        }
        if let Some(name) = patch.name {
            g.name = name;
        }
        if let Some(public) = patch.public {
            g.public = public;
        }
        if let Some(custom) = patch.custom {
            g.custom = custom;
        }
        for (k, v) in patch.extra {
            if v.is_null() {
                g.extra.remove(&k);
            } else {
                g.extra.insert(k, v);
            }
        }
        check_public(&g)?;
        self.store.update_group(&g).await?;
        self.versions.bump(company);
        Ok(g)
    }

    async fn check_new_parent(
        &self,
        company: &CompanyId,
        id: &GroupId,
        parent: &GroupId,
    ) -> Result<(), GroupError> {
        // Walk up from the new parent: meeting `id` means it is the group itself or a descendant.
        let mut cursor = Some(*parent);
        let mut first = true;
        let mut steps = 0;
        while let Some(cur) = cursor {
            if cur == *id {
                return Err(GroupError::ParentGroupNotDescendantOrSelf);
            }
            let g = self.store.get_group(company, &cur).await?;
            match g {
                Some(g) => cursor = g.parent_id,
                None if first => return Err(GroupError::ParentGroupNotFound),
                None => break,
            }
            first = false;
            steps += 1;
            if steps > 10_000 {
                break;
            }
        }
        Ok(())
    }

    /// Deletes a group and its descendants; the root group cannot be deleted.
    pub async fn delete(&self, company: &CompanyId, id: &GroupId) -> Result<(), GroupError> {
        let g = self.get(company, id).await?;
        if g.parent_id.is_none() {
            return Err(GroupError::GroupIsRoot);
        }
        self.store.delete_group(company, id).await?;
        self.versions.bump(company);
        Ok(())
    }
}
