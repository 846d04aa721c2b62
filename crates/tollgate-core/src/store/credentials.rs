//! Companies and their credentials (with their secrets).

use async_trait::async_trait;

use super::StoreError;
use crate::accounts::AuditEvent;
use crate::clock::UnixTime;
use crate::ids::{ClientId, CompanyId};
use crate::model::{Company, Credential, StoredSecret};
use crate::secret::SecretHash;

/// Companies and their credentials (with their secrets).
#[async_trait]
pub trait CredentialStore: Send + Sync + std::fmt::Debug {
    /// Stores a new company.
    async fn create_company(&self, company: &Company) -> Result<(), StoreError>;
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
    /// As [`CredentialStore::create_credential`], with `audit` appended to the audit log in the same
    /// transaction: the credential and its audit entry are stored together or not at all.
    async fn create_credential_audited(
        &self,
        credential: &Credential,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;
    /// One credential with its live secrets.
    async fn get_credential(&self, id: &ClientId) -> Result<Option<Credential>, StoreError>;
    /// A company's credentials, oldest first.
    async fn list_credentials(&self, company: &CompanyId) -> Result<Vec<Credential>, StoreError>;
    /// Every credential (to fill the in-memory directory).
    async fn list_all_credentials(&self) -> Result<Vec<Credential>, StoreError>;
    /// Writes a credential's label, scopes, access (expiry, IP allowlist) and `updated_at`.
    async fn update_credential(&self, credential: &Credential) -> Result<(), StoreError>;
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
    /// The credential holding a secret (live or in its grace period) whose stored form is `hash`.
    async fn credential_by_secret_hash(
        &self,
        hash: &SecretHash,
    ) -> Result<Option<ClientId>, StoreError>;
    /// Ends one secret of a credential at once (its tokens with it), if another live secret at
    /// `now` remains: [`StoreError::NotFound`] for no such secret of this credential,
    /// [`StoreError::LastSecret`] when it is the only live one.
    async fn end_secret(
        &self,
        id: &ClientId,
        secret: &crate::ids::SecretId,
        now: UnixTime,
    ) -> Result<(), StoreError>;
    /// Appends `credential.expired` (actor `system`) for each credential whose expiry passed by
    /// `now` and whose audit log does not say so yet, and marks it, in one transaction: each
    /// expiry is written once, whichever nodes ask. Returns how many were written.
    async fn audit_expired_credentials(&self, now: UnixTime) -> Result<usize, StoreError>;
    /// Appends `credential.expiring` (actor `system`, target `CLIENT_ID (in N days)`) for each
    /// credential whose expiry is now within 30, 7 or 1 days and whose nearest such warning is not
    /// written yet, and marks it, in one transaction: each warning once, whichever nodes ask, and
    /// only the nearest one when several apply at once. Returns how many were written.
    async fn audit_expiring_credentials(&self, now: UnixTime) -> Result<usize, StoreError>;
    /// Records last-used times (batched by the server, off the hot path).
    async fn record_last_used(&self, used: &[(ClientId, UnixTime)]) -> Result<(), StoreError>;
    /// Adds a batch of usage (counts to its day, each node's added to the others'), records the
    /// credentials' and secrets' last uses; rows of credentials or secrets deleted meanwhile are
    /// skipped. One transaction.
    async fn record_usage(&self, batch: &crate::usage::UsageBatch) -> Result<(), StoreError>;
    /// A credential's usage per day from `since` on, oldest first (days without any: absent).
    async fn usage(
        &self,
        client: &ClientId,
        since: crate::usage::Day,
    ) -> Result<Vec<crate::usage::DailyUsage>, StoreError>;
    /// The last token request of each of a credential's secrets that made one.
    async fn secret_uses(
        &self,
        client: &ClientId,
    ) -> Result<Vec<crate::usage::SecretUse>, StoreError>;
}
