//! The groups' storage: [`GroupStore`], and its one SQL implementation [`SqlGroups`] for both of
//! tollgate's databases (statements written once with `$N` placeholders, as `tollgate-store`'s are).
//!
//! The `groups` table is in tollgate's schema (its migrations), with the trigger that appends a
//! `groups` entry keyed by company to the change feed; the statements are this crate's own, on a
//! pool of its own ([`tollgate_store::connect`]).

use std::sync::Arc;

use async_trait::async_trait;
use sqlx::{Pool, query};
use tollgate_core::ids::CompanyId;
use tollgate_core::store::StoreError;
use tollgate_store::dialect::{ArgExt as _, Columns, Conn as _, Dialect, RowsAffected as _};
use tollgate_store::{OpenError, SqlPool, store_error};

use crate::model::{Group, GroupId};

/// Connections of the groups' own pool.
const POOL_SIZE: u32 = 4;

/// What the groups need of a database.
#[async_trait]
pub trait GroupStore: Send + Sync + std::fmt::Debug {
    /// Adds `company`'s root group (named as the company, private) unless it has one; whether it
    /// was added. [`StoreError::NotFound`] if there is no such company.
    async fn ensure_root(&self, company: &CompanyId, id: &GroupId) -> Result<bool, StoreError>;
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

/// The groups in tollgate's SQL database.
#[derive(Debug, Clone)]
pub struct SqlGroups<D: Dialect> {
    pool: Pool<D>,
}

/// Connects to the database of `url` (tollgate's own, already migrated).
pub async fn open(url: &str) -> Result<Arc<dyn GroupStore>, OpenError> {
    Ok(match tollgate_store::connect(url, POOL_SIZE).await? {
        SqlPool::Sqlite(pool) => Arc::new(SqlGroups { pool }),
        SqlPool::Postgres(pool) => Arc::new(SqlGroups { pool }),
    })
}

fn corrupt(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Backend(Box::new(e))
}

fn group_row(r: &impl Columns) -> Result<Group, StoreError> {
    let group_id = |s: &str| GroupId::parse(s).map_err(corrupt);
    Ok(Group {
        id: group_id(&r.text("id")?)?,
        company_id: CompanyId::parse(&r.text("company_id")?).map_err(corrupt)?,
        name: r.text("name")?,
        public: r.boolean("public")?,
        custom: r.opt_text("custom")?,
        parent_id: r
            .opt_text("parent_id")?
            .as_deref()
            .map(group_id)
            .transpose()?,
        extra: serde_json::from_str(&r.text("extra")?).map_err(corrupt)?,
    })
}

fn json(m: &serde_json::Map<String, serde_json::Value>) -> Result<String, StoreError> {
    serde_json::to_string(m).map_err(corrupt)
}

fn changed(rows: u64) -> Result<(), StoreError> {
    if rows == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

impl<D: Dialect> SqlGroups<D> {
    async fn conn(&self) -> Result<sqlx::pool::PoolConnection<D>, StoreError> {
        self.pool.acquire().await.map_err(store_error)
    }
}

#[async_trait]
impl<D: Dialect> GroupStore for SqlGroups<D> {
    async fn ensure_root(&self, company: &CompanyId, id: &GroupId) -> Result<bool, StoreError> {
        let mut c = self.conn().await?;
        // At most one root per company (unique index `groups_one_root`): nodes racing agree.
        let r = query::<D>(
            "INSERT INTO groups(id, company_id, name, public, custom, parent_id, extra) \
             SELECT $1, id, name, $2, NULL, NULL, '{}' FROM companies WHERE id = $3 \
             ON CONFLICT DO NOTHING",
        )
        .arg(&id.to_string())
        .arg(false)
        .arg(&company.to_string())
        .execute(c.ex())
        .await
        .map_err(store_error)?;
        if r.rows_affected() > 0 {
            return Ok(true);
        }
        let exists =
            query::<D>("SELECT 1 AS n FROM groups WHERE company_id = $1 AND parent_id IS NULL")
                .arg(&company.to_string())
                .fetch_optional(c.ex())
                .await
                .map_err(store_error)?;
        match exists {
            Some(_) => Ok(false),
            None => Err(StoreError::NotFound),
        }
    }

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
        .map_err(store_error)?;
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
        .map_err(store_error)?;
        row.as_ref().map(group_row).transpose()
    }

    async fn insert_group(&self, g: &Group) -> Result<(), StoreError> {
        let mut c = self.conn().await?;
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
        .execute(c.ex())
        .await
        .map_err(store_error)?;
        Ok(())
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
        .map_err(store_error)?;
        changed(r.rows_affected())
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
        .map_err(store_error)?;
        changed(r.rows_affected())
    }
}
