//! The one SQL store: every operation written once, generic over the [`Dialect`]. One file per
//! store trait of `tollgate_core::store`; what differs between backends is in `sqlite.rs` /
//! `postgres.rs` (connecting, migrating, LISTEN/NOTIFY) and the constants of [`Dialect`].

mod accounts;
mod credentials;
mod feed;
mod keys;
mod webhooks;

use std::sync::Arc;

use sqlx::Pool;
use tollgate_core::kek::KeyWrap;
use tollgate_core::store::StoreError;

use crate::dialect::{Dialect, RowsAffected};
pub(crate) use crate::error::backend;
use crate::listener::Listener;

/// tollgate's data in a SQL database: [`crate::SqliteStore`] (one machine) or [`crate::PgStore`]
/// (any number of nodes on one database). Open one with [`crate::open`], or with the backend's own
/// `open`.
#[derive(Debug, Clone)]
pub struct SqlStore<D: Dialect> {
    pub(crate) pool: Pool<D>,
    /// PostgreSQL: the LISTEN task that wakes feed readers (stops with the last handle). SQLite: none.
    pub(crate) listener: Option<Arc<Listener>>,
    /// The key-encryption keys that seal the server key and the signing keys' private parts
    /// (`sql/keys.rs`); none: they are written in the clear.
    pub(crate) wrap: KeyWrap,
}

impl<D: Dialect> SqlStore<D> {
    pub(crate) fn new(pool: Pool<D>, listener: Option<Listener>) -> Self {
        Self {
            pool,
            listener: listener.map(Arc::new),
            wrap: KeyWrap::none(),
        }
    }

    /// The same store, sealing the server key and signing keys under `wrap`'s first key-encryption
    /// key and unsealing them with any of its keys (see [`tollgate_core::kek`]).
    pub fn with_key_wrap(mut self, wrap: KeyWrap) -> Self {
        self.wrap = wrap;
        self
    }

    /// Closes the pool (waits for connections to be returned) and stops listening.
    pub async fn close(&self) {
        if let Some(l) = &self.listener {
            l.stop();
        }
        self.pool.close().await;
    }

    /// A connection from the pool, for one or more statements outside a transaction.
    pub(crate) async fn conn(&self) -> Result<sqlx::pool::PoolConnection<D>, StoreError> {
        self.pool.acquire().await.map_err(backend)
    }

    /// A transaction.
    pub(crate) async fn begin(&self) -> Result<sqlx::Transaction<'static, D>, StoreError> {
        self.pool.begin().await.map_err(backend)
    }

    /// A transaction that reads, then writes what it read ([`Dialect::BEGIN_WRITE`]).
    pub(crate) async fn begin_write(&self) -> Result<sqlx::Transaction<'static, D>, StoreError> {
        match D::BEGIN_WRITE {
            Some(begin) => self.pool.begin_with(begin).await.map_err(backend),
            None => self.begin().await,
        }
    }
}

/// `Ok` if the statement changed a row, [`StoreError::NotFound`] if it matched none.
pub(crate) fn changed(r: impl RowsAffected) -> Result<(), StoreError> {
    if r.rows_affected() == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}
