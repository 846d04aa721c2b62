//! The example API's groups.

use super::StoreError;
use crate::ids::{CompanyId, GroupId};
use crate::model::Group;
use async_trait::async_trait;

/// The example API's groups.
#[async_trait]
pub trait GroupStore: Send + Sync + std::fmt::Debug {
    /// A company's groups with id greater than `after`, by id, at most `limit`.
    async fn list_groups(
        &self,
        company: &CompanyId,
        after: Option<&GroupId>,
        limit: u32,
    ) -> Result<Vec<Group>, StoreError>;
    /// One group of a company.
    async fn get_group(
        &self,
        company: &CompanyId,
        id: &GroupId,
    ) -> Result<Option<Group>, StoreError>;
    /// Adds a group.
    async fn insert_group(&self, group: &Group) -> Result<(), StoreError>;
    /// Overwrites a group.
    async fn update_group(&self, group: &Group) -> Result<(), StoreError>;
    /// Deletes a group and all its descendants.
    async fn delete_group(&self, company: &CompanyId, id: &GroupId) -> Result<(), StoreError>;
}
