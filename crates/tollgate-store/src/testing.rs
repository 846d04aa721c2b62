//! Throwaway PostgreSQL databases for test suites (tollgate's own, and yours if you embed tollgate).
//!
//! [`TestDatabase::create`] makes a fresh, empty database `tollgate_test_<random>` through a
//! maintenance connection and drops it when the value is dropped (closing any connection still in
//! it), so tests running in parallel never see each other's data. Its sessions commit without
//! waiting for the disk (`synchronous_commit = off`): a test database need not survive a crash. The maintenance URL comes from
//! `TOLLGATE_TEST_POSTGRES_URL`, default `postgres://postgres@127.0.0.1:5432/postgres`; its role must
//! be allowed to create databases.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let db = tollgate_store::testing::TestDatabase::create().await?;
//! let store = tollgate_store::open(db.url()).await?;
//! # let _ = store; Ok(()) }
//! ```

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection};

/// The environment variable naming the maintenance connection.
pub const ADMIN_URL_ENV: &str = "TOLLGATE_TEST_POSTGRES_URL";
/// The maintenance connection used when [`ADMIN_URL_ENV`] is not set.
pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A database that exists for as long as this value.
#[derive(Debug)]
pub struct TestDatabase {
    name: String,
    url: String,
    admin: Box<PgConnectOptions>,
}

/// The maintenance connection's options.
pub fn admin_options() -> Result<PgConnectOptions, sqlx::Error> {
    let url = std::env::var(ADMIN_URL_ENV).unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned());
    PgConnectOptions::from_str(&url)
}

impl TestDatabase {
    /// Creates a fresh, empty database.
    pub async fn create() -> Result<Self, sqlx::Error> {
        let admin = admin_options()?;
        let mut random = [0u8; 8];
        aws_lc_rs::rand::fill(&mut random).map_err(|_| {
            sqlx::Error::Protocol("the system random number generator failed".into())
        })?;
        let name = format!(
            "tollgate_test_{}",
            random
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        let mut conn = PgConnection::connect_with(&admin).await?;
        // `name` is ours: lowercase letters, digits and underscores only.
        sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await?;
        sqlx::raw_sql(AssertSqlSafe(format!(
            "ALTER DATABASE {name} SET synchronous_commit = off"
        )))
        .execute(&mut conn)
        .await?;
        conn.close().await?;
        let url = admin.clone().database(&name).to_url_lossy().to_string();
        Ok(Self {
            name,
            url,
            admin: Box::new(admin),
        })
    }

    /// The URL of the database, for [`crate::open`].
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Ends every session connected to the database (as a failover or a network cut would): the
    /// nodes' pools and listeners must reconnect. Returns how many sessions were ended.
    pub async fn disconnect_all(&self) -> Result<u64, sqlx::Error> {
        let mut conn = PgConnection::connect_with(&self.admin).await?;
        let ended: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = $1 AND pid <> pg_backend_pid()) t",
        )
        .bind(&self.name)
        .fetch_one(&mut conn)
        .await?;
        conn.close().await?;
        Ok(ended.max(0) as u64)
    }

    async fn drop_database(admin: PgConnectOptions, name: String) -> Result<(), sqlx::Error> {
        let mut conn = PgConnection::connect_with(&admin).await?;
        sqlx::raw_sql(AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut conn)
        .await?;
        conn.close().await
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let admin = (*self.admin).clone();
        let name = std::mem::take(&mut self.name);
        // Drop runs inside the test's runtime, which cannot be blocked on: a thread of its own runs
        // the statement on a runtime of its own.
        let outcome = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(sqlx::Error::Io)?;
            rt.block_on(Self::drop_database(admin, name))
        })
        .join();
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "could not drop a test database"),
            Err(_) => tracing::warn!("could not drop a test database: the dropping thread failed"),
        }
    }
}
