//! The storage trait. Backends (SQLite today, PostgreSQL next) live in `tollgate-store`; nothing
//! here names a database.

use async_trait::async_trait;
use tollgate_proto::ScopeSet;

use crate::accounts::{AuditEvent, Email, Role, SessionRecord, User, UserId};
use crate::clock::UnixTime;
use crate::ids::{ClientId, CompanyId, GroupId};
use crate::model::{Change, Company, Credential, Group, SigningKeyRecord, StoredSecret};

/// A storage failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The row to change does not exist.
    #[error("not found")]
    NotFound,
    /// The company already holds its maximum number of credentials.
    #[error("the company already has its maximum of {max} credentials")]
    CredentialLimit {
        /// The company's limit.
        max: u32,
    },
    /// A uniqueness rule was broken.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database failed (unreachable, corrupt, …): a 500, never a client error.
    #[error("database error: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Everything tollgate stores. One implementation per backend.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Whether the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// A wake-up for readers of the change feed, from backends that can push one (PostgreSQL:
    /// LISTEN/NOTIFY): the value changes when a write may have been recorded by any node, and after
    /// each reconnect of the backend's listener (notifications sent meanwhile are lost). A hint only:
    /// readers still poll [`Store::changes_since`] as a safety net. `None` (the default): poll only.
    fn subscribe(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        None
    }

    /// The server key (≥ 32 random bytes) under which secrets are hashed and cursors signed; created on
    /// first use and shared by every node.
    async fn server_key(&self) -> Result<Vec<u8>, StoreError>;

    // --- companies ---
    /// Stores a new company and its root group, atomically.
    async fn create_company(&self, company: &Company, root_group: &Group)
    -> Result<(), StoreError>;
    /// One company.
    async fn get_company(&self, id: &CompanyId) -> Result<Option<Company>, StoreError>;
    /// All companies, oldest first.
    async fn list_companies(&self) -> Result<Vec<Company>, StoreError>;
    /// Overwrites name, scopes, max_credentials and updated_at.
    async fn update_company(&self, company: &Company) -> Result<(), StoreError>;

    // --- credentials ---
    /// Stores a new credential with its secret, failing with [`StoreError::CredentialLimit`] when the
    /// company is full (checked atomically with the insert).
    async fn create_credential(&self, credential: &Credential) -> Result<(), StoreError>;
    /// One credential with its live secrets.
    async fn get_credential(&self, id: &ClientId) -> Result<Option<Credential>, StoreError>;
    /// A company's credentials, oldest first.
    async fn list_credentials(&self, company: &CompanyId) -> Result<Vec<Credential>, StoreError>;
    /// Every credential (to fill the in-memory directory).
    async fn list_all_credentials(&self) -> Result<Vec<Credential>, StoreError>;
    /// Sets label and scopes.
    async fn update_credential(
        &self,
        id: &ClientId,
        label: &str,
        scopes: &ScopeSet,
        now: UnixTime,
    ) -> Result<(), StoreError>;
    /// Adds `new_secret`; every older secret now expires at `old_expire_at` (or earlier, if it
    /// already did); secrets expired at `now` are removed.
    async fn rotate_secret(
        &self,
        id: &ClientId,
        new_secret: &StoredSecret,
        old_expire_at: UnixTime,
        now: UnixTime,
    ) -> Result<(), StoreError>;
    /// Deletes a credential and its secrets.
    async fn delete_credential(&self, id: &ClientId) -> Result<(), StoreError>;
    /// Records last-used times (batched by the server, off the hot path).
    async fn record_last_used(&self, used: &[(ClientId, UnixTime)]) -> Result<(), StoreError>;

    // --- signing keys ---
    /// All signing keys, oldest first.
    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError>;
    /// Adds a signing key.
    async fn insert_signing_key(&self, key: &SigningKeyRecord) -> Result<(), StoreError>;
    /// Retires every unretired key but one: it stops signing at `retired_at` and stays published
    /// until `publish_until`. The key kept is the one added last among `keep` and the unretired
    /// keys — `keep` itself unless another rotation raced this one — so racing rotations converge.
    async fn retire_signing_keys(
        &self,
        keep: &str,
        retired_at: UnixTime,
        publish_until: UnixTime,
    ) -> Result<(), StoreError>;

    // --- revoked tokens (RFC 7009) ---
    /// Records a revoked token until it would have expired.
    async fn revoke_token(
        &self,
        jti: &str,
        client_id: &ClientId,
        expires_at: UnixTime,
    ) -> Result<(), StoreError>;
    /// The expiry of a revoked token, if it is revoked.
    async fn revoked_token(&self, jti: &str) -> Result<Option<UnixTime>, StoreError>;
    /// Every revocation still in force at `now`: `(jti, expires_at)`.
    async fn revoked_tokens(&self, now: UnixTime) -> Result<Vec<(String, UnixTime)>, StoreError>;
    /// Forgets revocations of tokens expired at `now`.
    async fn prune_revoked(&self, now: UnixTime) -> Result<(), StoreError>;

    // --- change feed ---
    /// The newest change's sequence number (0 when there is none).
    async fn last_change_seq(&self) -> Result<i64, StoreError>;
    /// Changes after `seq`, oldest first, at most `limit`; `None` if changes after `seq` were already
    /// pruned (the caller must reload everything).
    async fn changes_since(&self, seq: i64, limit: u32) -> Result<Option<Vec<Change>>, StoreError>;
    /// Forgets changes recorded more than `keep_secs` seconds ago (by the database's clock).
    async fn prune_changes(&self, keep_secs: i64) -> Result<(), StoreError>;

    // --- example API: groups ---
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

    // --- people (admin panel) ---
    /// Adds a user ([`StoreError::Conflict`] if the email is taken).
    async fn insert_user(&self, user: &User) -> Result<(), StoreError>;
    /// One user.
    async fn get_user(&self, id: &UserId) -> Result<Option<User>, StoreError>;
    /// A user by email.
    async fn get_user_by_email(&self, email: &Email) -> Result<Option<User>, StoreError>;
    /// A company's users, oldest first.
    async fn list_users(&self, company: &CompanyId) -> Result<Vec<User>, StoreError>;
    /// Changes a role.
    async fn set_user_role(&self, id: &UserId, role: Role) -> Result<(), StoreError>;
    /// Deletes a user and their sessions.
    async fn delete_user(&self, id: &UserId) -> Result<(), StoreError>;
    /// Adds a session.
    async fn insert_session(&self, session: &SessionRecord) -> Result<(), StoreError>;
    /// A session by the hash of its token.
    async fn get_session(&self, id_hash: &str) -> Result<Option<SessionRecord>, StoreError>;
    /// Ends a session.
    async fn delete_session(&self, id_hash: &str) -> Result<(), StoreError>;
    /// Appends to the audit log.
    async fn append_audit(&self, event: &AuditEvent) -> Result<(), StoreError>;
    /// A company's audit log, newest first.
    async fn list_audit(
        &self,
        company: &CompanyId,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StoreError>;
}
