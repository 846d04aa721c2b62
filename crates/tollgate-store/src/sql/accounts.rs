//! Users of the admin panel, their sessions and the audit log ([`AccountStore`]).

use async_trait::async_trait;
use sqlx::query;
use tollgate_core::accounts::{
    AuditAction, AuditEntry, AuditEvent, AuditQuery, Email, Role, SessionRecord, User, UserId,
};
use tollgate_core::ids::CompanyId;
use tollgate_core::store::{AccountStore, StoreError};

use super::{SqlStore, backend, changed};
use crate::dialect::{ArgExt as _, Columns as _, Conn as _, Dialect, RowsAffected as _};
use crate::rows::{audit_row, session_row, user_row};

#[async_trait]
impl<D: Dialect> AccountStore for SqlStore<D> {
    async fn insert_user(&self, u: &User) -> Result<(), StoreError> {
        let mut c = self.conn().await?;
        query::<D>(
            "INSERT INTO users(id, company_id, email, role, password_hash, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .arg(&u.id.to_string())
        .arg(&u.company_id.to_string())
        .arg(u.email.as_str())
        .arg(u.role.as_str())
        .arg(&u.password_hash)
        .arg(u.created_at)
        .execute(c.ex())
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn get_user(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        let mut c = self.conn().await?;
        let row = query::<D>(
            "SELECT id, company_id, email, role, password_hash, created_at FROM users WHERE id = $1",
        )
        .arg(&id.to_string())
        .fetch_optional(c.ex())
        .await
        .map_err(backend)?;
        row.as_ref().map(user_row).transpose()
    }

    async fn get_user_by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        let mut c = self.conn().await?;
        let row = query::<D>(
            "SELECT id, company_id, email, role, password_hash, created_at FROM users \
             WHERE email = $1",
        )
        .arg(email.as_str())
        .fetch_optional(c.ex())
        .await
        .map_err(backend)?;
        row.as_ref().map(user_row).transpose()
    }

    async fn list_users(&self, company: &CompanyId) -> Result<Vec<User>, StoreError> {
        let mut c = self.conn().await?;
        let rows = query::<D>(
            "SELECT id, company_id, email, role, password_hash, created_at FROM users \
             WHERE company_id = $1 ORDER BY created_at, id",
        )
        .arg(&company.to_string())
        .fetch_all(c.ex())
        .await
        .map_err(backend)?;
        rows.iter().map(user_row).collect()
    }

    async fn set_user_role(&self, id: &UserId, role: Role) -> Result<(), StoreError> {
        let id = id.to_string();
        let mut tx = self.begin().await?;
        lock_company_of_user::<D>(&mut tx, &id).await?;
        // Written unless it demotes the company's last owner/admin (the roles of `Role::is_admin`).
        let r = query::<D>(
            "UPDATE users SET role = $1 WHERE id = $2 AND ( \
                 $3 OR role NOT IN ('owner', 'admin') OR EXISTS ( \
                     SELECT 1 FROM users o WHERE o.company_id = users.company_id \
                         AND o.id <> users.id AND o.role IN ('owner', 'admin')))",
        )
        .arg(role.as_str())
        .arg(&id)
        .arg(role.is_admin())
        .execute(tx.ex())
        .await
        .map_err(backend)?;
        refused_or_done::<D>(tx, r, &id).await
    }

    async fn delete_user(&self, id: &UserId) -> Result<(), StoreError> {
        let id = id.to_string();
        let mut tx = self.begin().await?;
        lock_company_of_user::<D>(&mut tx, &id).await?;
        let r = query::<D>(
            "DELETE FROM users WHERE id = $1 AND ( \
                 role NOT IN ('owner', 'admin') OR EXISTS ( \
                     SELECT 1 FROM users o WHERE o.company_id = users.company_id \
                         AND o.id <> users.id AND o.role IN ('owner', 'admin')))",
        )
        .arg(&id)
        .execute(tx.ex())
        .await
        .map_err(backend)?;
        refused_or_done::<D>(tx, r, &id).await
    }

    async fn set_user_password(&self, id: &UserId, password_hash: &str) -> Result<(), StoreError> {
        let id = id.to_string();
        let mut tx = self.begin().await?;
        let r = query::<D>("UPDATE users SET password_hash = $1 WHERE id = $2")
            .arg(password_hash)
            .arg(&id)
            .execute(tx.ex())
            .await
            .map_err(backend)?;
        changed(r)?;
        query::<D>("DELETE FROM sessions WHERE user_id = $1")
            .arg(&id)
            .execute(tx.ex())
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)
    }

