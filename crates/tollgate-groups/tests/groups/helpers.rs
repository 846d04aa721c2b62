//! A fresh database per backend, tollgate's services over it and the groups service beside them
//! (`Env`), and `on_both_backends!`, which runs a test once per backend.

use std::sync::Arc;

use tempfile::TempDir;
use tollgate_core::admin::Admin;
use tollgate_core::catalog::ScopeCatalog;
use tollgate_core::clock::ManualClock;
use tollgate_core::directory::Directory;
use tollgate_core::ids::CompanyId;
use tollgate_core::model::Company;
use tollgate_core::secret::SecretHasher;
use tollgate_core::store::Store;
use tollgate_groups::{Group, GroupId, GroupStore, Groups, NewGroup};
use tollgate_proto::ScopeSet;
use tollgate_store::testing::TestDatabase;

pub const T0: i64 = 1_700_000_000;

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

pub struct Env {
    pub url: String,
    pub store: Arc<dyn Store>,
    pub group_store: Arc<dyn GroupStore>,
    pub clock: Arc<ManualClock>,
    pub admin: Admin,
    pub groups: Groups,
    /// Follows the change feed for `groups` (synced by hand where a test writes around the service).
    pub directory: Arc<Directory>,
    // Last, so the file or database outlives the pools.
    pub _db: Db,
}

pub async fn env(backend: Backend) -> Env {
    let (url, db) = match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("tempdir");
            let url = format!("sqlite://{}", dir.path().join("tollgate.db").display());
            (url, Db::Sqlite(dir))
        }
        Backend::Postgres => {
            let db = TestDatabase::create()
                .await
                .expect("create a PostgreSQL test database (is PostgreSQL running?)");
            (db.url().to_owned(), Db::Postgres(db))
        }
    };
    let store = tollgate_store::open(&url).await.expect("open store");
    let clock = Arc::new(ManualClock::new(T0));
    let hasher = SecretHasher::new(&store.server_key().await.expect("server key"));
    let admin = Admin::new(
        store.clone(),
        Arc::new(ScopeCatalog::default()),
        hasher,
        clock.clone(),
    );
    let directory = Arc::new(Directory::new());
    directory.sync(&*store, T0).await.expect("directory");
    let (group_store, groups) = groups_over(&url, &clock, &directory).await;
    Env {
        url,
        store,
        group_store,
        clock,
        admin,
        groups,
        directory,
        _db: db,
    }
}

/// A groups service on the database of `url`, following the feed through `directory` (another
/// node, when `directory` is another node's).
pub async fn groups_over(
    url: &str,
    clock: &Arc<ManualClock>,
    directory: &Directory,
) -> (Arc<dyn GroupStore>, Groups) {
    let group_store = tollgate_groups::store::open(url)
        .await
        .expect("groups pool");
    let groups = Groups::new(group_store.clone(), clock.clone(), directory);
    (group_store, groups)
}

impl Env {
    pub async fn company(&self, scopes: &str, max: Option<u32>) -> Company {
        let scopes: ScopeSet = scopes.parse().expect("scopes");
        self.admin
            .create_company("Acme", Some(scopes), max)
            .await
            .expect("create company")
    }

    pub async fn root(&self, company: &CompanyId) -> Group {
        root_of(&self.groups, company).await
    }

    pub async fn group(&self, company: &CompanyId, parent: &GroupId, name: &str) -> Group {
        self.groups
            .create(company, new_group(name, *parent))
            .await
            .expect("create group")
    }
}

/// The one root group of `company`, as `groups` lists it.
pub async fn root_of(groups: &Groups, company: &CompanyId) -> Group {
    let page = groups.list(company, None).await.expect("list groups");
    let roots: Vec<Group> = page
        .groups
        .iter()
        .filter(|g| g.parent_id.is_none())
        .cloned()
        .collect();
    assert_eq!(roots.len(), 1, "exactly one root group");
    roots.into_iter().next().expect("root")
}

pub fn new_group(name: &str, parent: GroupId) -> NewGroup {
    NewGroup {
        name: name.into(),
        public: false,
        custom: None,
        parent_id: parent,
        extra: serde_json::Map::new(),
    }
}

/// Generates `sqlite::NAME` and `postgres::NAME` for each `NAME(b: Backend)` of the module.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Postgres).await
                }
            )*
        }
    };
}
