//! The server key, signing keys and revoked tokens.

use super::StoreError;
use crate::clock::UnixTime;
use crate::ids::ClientId;
use crate::kek::{Census, Rewrapped};
use crate::model::SigningKeyRecord;
use async_trait::async_trait;

/// The server key, signing keys and revoked tokens.
#[async_trait]
pub trait KeyStore: Send + Sync + std::fmt::Debug {
    /// The server key (≥ 32 random bytes) under which secrets are hashed and cursors signed; created on
    /// first use and shared by every node. Sealed at rest under the store's key-encryption key, if
    /// it has one (see [`crate::kek`]).
    async fn server_key(&self) -> Result<Vec<u8>, StoreError>;

    /// All signing keys, oldest first, their private parts unsealed.
    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError>;
    /// Adds a signing key (its private part sealed, if the store has a key-encryption key).
    async fn insert_signing_key(&self, key: &SigningKeyRecord) -> Result<(), StoreError>;

    /// How the server key, the signing keys' private parts and the webhook signing secrets are
    /// kept at rest (reads no secret).
    async fn keys_at_rest(&self) -> Result<Census, StoreError>;
    /// Seals the server key, every signing key's private part and every webhook signing secret
    /// under the store's first
    /// key-encryption key, in one transaction: plaintext rows and rows sealed under another
    /// key-encryption key change, rows already under the first stay. Idempotent. Without a
    /// key-encryption key it changes nothing.
    async fn rewrap_keys(&self) -> Result<Rewrapped, StoreError>;
    /// Retires every unretired key but one: it stops signing at `retired_at` and stays published
    /// until `publish_until`. The key kept is the one added last among `keep` and the unretired
    /// keys — `keep` itself unless another rotation raced this one — so racing rotations converge.
    async fn retire_signing_keys(
        &self,
        keep: &str,
        retired_at: UnixTime,
        publish_until: UnixTime,
    ) -> Result<(), StoreError>;

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
}

/// Checks at start-up that the store's KEKs read every stored key (an error names the one
/// missing), and warns — loudly — when keys are kept in the clear: no KEK configured, or rows
/// not yet moved to the first KEK.
pub async fn check_keys_at_rest(store: &dyn KeyStore) -> Result<Census, StoreError> {
    let census = store.keys_at_rest().await?;
    census.check()?;
    if census.configured.is_empty() {
        tracing::warn!(
            "NO KEY-ENCRYPTION KEY: signing keys and the server key are stored IN THE CLEAR; anyone \
             with a copy of the database (a dump, a backup) can mint tokens for every company. Set \
             TOLLGATE_SECRETS_KEY or --secrets-key-file (make a key with `tollgate secrets \
             generate-key`), then run `tollgate secrets rewrap`"
        );
    } else {
        let behind = census.not_under_primary();
        if behind > 0 {
            tracing::warn!(
                rows = behind,
                plaintext = census.plain,
                "stored keys not sealed under the first key-encryption key: run `tollgate secrets rewrap`"
            );
        }
    }
    Ok(census)
}
