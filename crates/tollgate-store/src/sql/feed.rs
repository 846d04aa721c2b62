//! Liveness and the change feed ([`FeedStore`]). The feed itself is written by triggers (see the
//! migrations), whichever process writes; this reads and prunes it.

use async_trait::async_trait;
use sqlx::query;
use tokio::sync::watch;
use tollgate_core::model::Change;
use tollgate_core::store::{FeedStore, StoreError};

use super::{SqlStore, backend};
use crate::dialect::{ArgExt as _, Columns as _, Conn as _, Dialect};
use crate::rows::change_row;

#[async_trait]
impl<D: Dialect> FeedStore for SqlStore<D> {
    async fn ping(&self) -> Result<(), StoreError> {
        let mut c = self.conn().await?;
        query::<D>("SELECT 1")
            .execute(c.ex())
            .await
            .map_err(backend)?;
        Ok(())
    }

    fn subscribe(&self) -> Option<watch::Receiver<u64>> {
        self.listener.as_ref().map(|l| l.subscribe())
    }

    async fn last_change_seq(&self) -> Result<i64, StoreError> {
        // After a prune that emptied the log, the position is where the prune stopped.
        let mut c = self.conn().await?;
        let row = query::<D>(
            "SELECT CASE WHEN last > pruned THEN last ELSE pruned END AS n FROM ( \
                 SELECT COALESCE((SELECT MAX(seq) FROM change_log), 0) AS last, \
                        COALESCE((SELECT through FROM change_log_pruned), 0) AS pruned) AS t",
        )
        .fetch_one(c.ex())
        .await
        .map_err(backend)?;
        row.int("n")
    }

    async fn changes_since(&self, seq: i64, limit: u32) -> Result<Option<Vec<Change>>, StoreError> {
        let mut c = self.conn().await?;
        let rows = query::<D>(
            "SELECT seq, kind, key FROM change_log WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .arg(seq)
        .arg(i64::from(limit))
        .fetch_all(c.ex())
        .await
        .map_err(backend)?;
        // Read after the rows: a prune that committed in between is seen here, so rows it removed
        // from under the read above cannot go unnoticed.
        let pruned = query::<D>("SELECT through FROM change_log_pruned")
            .fetch_optional(c.ex())
            .await
            .map_err(backend)?;
        if let Some(p) = pruned
            && p.int("through")? > seq
        {
            return Ok(None);
        }
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push(change_row(r)?);
        }
        Ok(Some(out))
    }

    async fn prune_changes(&self, keep_secs: i64) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let through = query::<D>(D::FEED_PRUNE_THROUGH)
            .arg(keep_secs)
            .fetch_one(tx.ex())
            .await
            .map_err(backend)?
            .opt_int("n")?;
        if let Some(through) = through {
            query::<D>("DELETE FROM change_log WHERE seq <= $1")
                .arg(through)
                .execute(tx.ex())
                .await
                .map_err(backend)?;
            // Several nodes prune: the mark only moves forward.
            query::<D>(
                "INSERT INTO change_log_pruned(only_row, through) VALUES ($1, $2) \
                 ON CONFLICT (only_row) DO UPDATE SET through = CASE \
                     WHEN change_log_pruned.through > excluded.through \
                     THEN change_log_pruned.through ELSE excluded.through END",
            )
            .arg(true)
            .arg(through)
            .execute(tx.ex())
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)
    }
}
