//! Catching up with the store on a miss: a credential created, a secret rotated or a token issued
//! on another node a moment ago is known here before the change feed brings it.
//!
//! When a client fails to authenticate, or a signed token names a credential, secret or company
//! this node does not hold, the authority reads the store's change feed once (an ordinary
//! [`Authority::sync`]) and answers again. Misses cannot turn into a query each: a catch-up is
//! skipped when any sync started after the miss (that sync saw everything committed before it),
//! only one runs at a time, and they start at least [`CATCH_UP_SPACING`] apart, so a flood of
//! unknown client IDs costs at most 20 feed reads a second whatever its rate; the failed-auth
//! limiter still counts every failure.

use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tollgate_proto::ScopeSet;

use super::{Access, Authority, ClientAuthFailure, IssueError, IssuedToken, TokenRejection};
use crate::audience::Resources;
use crate::ids::{ClientId, CompanyId};
use crate::secret::ClientSecret;
use crate::store::Store;

/// The shortest time between two catch-up syncs.
pub const CATCH_UP_SPACING: Duration = Duration::from_millis(50);

/// When the last catch-up sync started (kept under the authority's sync lock).
#[derive(Debug, Default)]
pub(super) struct LastCatchUp(Option<Instant>);

/// Why a token was refused, and whether what it names is unknown here (rather than known and
/// revoked).
#[derive(Debug, Clone, Copy)]
pub(super) struct Refusal {
    pub(super) why: TokenRejection,
    unknown_here: bool,
}

impl Refusal {
    /// A credential, secret or company this node does not hold: refused as revoked unless a
    /// catch-up finds it.
    pub(super) const UNKNOWN_HERE: Self = Self {
        why: TokenRejection::Revoked,
        unknown_here: true,
    };
}

impl From<TokenRejection> for Refusal {
    fn from(why: TokenRejection) -> Self {
        Self {
            why,
            unknown_here: false,
        }
    }
}

impl Authority {
    /// Catch-up syncs run so far.
    pub fn catch_ups(&self) -> u64 {
        self.catch_ups.load(Ordering::Relaxed)
    }

    /// Syncs with `store` unless one started after `seen` (a value of `syncs_started` read before
    /// the lookup that missed), no sooner than [`CATCH_UP_SPACING`] after the previous catch-up.
    async fn catch_up(&self, store: &dyn Store, seen: u64) {
        let mut last = self.syncing.lock().await;
        if self.syncs_seen() > seen {
            return;
        }
        if let Some(at) = last.0 {
            let next = at + CATCH_UP_SPACING;
            if Instant::now() < next {
                tokio::time::sleep_until(next.into()).await;
            }
        }
        last.0 = Some(Instant::now());
        self.catch_ups.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = self.sync_locked(store).await {
            // The answer stays the one from the cache; the background sync reports the store.
            tracing::debug!(error = %e, "catch-up sync failed");
        }
    }

    fn syncs_seen(&self) -> u64 {
        self.syncs_started.load(Ordering::SeqCst)
    }

    /// [`Authority::issue_from`]; when the client does not authenticate, once more after catching
    /// up with `store`.
    pub async fn issue_or_catch_up(
        &self,
        store: &dyn Store,
        client_id: &ClientId,
        secret: &ClientSecret,
        requested: Option<&ScopeSet>,
        resources: &Resources,
        from: Option<IpAddr>,
    ) -> Result<IssuedToken, IssueError> {
        let seen = self.syncs_seen();
        match self.issue_from(client_id, secret, requested, resources, from) {
            Err(IssueError::InvalidClient(_)) => {
                self.catch_up(store, seen).await;
                self.issue_from(client_id, secret, requested, resources, from)
            }
            other => other,
        }
    }

    /// [`Authority::authenticate`]; on a failure, once more after catching up with `store`.
    pub async fn authenticate_or_catch_up(
        &self,
        store: &dyn Store,
        client_id: &ClientId,
        secret: &ClientSecret,
        from: Option<IpAddr>,
    ) -> Result<(ClientId, CompanyId), ClientAuthFailure> {
        let seen = self.syncs_seen();
        match self.authenticate(client_id, secret, from) {
            Err(_) => {
                self.catch_up(store, seen).await;
                self.authenticate(client_id, secret, from)
            }
            ok => ok,
        }
    }

    /// [`Authority::authorize`]; when the token is genuine but names a credential, secret or
    /// company unknown here, once more after catching up with `store`.
    pub async fn authorize_or_catch_up(
        &self,
        store: &dyn Store,
        token: &str,
    ) -> Result<Access, TokenRejection> {
        let seen = self.syncs_seen();
        match self.authorize_here(token) {
            Err(r) if r.unknown_here => {
                self.catch_up(store, seen).await;
                self.authorize(token)
            }
            other => other.map_err(|r| r.why),
        }
    }
}
