//! The in-memory view of companies and credentials that the hot path reads.
//!
//! It is filled from the store at start-up and kept coherent by the store's change feed: every write
//! (by this node, another node or the CLI) appends `(kind, key)` to the feed; [`Directory::sync`]
//! replays new entries by re-reading those rows. If the feed was pruned past our position, everything
//! is reloaded.
//!
//! An API beside tollgate that caches its own rows (the example groups API) follows the feed's
//! entries of its own kind through a [`FeedListener`]: it hears of each key written, and of every
//! full reload (when it must assume that anything changed).

use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use dashmap::DashMap;
use tollgate_proto::ScopeSet;

use crate::clock::UnixTime;
use crate::ids::{ClientId, CompanyId};
use crate::journal::{Journal, Touched};
use crate::model::{ChangeKind, Company, Credential, CredentialAccess, StoredSecret};
use crate::store::{CredentialStore, Store, StoreError};

/// What the hot path needs of a company.
#[derive(Debug)]
pub struct CompanyEntry {
    /// Id.
    pub id: CompanyId,
    /// Scope ceiling.
    pub scopes: ScopeSet,
    /// Its override of the token quota (new tokens per credential per hour; `Some(0)`: none).
    pub token_quota_per_hour: Option<u32>,
    /// The resources (audiences) beyond the default one its credentials may ask for.
    pub resources: crate::audience::Resources,
}

/// What the hot path needs of a credential.
#[derive(Debug)]
pub struct CredentialEntry {
    /// Client ID.
    pub client_id: ClientId,
    /// Owning company.
    pub company_id: CompanyId,
    /// Scopes granted (before the ceiling).
    pub scopes: ScopeSet,
    /// Live secrets.
    pub secrets: Vec<StoredSecret>,
    /// Expiry and IP allowlist.
    pub access: CredentialAccess,
}

/// What one [`Directory::sync`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SyncOutcome {
    /// Change entries applied.
    pub applied: usize,
    /// Whether signing keys changed (the key ring must be reloaded).
    pub keys_changed: bool,
    /// Whether everything was reloaded.
    pub full_reload: bool,
}

/// Companies and credentials in memory.
#[derive(Debug, Default)]
pub struct Directory {
    companies: DashMap<CompanyId, Arc<CompanyEntry>>,
    credentials: DashMap<ClientId, Arc<CredentialEntry>>,
    /// Revoked token ids with the time their token expires (after which the entry is useless).
    revoked: DashMap<Box<str>, UnixTime>,
    /// Who follows which other kind of feed entry.
    listeners: RwLock<Vec<Follower>>,
    seq: AtomicI64,
    next_prune: AtomicI64,
    /// When the directory last held every change the store had (a reload, or a sync that read to
    /// the feed's end): `now` less it is how far behind this node may be.
    caught_up_at: AtomicI64,
    /// Full reloads since start (the first load, and each time the feed no longer reached back).
    reloads: std::sync::atomic::AtomicU64,
    /// What changed, in order (the revocation feed follows it).
    journal: Journal,
}

/// A [`FeedListener`] and the kind of entry it follows.
type Follower = (Box<str>, Arc<dyn FeedListener>);

/// Follows the change feed's entries of one kind that tollgate does not know itself
/// ([`ChangeKind::Other`]), as [`Directory::follow`] registers it.
pub trait FeedListener: Send + Sync + std::fmt::Debug {
    /// An entry of the followed kind names `key` (written by this node or another).
    fn changed(&self, key: &str);
    /// The directory reloaded everything: entries may have been missed, anything may have changed.
    fn reloaded(&self);
}

const BATCH: u32 = 5_000;

impl Directory {
    /// An empty directory; call [`Directory::sync`] (or [`Directory::reload`]) to fill it.
    pub fn new() -> Self {
        Self {
            seq: AtomicI64::new(-1),
            ..Self::default()
        }
    }

    /// A credential by client ID.
    pub fn credential(&self, client_id: &str) -> Option<Arc<CredentialEntry>> {
        self.credentials
            .get(client_id)
            .map(|e| Arc::clone(e.value()))
    }

