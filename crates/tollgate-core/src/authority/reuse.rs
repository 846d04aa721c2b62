//! Token reuse: a repeated token request (same secret, same scopes) gets the token answered
//! before while at least half of its lifetime remains (strictly more than half by the whole-second
//! count), with no signature and no write.
//!
//! An entry is only handed out while everything it was issued from is unchanged: the same
//! credential and company entries in the directory (any edit, rotation, narrowing or deletion
//! replaces them), the same signing key, and its `jti` not revoked. Lookups hash the key with a
//! per-process random seed and then compare it in full, so they allocate nothing and a hash
//! collision is a miss, never another client's token.

use std::hash::BuildHasher;
use std::sync::Arc;

use crate::clock::UnixTime;
use crate::directory::{CompanyEntry, CredentialEntry};

/// A token that may be answered again.
#[derive(Debug)]
pub(super) struct Reusable {
    secret_id: Box<str>,
    scope_text: Box<str>,
    aud_text: Box<str>,
    pub(super) access_token: Box<str>,
    pub(super) jti: Box<str>,
    kid: Box<str>,
    iat: UnixTime,
    pub(super) exp: UnixTime,
    credential: Arc<CredentialEntry>,
    company: Arc<CompanyEntry>,
}

/// What a token was issued from (the cache's key and its validity conditions).
pub(super) struct Origin<'a> {
    pub(super) secret_id: &'a str,
    pub(super) scope_text: &'a str,
    /// The resources asked for (RFC 8707), space-separated; empty for the default audience.
    pub(super) aud_text: &'a str,
    pub(super) kid: &'a str,
    pub(super) credential: &'a Arc<CredentialEntry>,
    pub(super) company: &'a Arc<CompanyEntry>,
}

/// The tokens that may be answered again, one per (secret, scopes).
pub(super) struct ReuseCache {
    entries: quick_cache::sync::Cache<u64, Arc<Reusable>>,
    seed: std::collections::hash_map::RandomState,
}

impl ReuseCache {
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            entries: quick_cache::sync::Cache::new(capacity),
            seed: std::collections::hash_map::RandomState::new(),
        }
    }

    fn key(&self, origin: &Origin<'_>) -> u64 {
        self.seed
            .hash_one((origin.secret_id, origin.scope_text, origin.aud_text))
    }

    /// The token issued from `origin` earlier, if it is still unchanged, unrevoked
    /// (`is_revoked`) and more than half of its lifetime remains at `now`.
    pub(super) fn get(
        &self,
        origin: &Origin<'_>,
        now: UnixTime,
        is_revoked: impl FnOnce(&str) -> bool,
    ) -> Option<Arc<Reusable>> {
        let r = self.entries.get(&self.key(origin))?;
        let same = *r.secret_id == *origin.secret_id
            && *r.scope_text == *origin.scope_text
            && *r.aud_text == *origin.aud_text
            && *r.kid == *origin.kid
            && Arc::ptr_eq(&r.credential, origin.credential)
            && Arc::ptr_eq(&r.company, origin.company);
        // More than half, in whole seconds: `iat` and `now` are truncated, so in the second where
        // exactly half is left by the count, the real time left is already less than half (and a
        // client renewing at half its token's lifetime gets a new one).
        let half_left = 2 * (r.exp - now) > r.exp - r.iat;
        (same && half_left && now >= r.iat && !is_revoked(&r.jti)).then_some(r)
    }

    /// Remembers a token just issued from `origin`.
    pub(super) fn put(
        &self,
        origin: &Origin<'_>,
        access_token: &str,
        jti: &str,
        iat: UnixTime,
        exp: UnixTime,
    ) {
        let entry = Reusable {
            secret_id: origin.secret_id.into(),
            scope_text: origin.scope_text.into(),
            aud_text: origin.aud_text.into(),
            access_token: access_token.into(),
            jti: jti.into(),
            kid: origin.kid.into(),
            iat,
            exp,
            credential: Arc::clone(origin.credential),
            company: Arc::clone(origin.company),
        };
        self.entries.insert(self.key(origin), Arc::new(entry));
    }

    /// Forgets every entry (the key ring changed).
    pub(super) fn clear(&self) {
        self.entries.clear();
    }
}
