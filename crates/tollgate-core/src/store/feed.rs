//! The database's liveness and its change feed (what keeps every node's caches coherent).

use super::StoreError;
use crate::model::Change;
use async_trait::async_trait;

/// The database's liveness and its change feed (what keeps every node's caches coherent).
#[async_trait]
pub trait FeedStore: Send + Sync + std::fmt::Debug {
    /// Whether the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// A wake-up for readers of the change feed, from backends that can push one (PostgreSQL:
    /// LISTEN/NOTIFY): the value changes when a write may have been recorded by any node, and after
    /// each reconnect of the backend's listener (notifications sent meanwhile are lost). A hint only:
    /// readers still poll [`FeedStore::changes_since`] as a safety net. `None` (the default): poll only.
    fn subscribe(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        None
    }

    /// The newest change's sequence number (0 when there is none).
    async fn last_change_seq(&self) -> Result<i64, StoreError>;
    /// Changes after `seq`, oldest first, at most `limit`; `None` if changes after `seq` were already
    /// pruned (the caller must reload everything).
    async fn changes_since(&self, seq: i64, limit: u32) -> Result<Option<Vec<Change>>, StoreError>;
    /// Forgets changes recorded more than `keep_secs` seconds ago (by the database's clock).
    async fn prune_changes(&self, keep_secs: i64) -> Result<(), StoreError>;
}
