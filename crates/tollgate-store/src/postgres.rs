//! The PostgreSQL backend: many nodes on one database. Every operation is in [`crate::sql`]; here is
//! what is PostgreSQL's own:
//! - **Migrations** run under sqlx's advisory lock (`pg_advisory_lock` on a key derived from the
//!   database name), so when several nodes start at once one migrates and the others wait, then find
//!   the work done.
//! - **The change feed** is kept by triggers, as on SQLite, and each commit that appends to it also
//!   sends `NOTIFY tollgate_changes`. Every store holds one extra connection that `LISTEN`s and turns
//!   notifications into a wake-up signal ([`Store::subscribe`]); it reconnects on its own and signals
//!   once more after each reconnect, since notifications sent meanwhile are lost. The servers' periodic
//!   poll stays as the safety net.
//! - **Locks** ([`Dialect`]): the credential-creating transaction locks the company row
//!   (`SELECT … FOR UPDATE`) before counting, so concurrent creations on any number of nodes queue on
//!   that row; key retirement takes a table lock; the directory load reads one `REPEATABLE READ`
//!   snapshot.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use sqlx::{PgPool, Postgres};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::OpenError;
use crate::dialect::Dialect;
use crate::sql::SqlStore;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The channel the change-feed trigger notifies on (see the first migration).
pub const CHANGE_CHANNEL: &str = "tollgate_changes";

/// Connections per node for queries (the listener has one more of its own).
const MAX_CONNECTIONS: u32 = 10;

/// tollgate's data in a PostgreSQL database, shared by any number of nodes.
pub type PgStore = SqlStore<Postgres>;

impl Dialect for Postgres {
    const SNAPSHOT: Option<&'static str> =
        Some("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
    const LOCK_COMPANY: Option<&'static str> =
        Some("SELECT 1 FROM companies WHERE id = $1 FOR UPDATE");
    const LOCK_SIGNING_KEYS: Option<&'static str> =
        Some("LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE");
    const FEED_PRUNE_THROUGH: &'static str = "SELECT MAX(seq) AS n FROM change_log \
         WHERE at < floor(extract(epoch FROM clock_timestamp()))::bigint - $1";
}

/// The LISTEN task and the signal it drives; the task stops when the last store handle goes.
pub(crate) struct Listener {
    signal: watch::Receiver<u64>,
    task: JoinHandle<()>,
}

impl Listener {
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

impl SqlStore<Postgres> {
    /// Connects to the database named by `url` (`postgres://USER[:PASSWORD]@HOST[:PORT]/DB?…`, every
    /// libpq-style option sqlx knows, e.g. `sslmode=require`) and migrates it. Safe when several
    /// nodes start at once.
    pub async fn open(url: &str) -> Result<Self, OpenError> {
        let opts = PgConnectOptions::from_str(url)
            .map_err(OpenError::Connect)?
            .application_name("tollgate")
            // Not "relation _sqlx_migrations already exists, skipping" at every start.
            .options([("client_min_messages", "warning")]);
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with(opts.clone())
            .await
            .map_err(OpenError::Connect)?;
        MIGRATOR.run(&pool).await.map_err(OpenError::Migrate)?;

        // One connection of its own for LISTEN, apart from the query pool, kept for as long as it lives.
        let listen_pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .max_lifetime(None)
            .idle_timeout(None)
            .connect_lazy_with(opts);
        let (tx, signal) = watch::channel(0u64);
        let task = tokio::spawn(listen(listen_pool, tx));
        Ok(Self::new(pool, Some(Listener { signal, task })))
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