    /// A company by id.
    pub fn company(&self, id: &CompanyId) -> Option<Arc<CompanyEntry>> {
        self.companies.get(id).map(|e| Arc::clone(e.value()))
    }

    /// Whether the token `jti` was revoked.
    pub fn is_revoked(&self, jti: &str) -> bool {
        self.revoked.contains_key(jti)
    }

    /// Marks `jti` revoked here at once (the store's change feed carries it to other nodes).
    pub fn note_revoked(&self, jti: &str, expires_at: UnixTime) {
        self.put_revoked(jti, expires_at);
    }

    /// Records a revocation; journals it only if it is new (the feed replays this node's own).
    fn put_revoked(&self, jti: &str, expires_at: UnixTime) {
        if self.revoked.insert(jti.into(), expires_at) != Some(expires_at) {
            self.journal.note(Touched::Revoked(jti.into()));
        }
    }

    /// When `jti` was revoked, the time its token expires.
    pub fn revoked_until(&self, jti: &str) -> Option<UnixTime> {
        self.revoked.get(jti).map(|e| *e.value())
    }

    /// The change journal: what the directory re-read, in order.
    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    /// Every company held (a snapshot for the revocation feed).
    pub fn companies(&self) -> Vec<Arc<CompanyEntry>> {
        self.companies
            .iter()
            .map(|e| Arc::clone(e.value()))
            .collect()
    }

    /// Every credential held (a snapshot for the revocation feed).
    pub fn credentials(&self) -> Vec<Arc<CredentialEntry>> {
        self.credentials
            .iter()
            .map(|e| Arc::clone(e.value()))
            .collect()
    }

    /// Revoked token ids whose tokens expire after `now`, with their expiry.
    pub fn revoked_tokens(&self, now: UnixTime) -> Vec<(Box<str>, UnixTime)> {
        self.revoked
            .iter()
            .filter(|e| *e.value() > now)
            .map(|e| (e.key().clone(), *e.value()))
            .collect()
    }

    /// Hands every feed entry of `kind` to `listener`, and tells it of every full reload.
    pub fn follow(&self, kind: &str, listener: Arc<dyn FeedListener>) {
        self.listeners
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((kind.into(), listener));
    }

