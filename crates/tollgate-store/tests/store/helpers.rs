//! What every store test shares: a fresh database per backend, the services over it
//! (`Env`), small builders, and `on_both_backends!`, which runs a test once per backend.

use std::sync::Arc;

use tempfile::TempDir;
use tollgate_core::admin::{Admin, CreatedCredential};
use tollgate_core::authority::{Authority, TokenSettings};
use tollgate_core::catalog::ScopeCatalog;
use tollgate_core::clock::ManualClock;
use tollgate_core::ids::{ClientId, CompanyId};
use tollgate_core::model::{ChangeKind, Company};
use tollgate_core::secret::SecretHasher;
use tollgate_core::store::Store;
use tollgate_proto::ScopeSet;
use tollgate_store::testing::TestDatabase;

pub const T0: i64 = 1_700_000_000;
pub const TTL: u32 = 3600;

pub fn ss(s: &str) -> ScopeSet {
    s.parse().expect("valid scope list")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Where a test's data lives; dropping it removes the file or the database.
#[allow(dead_code)] // held for its `Drop`
pub enum Db {
    Sqlite(TempDir),
    Postgres(TestDatabase),
}

/// A fresh, empty database of `backend` and its URL.
pub async fn fresh_db(backend: Backend) -> (String, Db) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("tempdir");
            (sqlite_url(&dir), Db::Sqlite(dir))
        }
        Backend::Postgres => {
            let db = TestDatabase::create()
                .await
                .expect("create a PostgreSQL test database (is PostgreSQL running?)");
            (db.url().to_owned(), Db::Postgres(db))
        }
    }
}

pub struct Env {
    pub url: String,
    pub store: Arc<dyn Store>,
    pub clock: Arc<ManualClock>,
    pub hasher: SecretHasher,
    pub admin: Admin,
    // Last, so the file or database outlives the pool.
    pub _db: Db,
}

pub fn sqlite_url(dir: &TempDir) -> String {
    format!("sqlite://{}", dir.path().join("tollgate.db").display())
}

pub async fn env(backend: Backend) -> Env {
    env_with(backend, tollgate_core::kek::KeyWrap::none()).await
}

/// As [`env`], the store sealing its keys under `wrap`.
pub async fn env_with(backend: Backend, wrap: tollgate_core::kek::KeyWrap) -> Env {
    let (url, db) = fresh_db(backend).await;
    let store = tollgate_store::open_with(&url, wrap)
        .await
        .expect("open store");
    let clock = Arc::new(ManualClock::new(T0));
    let hasher = SecretHasher::new(&store.server_key().await.expect("server key"));
    let admin = admin_over(store.clone(), &clock).await;
    Env {
        url,
        store,
        clock,
        hasher,
        admin,
        _db: db,
    }
}

pub async fn admin_over(store: Arc<dyn Store>, clock: &Arc<ManualClock>) -> Admin {
    let hasher = SecretHasher::new(&store.server_key().await.expect("server key"));
    Admin::new(
        store,
        Arc::new(ScopeCatalog::default()),
        hasher,
        clock.clone(),
    )
}

pub fn settings() -> TokenSettings {
    TokenSettings {
        issuer: "https://tollgate.test".into(),
        audience: "https://api.tollgate.test".into(),
        ttl: TTL,
        // EdDSA, as these tests were written for (the default of new installations is ES256).
        signing_alg: Some(tollgate_proto::SigningAlg::EdDSA),
        reuse: true,
        format: tollgate_core::authority::TokenFormat::Jwt,
    }
}

impl Env {
    /// A second handle on the same file: another process (the CLI, another node).
    pub async fn reopen(&self) -> Arc<dyn Store> {
        tollgate_store::open(&self.url).await.expect("reopen store")
    }

    /// As [`Env::reopen`], with the keys sealed under `wrap`.
    pub async fn reopen_with(&self, wrap: tollgate_core::kek::KeyWrap) -> Arc<dyn Store> {
        tollgate_store::open_with(&self.url, wrap)
            .await
            .expect("reopen store")
    }

    pub async fn authority(&self) -> Authority {
        Authority::load(
            &*self.store,
            self.hasher.clone(),
            self.clock.clone(),
            settings(),
        )
        .await
        .expect("load authority")
    }

    pub async fn company(&self, scopes: &str, max: Option<u32>) -> Company {
        self.admin
            .create_company("Acme", Some(ss(scopes)), max)
            .await
            .expect("create company")
    }

    pub async fn credential(&self, company: &CompanyId, scopes: &str) -> CreatedCredential {
        self.admin
            .create_credential(company, "HR Integration - Payroll System", ss(scopes))
            .await
            .expect("create credential")
    }
}

pub fn unknown_client() -> ClientId {
    ClientId::parse("0123456789abcdef0123456789abcdef").expect("client id")
}

pub fn has(changes: &[tollgate_core::model::Change], kind: ChangeKind, key: &str) -> bool {
    changes.iter().any(|c| c.kind == kind && c.key == key)
}

/// Generates `sqlite::NAME` and `postgres::NAME` for each `NAME(b: Backend)` above (`NAME
/// multi_thread` for a multi-threaded runtime). A test function left out of the list is dead code,
/// which the lints refuse.
macro_rules! on_both_backends {
    (@one $backend:ident $name:ident) => {
        #[tokio::test]
        async fn $name() {
            super::$name($crate::helpers::Backend::$backend).await
        }
    };
    (@one $backend:ident $name:ident multi_thread) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $name() {
            super::$name($crate::helpers::Backend::$backend).await
        }
    };
    ($($name:ident $($mt:ident)?),* $(,)?) => {
        mod sqlite {
            $(on_both_backends!(@one Sqlite $name $($mt)?);)*
        }
        mod postgres {
            $(on_both_backends!(@one Postgres $name $($mt)?);)*
        }
    };
}
