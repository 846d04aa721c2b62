//! The example API's groups ([`GroupStore`]).

use async_trait::async_trait;
use sqlx::query;
use tollgate_core::ids::{CompanyId, GroupId};
use tollgate_core::model::Group;
use tollgate_core::store::{GroupStore, StoreError};

use super::{SqlStore, backend, changed};
use crate::dialect::{ArgExt as _, Conn as _, Dialect};
use crate::rows::{group_row, json};

#[async_trait]
impl<D: Dialect> GroupStore for SqlStore<D> {
    async fn list_groups(
        &self,
        company: &CompanyId,
        after: Option<&GroupId>,
        limit: u32,
    ) -> Result<Vec<Group>, StoreError> {
        let mut c = self.conn().await?;
        let rows = query::<D>(
            "SELECT id, company_id, name, public, custom, parent_id, extra FROM groups \
             WHERE company_id = $1 AND id > $2 ORDER BY id LIMIT $3",
        )
        .arg(&company.to_string())
        .arg(&after.map(|a| a.to_string()).unwrap_or_default())
        .arg(i64::from(limit))
        .fetch_all(c.ex())
        .await
        .map_err(backend)?;
        rows.iter().map(group_row).collect()
    }

    async fn get_group(
        &self,
        company: &CompanyId,
        id: &GroupId,
    ) -> Result<Option<Group>, StoreError> {
        let mut c = self.conn().await?;
        let row = query::<D>(
            "SELECT id, company_id, name, public, custom, parent_id, extra FROM groups \
             WHERE company_id = $1 AND id = $2",
        )
        .arg(&company.to_string())
        .arg(&id.to_string())
        .fetch_optional(c.ex())
        .await
        .map_err(backend)?;
        row.as_ref().map(group_row).transpose()
    }

    async fn insert_group(&self, g: &Group) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        insert_group::<D>(&mut tx, g).await?;
        tx.commit().await.map_err(backend)
    }

    async fn update_group(&self, g: &Group) -> Result<(), StoreError> {
        let mut c = self.conn().await?;
        let r = query::<D>(
            "UPDATE groups SET name = $1, public = $2, custom = $3, parent_id = $4, extra = $5 \
             WHERE company_id = $6 AND id = $7",
        )
        .arg(&g.name)
        .arg(g.public)
        .arg(&g.custom)
        .arg(&g.parent_id.map(|p| p.to_string()))
        .arg(&json(&g.extra)?)
        .arg(&g.company_id.to_string())
        .arg(&g.id.to_string())
        .execute(c.ex())
        .await
        .map_err(backend)?;
        changed(r)
    }

    async fn delete_group(&self, company: &CompanyId, id: &GroupId) -> Result<(), StoreError> {
        let mut c = self.conn().await?;
        let r = query::<D>(
            "WITH RECURSIVE sub(id) AS ( \
                 SELECT id FROM groups WHERE company_id = $1 AND id = $2 \
                 UNION \
                 SELECT g.id FROM groups g JOIN sub ON g.parent_id = sub.id WHERE g.company_id = $1) \
             DELETE FROM groups WHERE company_id = $1 AND id IN (SELECT id FROM sub)",
        )
        .arg(&company.to_string())
        .arg(&id.to_string())
        .execute(c.ex())
        .await
        .map_err(backend)?;
        changed(r)
    }
}

/// Adds a group inside `tx` (a company's root group is added with the company).
pub(super) async fn insert_group<D: Dialect>(
    tx: &mut sqlx::Transaction<'_, D>,
    g: &Group,
) -> Result<(), StoreError> {
    query::<D>(
        "INSERT INTO groups(id, company_id, name, public, custom, parent_id, extra) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .arg(&g.id.to_string())
    .arg(&g.company_id.to_string())
    .arg(&g.name)
    .arg(g.public)
    .arg(&g.custom)
    .arg(&g.parent_id.map(|p| p.to_string()))
    .arg(&json(&g.extra)?)
    .execute(tx.ex())
    .await
    .map_err(backend)?;
    Ok(())
}