    fn listeners(&self) -> Vec<Follower> {
        self.listeners
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Number of credentials held.
    pub fn credential_count(&self) -> usize {
        self.credentials.len()
    }

    /// When the directory last held every change in the store (see [`Directory::sync`]).
    pub fn caught_up_at(&self) -> UnixTime {
        self.caught_up_at.load(Ordering::Relaxed)
    }

    /// Full reloads since start.
    pub fn reloads(&self) -> u64 {
        self.reloads.load(Ordering::Relaxed)
    }

    /// Number of companies held.
    pub fn company_count(&self) -> usize {
        self.companies.len()
    }

    /// Reloads everything from the store.
    pub async fn reload(&self, store: &dyn Store, now: UnixTime) -> Result<(), StoreError> {
        // Read the position first: changes made while we load are replayed by the next sync.
        let seq = store.last_change_seq().await?;
        let companies = store.list_companies().await?;
        let credentials = store.list_all_credentials().await?;
        let revoked = store.revoked_tokens(now).await?;
        let company_ids: HashSet<CompanyId> = companies.iter().map(|c| c.id).collect();
        let client_ids: HashSet<ClientId> =
            credentials.iter().map(|c| c.client_id.clone()).collect();
        for c in companies {
            self.put_company(c);
        }
        for c in credentials {
            self.put_credential(c);
        }
        self.companies.retain(|k, _| company_ids.contains(k));
        self.credentials.retain(|k, _| client_ids.contains(k));
        for (jti, exp) in revoked {
            self.revoked.insert(jti.into(), exp);
        }
        self.seq.store(seq, Ordering::SeqCst);
        self.caught_up_at.store(now, Ordering::Relaxed);
        self.reloads.fetch_add(1, Ordering::Relaxed);
        // Entries missed while the feed could not be followed: the listeners drop what they hold.
        for (_, l) in self.listeners() {
            l.reloaded();
        }
        self.journal.note(Touched::Reloaded);
        Ok(())
    }

    /// Applies the store's changes since the last sync (a full reload the first time, or when the
    /// feed no longer reaches back to our position).
    pub async fn sync(&self, store: &dyn Store, now: UnixTime) -> Result<SyncOutcome, StoreError> {
        let mut out = SyncOutcome::default();
        if now >= self.next_prune.load(Ordering::Relaxed) {
            self.revoked.retain(|_, exp| *exp > now);
            self.next_prune.store(now + 60, Ordering::Relaxed);
        }
        let mut seq = self.seq.load(Ordering::SeqCst);
        if seq < 0 {
            self.reload(store, now).await?;
            out.full_reload = true;
            out.keys_changed = true;
            return Ok(out);
        }
        loop {
            let Some(changes) = store.changes_since(seq, BATCH).await? else {
                self.reload(store, now).await?;
                out.full_reload = true;
                out.keys_changed = true;
                return Ok(out);
            };
            let n = changes.len();
            let mut seen = HashSet::new();
            let listeners = self.listeners();
            for ch in changes.iter().rev() {
                if !seen.insert((&ch.kind, ch.key.as_str())) {
                    continue;
                }
                match &ch.kind {
                    ChangeKind::Company => self.refresh_company(store, &ch.key).await?,
                    ChangeKind::Credential => self.refresh_credential(store, &ch.key).await?,
                    ChangeKind::SigningKey => out.keys_changed = true,
                    ChangeKind::Other(kind) => {
                        for (_, l) in listeners.iter().filter(|(k, _)| k == kind) {
                            l.changed(&ch.key);
                        }
                    }
                    ChangeKind::Revocation => {
                        if let Some(exp) = store.revoked_token(&ch.key).await? {
                            self.put_revoked(&ch.key, exp);
                        }
                    }
                }
            }
            out.applied += n;
            if let Some(last) = changes.last() {
                seq = last.seq;
                self.seq.store(seq, Ordering::SeqCst);
            }
            if n < BATCH as usize {
                self.caught_up_at.store(now, Ordering::Relaxed);
                return Ok(out);
            }
        }
    }

    async fn refresh_company(
        &self,
        store: &dyn CredentialStore,
        key: &str,
    ) -> Result<(), StoreError> {
        match CompanyId::parse(key) {
            Ok(id) => self.reread_company(store, &id).await,
            Err(_) => Ok(()),
        }
    }

    async fn refresh_credential(
        &self,
        store: &dyn CredentialStore,
        key: &str,
    ) -> Result<(), StoreError> {
        match ClientId::parse(key) {
            Ok(id) => self.reread_credential(store, &id).await,
            Err(_) => Ok(()),
        }
    }

    /// Re-reads one company from the store now: the node that wrote it serves the new state at
    /// once instead of at its next sync (the feed still replays the write, which is idempotent).
    pub async fn reread_company(
        &self,
        store: &dyn CredentialStore,
        id: &CompanyId,
    ) -> Result<(), StoreError> {
        match store.get_company(id).await? {
            Some(c) => self.put_company(c),
            None => {
                self.companies.remove(id);
            }
        }
        self.journal.note(Touched::Company(*id));
        Ok(())
    }

    /// Re-reads one credential from the store now (see [`Directory::reread_company`]).
    pub async fn reread_credential(
        &self,
        store: &dyn CredentialStore,
        id: &ClientId,
    ) -> Result<(), StoreError> {
        match store.get_credential(id).await? {
            Some(c) => self.put_credential(c),
            None => {
                self.credentials.remove(id);
            }
        }
        self.journal.note(Touched::Credential(id.clone()));
        Ok(())
    }

    fn put_company(&self, c: Company) {
        self.companies.insert(
            c.id,
            Arc::new(CompanyEntry {
                id: c.id,
                scopes: c.scopes,
                token_quota_per_hour: c.token_quota_per_hour,
                resources: c.resources,
            }),
        );
    }

    fn put_credential(&self, c: Credential) {
        self.credentials.insert(
            c.client_id.clone(),
            Arc::new(CredentialEntry {
                client_id: c.client_id,
                company_id: c.company_id,
                scopes: c.scopes,
                secrets: c.secrets,
                access: c.access,
            }),
        );
    }
}
