//! Users of the admin panel, their sessions, and the audit log.

use super::StoreError;
use crate::accounts::model::{AuditEvent, Email, Role, SessionRecord, User, UserId};
use crate::ids::CompanyId;
use async_trait::async_trait;

/// Users of the admin panel, their sessions, and the audit log.
#[async_trait]
pub trait AccountStore: Send + Sync + std::fmt::Debug {
    /// Adds a user ([`StoreError::Conflict`] if the email is taken).
    async fn insert_user(&self, user: &User) -> Result<(), StoreError>;
    /// One user.
    async fn get_user(&self, id: &UserId) -> Result<Option<User>, StoreError>;
    /// A user by email.
    async fn get_user_by_email(&self, email: &Email) -> Result<Option<User>, StoreError>;
    /// A company's users, oldest first.
    async fn list_users(&self, company: &CompanyId) -> Result<Vec<User>, StoreError>;
    /// Changes a role; [`StoreError::LastAdmin`] (and nothing changed) if that would leave the
    /// user's company without an owner or admin. The check and the write are atomic: two concurrent
    /// demotions of a company's last two admins cannot both succeed.
    async fn set_user_role(&self, id: &UserId, role: Role) -> Result<(), StoreError>;
    /// Deletes a user and their sessions; [`StoreError::LastAdmin`] (and nothing deleted) if the
    /// user is their company's last owner or admin, checked atomically with the delete.
    async fn delete_user(&self, id: &UserId) -> Result<(), StoreError>;
    /// Sets a user's password hash and ends every session of theirs, in one transaction
    /// ([`StoreError::NotFound`] for no such user).
    async fn set_user_password(&self, id: &UserId, password_hash: &str) -> Result<(), StoreError>;
    /// Adds a session.
    async fn insert_session(&self, session: &SessionRecord) -> Result<(), StoreError>;
    /// A session by the hash of its token.
    async fn get_session(&self, id_hash: &str) -> Result<Option<SessionRecord>, StoreError>;
    /// Ends a session.
    async fn delete_session(&self, id_hash: &str) -> Result<(), StoreError>;
    /// Appends to the audit log.
    async fn append_audit(&self, event: &AuditEvent) -> Result<(), StoreError>;
    /// A company's audit entries that `query` selects, newest first.
    async fn query_audit(
        &self,
        company: &CompanyId,
        query: &crate::accounts::AuditQuery,
    ) -> Result<Vec<crate::accounts::AuditEntry>, StoreError>;
    /// A company's audit log, newest first.
    async fn list_audit(
        &self,
        company: &CompanyId,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StoreError>;
}