    async fn insert_session(&self, s: &SessionRecord) -> Result<(), StoreError> {
        let mut c = self.conn().await?;
        query::<D>(
            "INSERT INTO sessions(id_hash, user_id, csrf, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .arg(&s.id_hash)
        .arg(&s.user_id.to_string())
        .arg(&s.csrf)
        .arg(s.expires_at)
        .execute(c.ex())
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn get_session(&self, id_hash: &str) -> Result<Option<SessionRecord>, StoreError> {
        let mut c = self.conn().await?;
        let row = query::<D>(
            "SELECT id_hash, user_id, csrf, expires_at FROM sessions WHERE id_hash = $1",
        )
        .arg(id_hash)
        .fetch_optional(c.ex())
        .await
        .map_err(backend)?;
        row.as_ref().map(session_row).transpose()
    }

    async fn delete_session(&self, id_hash: &str) -> Result<(), StoreError> {
        let mut c = self.conn().await?;
        query::<D>("DELETE FROM sessions WHERE id_hash = $1")
            .arg(id_hash)
            .execute(c.ex())
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn append_audit(&self, e: &AuditEvent) -> Result<(), StoreError> {
        // The entry and the webhook deliveries it queues commit together.
        let mut tx = self.begin().await?;
        insert_audit::<D>(&mut tx, e).await?;
        tx.commit().await.map_err(backend)
    }

    async fn query_audit(
        &self,
        company: &CompanyId,
        q: &AuditQuery,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let mut c = self.conn().await?;
        let rows = query::<D>(
            "SELECT seq, at, company_id, actor, action, target, remote_addr FROM audit_log \
             WHERE company_id = $1 \
               AND ($2 IS NULL OR action = $2) \
               AND ($3 IS NULL OR actor = $3) \
               AND ($4 IS NULL OR target = $4 OR substr(target, 1, length($4) + 1) = $4 || ' ') \
               AND ($5 IS NULL OR at >= $5) \
               AND ($6 IS NULL OR at < $6) \
               AND ($7 IS NULL OR seq < $7) \
             ORDER BY seq DESC LIMIT $8",
        )
        .arg(&company.to_string())
        .arg(q.action.map(AuditAction::as_str))
        .arg(q.actor.as_deref())
        .arg(q.target.as_deref())
        .arg(q.since)
        .arg(q.until)
        .arg(q.before)
        .arg(i64::from(q.limit))
        .fetch_all(c.ex())
        .await
        .map_err(backend)?;
        rows.iter()
            .map(|r| {
                Ok(AuditEntry {
                    seq: r.int("seq")?,
                    event: audit_row(r)?,
                })
            })
            .collect()
    }

    async fn list_audit(
        &self,
        company: &CompanyId,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let mut c = self.conn().await?;
        let rows = query::<D>(
            "SELECT at, company_id, actor, action, target, remote_addr FROM audit_log \
             WHERE company_id = $1 ORDER BY seq DESC LIMIT $2",
        )
        .arg(&company.to_string())
        .arg(i64::from(limit))
        .fetch_all(c.ex())
        .await
        .map_err(backend)?;
        rows.iter().map(audit_row).collect()
    }
}

/// Serialises role changes and removals within the company of user `id` (see
/// [`Dialect::LOCK_COMPANY_OF_USER`]).
async fn lock_company_of_user<D: Dialect>(
    tx: &mut sqlx::Transaction<'_, D>,
    id: &str,
) -> Result<(), StoreError> {
    if let Some(lock) = D::LOCK_COMPANY_OF_USER {
        query::<D>(lock)
            .arg(id)
            .execute(tx.ex())
            .await
            .map_err(backend)?;
    }
    Ok(())
}

/// Commits a guarded write to user `id` that changed `r`'s rows; when it changed none, tells a
/// missing user ([`StoreError::NotFound`]) from the last admin ([`StoreError::LastAdmin`]).
async fn refused_or_done<D: Dialect>(
    mut tx: sqlx::Transaction<'_, D>,
    r: D::QueryResult,
    id: &str,
) -> Result<(), StoreError> {
    if r.rows_affected() > 0 {
        return tx.commit().await.map_err(backend);
    }
    let exists = query::<D>("SELECT 1 AS one FROM users WHERE id = $1")
        .arg(id)
        .fetch_optional(tx.ex())
        .await
        .map_err(backend)?
        .is_some();
    tx.rollback().await.map_err(backend)?;
    Err(if exists {
        StoreError::LastAdmin
    } else {
        StoreError::NotFound
    })
}

/// Appends `e` to the audit log on `conn` and queues the webhook deliveries it sends: call it
/// in a transaction (the change it records, or one of its own), so that all commit or none does.
pub(crate) async fn insert_audit<D: Dialect>(
    conn: &mut D::Connection,
    e: &AuditEvent,
) -> Result<(), StoreError> {
    let row = query::<D>(
        "INSERT INTO audit_log(at, company_id, actor, action, target, remote_addr) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING seq",
    )
    .arg(e.at)
    .arg(&e.company_id.to_string())
    .arg(&e.actor)
    .arg(e.action.as_str())
    .arg(&e.target)
    .arg(&e.remote_addr)
    .fetch_one(conn.ex())
    .await
    .map_err(backend)?;
    super::webhooks::enqueue_for_audit::<D>(conn, row.int("seq")?, e).await
}
