//! The PostgreSQL backend: many nodes on one database. Every operation is in [`crate::sql`]; here is
//! what is PostgreSQL's own:
//! - **Migrations** run under sqlx's advisory lock (`pg_advisory_lock` on a key derived from the
//!   database name), so when several nodes start at once one migrates and the others wait, then find
//!   the work done.
//! - **The change feed** is kept by triggers, as on SQLite, and each commit that appends to it also
//!   sends `NOTIFY tollgate_changes`. Every store holds one extra connection that `LISTEN`s and turns
//!   notifications into a wake-up signal (`FeedStore::subscribe`); it reconnects on its own and signals
//!   once more after each reconnect, since notifications sent meanwhile are lost. The servers' periodic
//!   poll stays as the safety net.
//! - **Locks** ([`Dialect`]): the credential-creating transaction locks the company row
//!   (`SELECT … FOR UPDATE`) before counting, so concurrent creations on any number of nodes queue on
//!   that row; key retirement takes a table lock; the directory load reads one `REPEATABLE READ`
//!   snapshot.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres};

use crate::OpenError;
use crate::dialect::Dialect;
use crate::listener::Listener;
use crate::sql::SqlStore;

pub(crate) static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Connections per node for queries (the listener has one more of its own).
const MAX_CONNECTIONS: u32 = 10;

/// tollgate's data in a PostgreSQL database, shared by any number of nodes.
pub type PgStore = SqlStore<Postgres>;

impl Dialect for Postgres {
    const SNAPSHOT: Option<&'static str> =
        Some("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
    const LOCK_COMPANY: Option<&'static str> =
        Some("SELECT 1 FROM companies WHERE id = $1 FOR UPDATE");
    const LOCK_COMPANY_OF_USER: Option<&'static str> = Some(
        "SELECT 1 FROM companies WHERE id = (SELECT company_id FROM users WHERE id = $1) FOR UPDATE",
    );
    const BEGIN_WRITE: Option<&'static str> = None;
    const LOCK_SIGNING_KEYS: Option<&'static str> =
        Some("LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE");
    const SKIP_LOCKED: &'static str = " FOR UPDATE SKIP LOCKED";
    const FEED_PRUNE_THROUGH: &'static str = "SELECT MAX(seq) AS n FROM change_log \
         WHERE at < floor(extract(epoch FROM clock_timestamp()))::bigint - $1";
}

impl SqlStore<Postgres> {
    /// Connects to the database named by `url` (`postgres://USER[:PASSWORD]@HOST[:PORT]/DB?…`, every
    /// libpq-style option sqlx knows, e.g. `sslmode=require`) and migrates it. Safe when several
    /// nodes start at once.
    pub async fn open(url: &str) -> Result<Self, OpenError> {
        let opts = options(url)?;
        let pool = connect(opts.clone(), MAX_CONNECTIONS).await?;
        MIGRATOR.run(&pool).await.map_err(OpenError::Migrate)?;

        // One connection of its own for LISTEN, apart from the query pool, kept for as long as it lives.
        let listen_pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(5))
            .max_lifetime(None)
            .idle_timeout(None)
            .connect_lazy_with(opts);
        Ok(Self::new(pool, Some(Listener::spawn(listen_pool))))
    }
}

/// How every connection to tollgate's PostgreSQL database is opened.
fn options(url: &str) -> Result<PgConnectOptions, OpenError> {
    Ok(PgConnectOptions::from_str(url)
        .map_err(OpenError::Connect)?
        .application_name("tollgate")
        // Not "relation _sqlx_migrations already exists, skipping" at every start.
        .options([("client_min_messages", "warning")]))
}

async fn connect(opts: PgConnectOptions, max: u32) -> Result<PgPool, OpenError> {
    PgPoolOptions::new()
        .max_connections(max)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(opts)
        .await
        .map_err(OpenError::Connect)
}

/// One connection to the database of `url`, outside any pool (for a look that changes nothing).
async fn one_connection(url: &str) -> Result<sqlx::PgConnection, OpenError> {
    use sqlx::Connection as _;
    sqlx::PgConnection::connect_with(&options(url)?)
        .await
        .map_err(OpenError::Connect)
}

/// The versions of the migrations applied to the database of `url` (none if it was never
/// migrated); changes nothing.
pub(crate) async fn applied_migrations(url: &str) -> Result<Vec<i64>, OpenError> {
    let mut conn = one_connection(url).await?;
    let migrated: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(&mut conn)
        .await
        .map_err(OpenError::Connect)?;
    if !migrated {
        return Ok(Vec::new());
    }
    sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success")
        .fetch_all(&mut conn)
        .await
        .map_err(OpenError::Connect)
}

/// The server's clock less this machine's, in seconds, at the middle of the query.
pub(crate) async fn clock_skew(url: &str) -> Result<f64, OpenError> {
    let mut conn = one_connection(url).await?;
    // This machine's real clock is what is measured here, not an injected one.
    #[allow(clippy::disallowed_methods)]
    let local = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
    };
    let before = local();
    let server: f64 = sqlx::query_scalar("SELECT extract(epoch FROM clock_timestamp())::float8")
        .fetch_one(&mut conn)
        .await
        .map_err(OpenError::Connect)?;
    let after = local();
    Ok(server - (before + after) / 2.0)
}

/// A pool on the database of `url`, connected as the store's own (for an API's own rows).
pub(crate) async fn pool(url: &str, max_connections: u32) -> Result<PgPool, OpenError> {
    connect(options(url)?, max_connections).await
}
