//! PostgreSQL's push half of the change feed: one connection of its own `LISTEN`s on
//! [`CHANGE_CHANNEL`] and turns notifications into a wake-up signal for feed readers
//! (`FeedStore::subscribe`).

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The channel the change-feed trigger notifies on (see the first PostgreSQL migration).
pub const CHANGE_CHANNEL: &str = "tollgate_changes";

/// The LISTEN task and the signal it drives; the task stops when the last store handle goes.
pub(crate) struct Listener {
    signal: watch::Receiver<u64>,
    task: JoinHandle<()>,
}

impl Listener {
    /// Starts listening over `pool` (one connection, kept for as long as it lives).
    pub(crate) fn spawn(pool: PgPool) -> Self {
        let (tx, signal) = watch::channel(0u64);
        let task = tokio::spawn(listen(pool, tx));
        Self { signal, task }
    }

    /// A receiver that sees the next wake-up (not the ones before).
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        let mut rx = self.signal.clone();
        rx.mark_unchanged();
        rx
    }

    /// Stops listening.
    pub(crate) fn stop(&self) {
        self.task.abort();
    }
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("wakeups", &*self.signal.borrow())
            .finish_non_exhaustive()
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Follows `NOTIFY tollgate_changes` and bumps `tx` on each notification, and after every (re)connect
/// (notifications sent while no connection listened are lost: the reader must look at the feed).
async fn listen(pool: PgPool, tx: watch::Sender<u64>) {
    let bump = || tx.send_modify(|n| *n = n.wrapping_add(1));
    let mut backoff = Duration::from_millis(100);
    let mut failing = false;
    loop {
        let connected = async {
            let mut listener = PgListener::connect_with(&pool).await?;
            listener.listen(CHANGE_CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        }
        .await;
        let mut listener = match connected {
            Ok(l) => l,
            Err(e) => {
                if failing {
                    tracing::debug!(error = %e, "change notifications: still cannot listen");
                } else {
                    tracing::warn!(error = %e, "change notifications: cannot listen; retrying (the periodic poll goes on)");
                    failing = true;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
                continue;
            }
        };
        if std::mem::take(&mut failing) {
            tracing::info!("change notifications: listening again");
        }
        backoff = Duration::from_millis(100);
        bump();
        loop {
            match listener.try_recv().await {
                Ok(Some(_)) => bump(),
                // The connection dropped and the listener reconnected (LISTENing again) at once.
                Ok(None) => {
                    tracing::info!("change notifications: connection lost and re-established");
                    bump();
                }
                Err(sqlx::Error::PoolClosed) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "change notifications: connection lost; reconnecting (the periodic poll goes on)");
                    failing = true;
                    break;
                }
            }
        }
        tokio::time::sleep(backoff).await;
    }
}
