//! Black-box tests of the SQLite store and of the domain services over it (`Admin`, `Groups`,
//! `Directory`/`Authority`). Every test opens a real SQLite file in its own temporary directory and
//! moves time with a `ManualClock`.

// Test helpers outside `#[test]` functions may fail loudly too.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashSet;
use std::sync::Arc;

use tempfile::TempDir;
use tollgate_core::admin::{
    Admin, AdminError, CompanyChanges, CreatedCredential, CredentialChanges, MAX_GRACE_SECS,
};
use tollgate_core::authority::{
    Authority, ClientAuthFailure, IssueError, TokenRejection, TokenSettings,
};
use tollgate_core::catalog::{CREDENTIALS_MANAGE, ScopeCatalog};
use tollgate_core::clock::{Clock, ManualClock};
use tollgate_core::groups::{GroupError, GroupPatch, Groups, NewGroup, PAGE_SIZE};
use tollgate_core::ids::{ClientId, CompanyId, GroupId};
use tollgate_core::model::{ChangeKind, Company, DEFAULT_MAX_CREDENTIALS, Group};
use tollgate_core::secret::SecretHasher;
use tollgate_core::store::Store;
use tollgate_proto::ScopeSet;

const T0: i64 = 1_700_000_000;
const TTL: u32 = 3600;

fn ss(s: &str) -> ScopeSet {
    s.parse().expect("valid scope list")
}

struct Env {
    url: String,
    store: Arc<dyn Store>,
    clock: Arc<ManualClock>,
    hasher: SecretHasher,
    admin: Admin,
    groups: Groups,
    // Last, so the directory outlives the pool.
    _dir: TempDir,
}

fn sqlite_url(dir: &TempDir) -> String {
    format!("sqlite://{}", dir.path().join("tollgate.db").display())
}

async fn env() -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = sqlite_url(&dir);
    let store = tollgate_store::open(&url).await.expect("open store");
    let clock = Arc::new(ManualClock::new(T0));
    let hasher = SecretHasher::new(&store.server_key().await.expect("server key"));
    let admin = admin_over(store.clone(), &clock).await;
    let groups = Groups::new(store.clone(), clock.clone());
    Env {
        url,
        store,
        clock,
        hasher,
        admin,
        groups,
        _dir: dir,
    }
}

async fn admin_over(store: Arc<dyn Store>, clock: &Arc<ManualClock>) -> Admin {
    let hasher = SecretHasher::new(&store.server_key().await.expect("server key"));
    Admin::new(
        store,
        Arc::new(ScopeCatalog::default()),
        hasher,
        clock.clone(),
    )
}

fn settings() -> TokenSettings {
    TokenSettings {
        issuer: "https://tollgate.test".into(),
        audience: "https://api.tollgate.test".into(),
        ttl: TTL,
        signing_alg: Default::default(),
    }
}

impl Env {
    /// A second handle on the same file: another process (the CLI, another node).
    async fn reopen(&self) -> Arc<dyn Store> {
        tollgate_store::open(&self.url).await.expect("reopen store")
    }

    async fn authority(&self) -> Authority {
        Authority::load(
            &*self.store,
            self.hasher.clone(),
            self.clock.clone(),
            settings(),
        )
        .await
        .expect("load authority")
    }

    async fn company(&self, scopes: &str, max: Option<u32>) -> Company {
        self.admin
            .create_company("Acme", Some(ss(scopes)), max)
            .await
            .expect("create company")
    }

    async fn credential(&self, company: &CompanyId, scopes: &str) -> CreatedCredential {
        self.admin
            .create_credential(company, "HR Integration - Payroll System", ss(scopes))
            .await
            .expect("create credential")
    }

    async fn root(&self, company: &CompanyId) -> Group {
        let page = self.groups.list(company, None).await.expect("list groups");
        let roots: Vec<Group> = page
            .groups
            .into_iter()
            .filter(|g| g.parent_id.is_none())
            .collect();
        assert_eq!(roots.len(), 1, "exactly one root group");
        roots.into_iter().next().expect("root")
    }

    async fn group(&self, company: &CompanyId, parent: &GroupId, name: &str) -> Group {
        self.groups
            .create(company, new_group(name, *parent))
            .await
            .expect("create group")
    }
}

fn new_group(name: &str, parent: GroupId) -> NewGroup {
    NewGroup {
        name: name.into(),
        public: false,
        custom: None,
        parent_id: parent,
        extra: serde_json::Map::new(),
    }
}

fn unknown_client() -> ClientId {
    ClientId::parse("0123456789abcdef0123456789abcdef").expect("client id")
}

// ---------------------------------------------------------------------------------------------
// Opening and migrations
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn migrations_are_idempotent_and_server_key_is_stable() {
    let e = env().await;
    let k1 = e.store.server_key().await.unwrap();
    assert!(k1.len() >= 32, "server key has {} bytes", k1.len());
    assert!(k1.iter().any(|b| *b != 0), "server key is not all zeros");
    assert_eq!(e.store.server_key().await.unwrap(), k1);
    let company = e.company("groups:read", None).await;

    // A second handle while the first is open: migrating again is a no-op.
    let second = e.reopen().await;
    second.ping().await.unwrap();
    assert_eq!(second.server_key().await.unwrap(), k1);
    assert_eq!(
        second.get_company(&company.id).await.unwrap(),
        Some(company.clone())
    );
    drop(second);

    // Close everything and open the file again.
    let Env {
        url,
        store,
        admin,
        groups,
        _dir,
        ..
    } = e;
    drop((store, admin, groups));
    let third = tollgate_store::open(&url).await.unwrap();
    assert_eq!(third.server_key().await.unwrap(), k1);
    assert_eq!(third.list_companies().await.unwrap(), vec![company]);
}

#[tokio::test]
async fn server_keys_differ_between_databases() {
    let a = env().await;
    let b = env().await;
    assert_ne!(
        a.store.server_key().await.unwrap(),
        b.store.server_key().await.unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_open_of_a_fresh_file_succeeds() {
    // `SqliteStore::open` promises to be safe "when several processes start at once".
    // The race is timing-dependent: several rounds make a lost race all but certain to show.
    for round in 0..10 {
        let dir = tempfile::tempdir().unwrap();
        let url = sqlite_url(&dir);
        let tasks: Vec<_> = (0..6)
            .map(|_| {
                let url = url.clone();
                tokio::spawn(async move { tollgate_store::open(&url).await.map(|_| ()) })
            })
            .collect();
        for t in tasks {
            let r = t.await.unwrap();
            assert!(r.is_ok(), "round {round}: concurrent open failed: {r:?}");
        }
    }
}

#[tokio::test]
async fn open_rejects_other_urls_without_echoing_credentials() {
    let err = tollgate_store::open("postgres://user:hunter2@db.example/tollgate")
        .await
        .unwrap_err();
    assert!(matches!(err, tollgate_store::OpenError::UnsupportedUrl(_)));
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Companies
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn company_create_list_and_update() {
    let e = env().await;
    let a = e
        .admin
        .create_company("  Acme Corp  ", None, None)
        .await
        .unwrap();
    assert_eq!(a.name, "Acme Corp", "name is trimmed");
    assert_eq!(a.scopes, ScopeCatalog::default().all_unreserved());
    assert!(!a.scopes.contains_str(CREDENTIALS_MANAGE));
    assert_eq!(a.max_credentials, DEFAULT_MAX_CREDENTIALS);
    assert_eq!((a.created_at, a.updated_at), (T0, T0));
    assert_eq!(e.admin.company(&a.id).await.unwrap(), a);

    // The root group exists, named after the company, private, without parent.
    let root = e.root(&a.id).await;
    assert_eq!(root.parent_id, None);
    assert_eq!(root.company_id, a.id);
    assert_eq!(root.name, "Acme Corp");
    assert!(!root.public);

    e.clock.advance(10);
    let b = e
        .admin
        .create_company("Globex", Some(ss("groups:read users:read")), Some(3))
        .await
        .unwrap();
    assert_eq!(b.max_credentials, 3);
    assert_eq!(b.scopes, ss("groups:read users:read"));
    let listed = e.admin.companies().await.unwrap();
    assert_eq!(listed, vec![a.clone(), b.clone()], "oldest first");

    e.clock.advance(10);
    let updated = e
        .admin
        .update_company(
            &a.id,
            CompanyChanges {
                name: Some("Acme Inc".into()),
                scopes: Some(ss("groups:read")),
                max_credentials: Some(2),
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.name, "Acme Inc");
    assert_eq!(updated.scopes, ss("groups:read"));
    assert_eq!(updated.max_credentials, 2);
    assert_eq!(updated.created_at, T0);
    assert_eq!(updated.updated_at, T0 + 20);
    assert_eq!(e.admin.company(&a.id).await.unwrap(), updated);

    // Fields left as None are kept.
    let renamed = e
        .admin
        .update_company(
            &a.id,
            CompanyChanges {
                name: Some("Acme SE".into()),
                ..CompanyChanges::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(renamed.scopes, ss("groups:read"));
    assert_eq!(renamed.max_credentials, 2);
    assert_eq!(e.store.get_company(&a.id).await.unwrap(), Some(renamed));
    // The other company is untouched.
    assert_eq!(e.admin.company(&b.id).await.unwrap(), b);
}

#[tokio::test]
async fn company_inputs_are_validated() {
    let e = env().await;
    for bad in ["", "   ", "a\u{7}b"] {
        let r = e.admin.create_company(bad, None, None).await;
        assert!(matches!(r, Err(AdminError::Invalid(_))), "{bad:?}: {r:?}");
    }
    let ok_len = "é".repeat(200);
    e.admin
        .create_company(&ok_len, None, None)
        .await
        .expect("200 characters are allowed");
    let r = e.admin.create_company(&"x".repeat(201), None, None).await;
    assert!(matches!(r, Err(AdminError::Invalid(_))), "{r:?}");

    let r = e
        .admin
        .create_company("Acme", Some(ss("groups:read nope:read")), None)
        .await;
    match r {
        Err(AdminError::UnknownScopes(u)) => assert_eq!(u.0, ss("nope:read")),
        other => panic!("expected UnknownScopes, got {other:?}"),
    }
    for max in [0, 10_001] {
        let r = e.admin.create_company("Acme", None, Some(max)).await;
        assert!(matches!(r, Err(AdminError::Invalid(_))), "{max}: {r:?}");
    }
    // Only the valid company was stored.
    assert_eq!(e.admin.companies().await.unwrap().len(), 1);

    let c = e.company("groups:read", None).await;
    let r = e
        .admin
        .update_company(
            &c.id,
            CompanyChanges {
                scopes: Some(ss("nope:write")),
                ..CompanyChanges::default()
            },
        )
        .await;
    assert!(matches!(r, Err(AdminError::UnknownScopes(_))), "{r:?}");
    let r = e
        .admin
        .update_company(
            &c.id,
            CompanyChanges {
                name: Some(" ".into()),
                ..CompanyChanges::default()
            },
        )
        .await;
    assert!(matches!(r, Err(AdminError::Invalid(_))), "{r:?}");
    let r = e
        .admin
        .update_company(
            &c.id,
            CompanyChanges {
                max_credentials: Some(0),
                ..CompanyChanges::default()
            },
        )
        .await;
    assert!(matches!(r, Err(AdminError::Invalid(_))), "{r:?}");
    assert_eq!(e.admin.company(&c.id).await.unwrap(), c, "nothing changed");

    let missing = CompanyId::generate(T0).unwrap();
    assert!(matches!(
        e.admin.company(&missing).await,
        Err(AdminError::CompanyNotFound)
    ));
    assert!(matches!(
        e.admin
            .update_company(&missing, CompanyChanges::default())
            .await,
        Err(AdminError::CompanyNotFound)
    ));
    assert!(matches!(
        e.admin.credentials(&missing).await,
        Err(AdminError::CompanyNotFound)
    ));
    assert!(matches!(
        e.admin
            .create_credential(&missing, "x", ss("groups:read"))
            .await,
        Err(AdminError::CompanyNotFound)
    ));
}

// ---------------------------------------------------------------------------------------------
// Credentials
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn credential_create_get_list_update() {
    let e = env().await;
    let c = e.company("groups:read groups:write users:read", None).await;
    let created = e.credential(&c.id, "groups:read").await;
    let cred = &created.credential;
    assert!(created.secret.expose().starts_with("tgsec_"));
    assert_eq!(cred.company_id, c.id);
    assert_eq!(cred.label, "HR Integration - Payroll System");
    assert_eq!(cred.scopes, ss("groups:read"));
    assert_eq!(cred.secrets.len(), 1);
    assert_eq!(cred.secrets[0].hash, e.hasher.hash(created.secret.expose()));
    assert_eq!(cred.secrets[0].expires_at, None);
    assert_eq!(cred.last_used_at, None);
    assert_eq!(&e.admin.credential(&cred.client_id).await.unwrap(), cred);
    // The clear secret is not what is stored.
    assert_ne!(
        cred.secrets[0].hash.0.as_slice(),
        created.secret.expose().as_bytes()
    );

    e.clock.advance(5);
    let second = e.credential(&c.id, "users:read").await;
    assert_ne!(second.credential.client_id, cred.client_id);
    assert_ne!(second.secret.expose(), created.secret.expose());
    let listed = e.admin.credentials(&c.id).await.unwrap();
    assert_eq!(
        listed,
        vec![cred.clone(), second.credential.clone()],
        "oldest first"
    );
    assert_eq!(e.store.list_all_credentials().await.unwrap().len(), 2);

    e.clock.advance(5);
    let updated = e
        .admin
        .update_credential(
            &cred.client_id,
            CredentialChanges {
                label: Some("Payroll v2".into()),
                scopes: Some(ss("groups:read groups:write")),
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.label, "Payroll v2");
    assert_eq!(updated.scopes, ss("groups:read groups:write"));
    assert_eq!(updated.updated_at, T0 + 10);
    assert_eq!(updated.created_at, T0);
    assert_eq!(e.admin.credential(&cred.client_id).await.unwrap(), updated);

    let r = e
        .admin
        .update_credential(
            &cred.client_id,
            CredentialChanges {
                label: Some(String::new()),
                scopes: None,
            },
        )
        .await;
    assert!(matches!(r, Err(AdminError::Invalid(_))), "{r:?}");
    let r = e
        .admin
        .create_credential(&c.id, &"l".repeat(201), ss("groups:read"))
        .await;
    assert!(matches!(r, Err(AdminError::Invalid(_))), "{r:?}");

    e.admin.delete_credential(&cred.client_id).await.unwrap();
    assert!(matches!(
        e.admin.credential(&cred.client_id).await,
        Err(AdminError::CredentialNotFound)
    ));
    assert_eq!(
        e.admin.credentials(&c.id).await.unwrap(),
        vec![second.credential]
    );
    assert!(matches!(
        e.admin.delete_credential(&cred.client_id).await,
        Err(AdminError::CredentialNotFound)
    ));
}

#[tokio::test]
async fn credential_scopes_must_exist_and_lie_within_the_ceiling() {
    let e = env().await;
    let c = e.company("groups:read groups:write", None).await;
    match e
        .admin
        .create_credential(&c.id, "x", ss("groups:read users:read"))
        .await
    {
        Err(AdminError::OutsideCeiling(s)) => assert_eq!(s, ss("users:read")),
        other => panic!("expected OutsideCeiling, got {other:?}"),
    }
    match e
        .admin
        .create_credential(&c.id, "x", ss("groups:read nope:read"))
        .await
    {
        Err(AdminError::UnknownScopes(u)) => assert_eq!(u.0, ss("nope:read")),
        other => panic!("expected UnknownScopes, got {other:?}"),
    }
    // The reserved scope is outside a default ceiling.
    let d = e.admin.create_company("Default", None, None).await.unwrap();
    let r = e
        .admin
        .create_credential(&d.id, "x", ss(CREDENTIALS_MANAGE))
        .await;
    assert!(matches!(r, Err(AdminError::OutsideCeiling(_))), "{r:?}");
    assert!(e.admin.credentials(&c.id).await.unwrap().is_empty());

    let ok = e.credential(&c.id, "groups:read").await;
    let r = e
        .admin
        .update_credential(
            &ok.credential.client_id,
            CredentialChanges {
                label: None,
                scopes: Some(ss("groups:write users:write")),
            },
        )
        .await;
    match r {
        Err(AdminError::OutsideCeiling(s)) => assert_eq!(s, ss("users:write")),
        other => panic!("expected OutsideCeiling, got {other:?}"),
    }
    let r = e
        .admin
        .update_credential(
            &ok.credential.client_id,
            CredentialChanges {
                label: None,
                scopes: Some(ss("nope:write")),
            },
        )
        .await;
    assert!(matches!(r, Err(AdminError::UnknownScopes(_))), "{r:?}");
    assert_eq!(
        e.admin
            .credential(&ok.credential.client_id)
            .await
            .unwrap()
            .scopes,
        ss("groups:read"),
        "refused updates change nothing"
    );
}

#[tokio::test]
async fn eleventh_credential_hits_the_default_limit() {
    let e = env().await;
    let c = e.company("groups:read", None).await;
    assert_eq!(c.max_credentials, 10);
    let mut ids = Vec::new();
    for _ in 0..10 {
        ids.push(
            e.credential(&c.id, "groups:read")
                .await
                .credential
                .client_id,
        );
    }
    let r = e
        .admin
        .create_credential(&c.id, "eleventh", ss("groups:read"))
        .await;
    assert!(
        matches!(r, Err(AdminError::CredentialLimit { max: 10 })),
        "{r:?}"
    );
    assert_eq!(e.admin.credentials(&c.id).await.unwrap().len(), 10);

    // Another company is not affected.
    let other = e.company("groups:read", None).await;
    e.credential(&other.id, "groups:read").await;

    // Deleting one frees a place.
    e.admin.delete_credential(&ids[0]).await.unwrap();
    e.credential(&c.id, "groups:read").await;
    let r = e
        .admin
        .create_credential(&c.id, "again", ss("groups:read"))
        .await;
    assert!(
        matches!(r, Err(AdminError::CredentialLimit { max: 10 })),
        "{r:?}"
    );
}

#[tokio::test]
async fn limit_set_by_update_company_is_enforced() {
    let e = env().await;
    let c = e.company("groups:read", None).await;
    e.admin
        .update_company(
            &c.id,
            CompanyChanges {
                max_credentials: Some(2),
                ..CompanyChanges::default()
            },
        )
        .await
        .unwrap();
    e.credential(&c.id, "groups:read").await;
    e.credential(&c.id, "groups:read").await;
    let r = e
        .admin
        .create_credential(&c.id, "third", ss("groups:read"))
        .await;
    assert!(
        matches!(r, Err(AdminError::CredentialLimit { max: 2 })),
        "{r:?}"
    );
    // Raising it again lets one more in.
    e.admin
        .update_company(
            &c.id,
            CompanyChanges {
                max_credentials: Some(3),
                ..CompanyChanges::default()
            },
        )
        .await
        .unwrap();
    e.credential(&c.id, "groups:read").await;
    let r = e
        .admin
        .create_credential(&c.id, "fourth", ss("groups:read"))
        .await;
    assert!(
        matches!(r, Err(AdminError::CredentialLimit { max: 3 })),
        "{r:?}"
    );
    assert_eq!(e.store.list_credentials(&c.id).await.unwrap().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creation_never_exceeds_the_limit() {
    let e = env().await;
    let c = e.company("groups:read", Some(5)).await;
    // Two handles on the file, as two processes would have.
    let other = admin_over(e.reopen().await, &e.clock).await;
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let admin = if i % 2 == 0 {
                e.admin.clone()
            } else {
                other.clone()
            };
            let id = c.id;
            tokio::spawn(async move {
                admin
                    .create_credential(&id, &format!("cred {i}"), ss("groups:read"))
                    .await
            })
        })
        .collect();
    let (mut ok, mut full) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(AdminError::CredentialLimit { max: 5 }) => full += 1,
            Err(other) => panic!("unexpected error: {other:?}"),
        }
    }
    assert_eq!((ok, full), (5, 15));
    assert_eq!(e.store.list_credentials(&c.id).await.unwrap().len(), 5);
}

#[tokio::test]
async fn rotate_without_grace_removes_the_old_secret() {
    let e = env().await;
    let c = e.company("groups:read", None).await;
    let created = e.credential(&c.id, "groups:read").await;
    let id = created.credential.client_id.clone();
    let old = created.credential.secrets[0].clone();

    e.clock.advance(30);
    let rotated = e.admin.rotate_secret(&id, 0).await.unwrap();
    assert_ne!(rotated.secret.expose(), created.secret.expose());
    let secrets = &rotated.credential.secrets;
    assert_eq!(secrets.len(), 1, "{secrets:?}");
    assert_ne!(secrets[0].id, old.id);
    assert_eq!(secrets[0].hash, e.hasher.hash(rotated.secret.expose()));
    assert_eq!(secrets[0].created_at, T0 + 30);
    assert_eq!(secrets[0].expires_at, None);
    assert_eq!(rotated.credential.updated_at, T0 + 30);
    assert_eq!(
        e.store.get_credential(&id).await.unwrap().unwrap().secrets,
        *secrets
    );
}

#[tokio::test]
async fn rotate_with_grace_keeps_both_secrets_until_it_ends() {
    let e = env().await;
    let c = e.company("groups:read", None).await;
    let created = e.credential(&c.id, "groups:read").await;
    let id = created.credential.client_id.clone();
    let old_id = created.credential.secrets[0].id.clone();

    let rotated = e.admin.rotate_secret(&id, 60).await.unwrap();
    let secrets = e.store.get_credential(&id).await.unwrap().unwrap().secrets;
    assert_eq!(secrets.len(), 2, "{secrets:?}");
    let old = secrets
        .iter()
        .find(|s| s.id == old_id)
        .expect("old secret kept");
    let new = secrets.iter().find(|s| s.id != old_id).expect("new secret");
    assert_eq!(new.hash, e.hasher.hash(rotated.secret.expose()));
    assert_eq!(old.expires_at, Some(T0 + 60));
    assert_eq!(new.expires_at, None);
    let now = e.clock.now();
    assert!(old.is_live(now) && new.is_live(now));
    assert!(old.is_live(now + 59));

    e.clock.advance(61);
    let now = e.clock.now();
    let secrets = e.store.get_credential(&id).await.unwrap().unwrap().secrets;
    let old = secrets.iter().find(|s| s.id == old_id);
    assert!(old.is_none_or(|s| !s.is_live(now)), "{old:?}");
    let new = secrets.iter().find(|s| s.id != old_id).unwrap();
    assert!(new.is_live(now));
}

#[tokio::test]
async fn a_second_rotation_never_extends_an_earlier_grace() {
    let e = env().await;
    let c = e.company("groups:read", None).await;
    let created = e.credential(&c.id, "groups:read").await;
    let id = created.credential.client_id.clone();
    let first_id = created.credential.secrets[0].id.clone();

    e.admin.rotate_secret(&id, 60).await.unwrap();
    e.clock.advance(10);
    let second = e.admin.rotate_secret(&id, 3600).await.unwrap();
    let secrets = second.credential.secrets;
    assert_eq!(secrets.len(), 3, "{secrets:?}");
    let first = secrets.iter().find(|s| s.id == first_id).unwrap();
    assert_eq!(first.expires_at, Some(T0 + 60), "grace is not extended");
    let live_at_70 = secrets.iter().filter(|s| s.is_live(T0 + 70)).count();
    assert_eq!(live_at_70, 2);

    // A rotation after the first grace ended drops the expired secret.
    e.clock.advance(100);
    let third = e.admin.rotate_secret(&id, 0).await.unwrap();
    assert_eq!(third.credential.secrets.len(), 1);
    assert!(third.credential.secrets.iter().all(|s| s.id != first_id));
}

#[tokio::test]
async fn operations_on_unknown_credentials_are_not_found() {
    let e = env().await;
    let c = e.company("groups:read", None).await;
    e.credential(&c.id, "groups:read").await;
    let missing = unknown_client();
    assert!(matches!(
        e.admin.rotate_secret(&missing, 0).await,
        Err(AdminError::CredentialNotFound)
    ));
    assert!(matches!(
        e.admin.rotate_secret(&missing, 60).await,
        Err(AdminError::CredentialNotFound)
    ));
    assert!(matches!(
        e.admin
            .update_credential(
                &missing,
                CredentialChanges {
                    label: Some("x".into()),
                    scopes: None
                }
            )
            .await,
        Err(AdminError::CredentialNotFound)
    ));
    assert!(matches!(
        e.admin.delete_credential(&missing).await,
        Err(AdminError::CredentialNotFound)
    ));
    assert!(matches!(
        e.admin.credential(&missing).await,
        Err(AdminError::CredentialNotFound)
    ));
    // Grace outside 0..=30 days is refused before anything else.
    for grace in [-1, MAX_GRACE_SECS + 1] {
        let r = e.admin.rotate_secret(&missing, grace).await;
        assert!(matches!(r, Err(AdminError::Invalid(_))), "{grace}: {r:?}");
    }
    assert_eq!(e.store.list_all_credentials().await.unwrap().len(), 1);
}

#[tokio::test]
async fn last_used_is_recorded_as_the_latest_time() {
    let e = env().await;
    let c = e.company("groups:read", None).await;
    let id = e
        .credential(&c.id, "groups:read")
        .await
        .credential
        .client_id;
    let seq = e.store.last_change_seq().await.unwrap();
    e.store.record_last_used(&[]).await.unwrap();
    e.store
        .record_last_used(&[(id.clone(), T0 + 50)])
        .await
        .unwrap();
    e.store
        .record_last_used(&[(id.clone(), T0 + 20), (unknown_client(), T0)])
        .await
        .unwrap();
    let cred = e.store.get_credential(&id).await.unwrap().unwrap();
    assert_eq!(cred.last_used_at, Some(T0 + 50));
    // Last-used times are not a change the hot path needs to replay.
    assert_eq!(e.store.last_change_seq().await.unwrap(), seq);
}

// ---------------------------------------------------------------------------------------------
// Change feed
// ---------------------------------------------------------------------------------------------

fn has(changes: &[tollgate_core::model::Change], kind: ChangeKind, key: &str) -> bool {
    changes.iter().any(|c| c.kind == kind && c.key == key)
}

#[tokio::test]
async fn change_feed_records_every_write() {
    let e = env().await;
    let s0 = e.store.last_change_seq().await.unwrap();
    assert_eq!(s0, 0, "a fresh database has no changes");
    assert_eq!(e.store.changes_since(0, 100).await.unwrap(), Some(vec![]));

    let c = e.company("groups:read groups:write", None).await;
    let s1 = e.store.last_change_seq().await.unwrap();
    assert!(s1 > s0);
    let ch = e.store.changes_since(s0, 100).await.unwrap().unwrap();
    assert!(has(&ch, ChangeKind::Company, &c.id.to_string()), "{ch:?}");

    let cred = e.credential(&c.id, "groups:read").await.credential;
    let key = cred.client_id.as_str();
    let s2 = e.store.last_change_seq().await.unwrap();
    assert!(s2 > s1);
    let ch = e.store.changes_since(s1, 100).await.unwrap().unwrap();
    assert!(has(&ch, ChangeKind::Credential, key), "{ch:?}");
    assert!(ch.iter().all(|c| c.seq > s1 && c.seq <= s2));
    assert!(ch.windows(2).all(|w| w[0].seq < w[1].seq), "oldest first");

    e.admin
        .update_company(
            &c.id,
            CompanyChanges {
                scopes: Some(ss("groups:read")),
                ..CompanyChanges::default()
            },
        )
        .await
        .unwrap();
    let s3 = e.store.last_change_seq().await.unwrap();
    assert!(s3 > s2);
    let ch = e.store.changes_since(s2, 100).await.unwrap().unwrap();
    assert!(has(&ch, ChangeKind::Company, &c.id.to_string()), "{ch:?}");

    e.admin
        .update_credential(
            &cred.client_id,
            CredentialChanges {
                label: Some("renamed".into()),
                scopes: None,
            },
        )
        .await
        .unwrap();
    let s4 = e.store.last_change_seq().await.unwrap();
    assert!(s4 > s3);
    assert!(has(
        &e.store.changes_since(s3, 100).await.unwrap().unwrap(),
        ChangeKind::Credential,
        key
    ));

    e.admin.rotate_secret(&cred.client_id, 0).await.unwrap();
    let s5 = e.store.last_change_seq().await.unwrap();
    assert!(s5 > s4);
    assert!(has(
        &e.store.changes_since(s4, 100).await.unwrap().unwrap(),
        ChangeKind::Credential,
        key
    ));

    // A write through another handle (another process) appears in the same feed.
    let other = admin_over(e.reopen().await, &e.clock).await;
    other.delete_credential(&cred.client_id).await.unwrap();
    let s6 = e.store.last_change_seq().await.unwrap();
    assert!(s6 > s5);
    assert!(has(
        &e.store.changes_since(s5, 100).await.unwrap().unwrap(),
        ChangeKind::Credential,
        key
    ));

    // Signing keys are in the feed too.
    let _authority = e.authority().await;
    let s7 = e.store.last_change_seq().await.unwrap();
    assert!(s7 > s6);
    let ch = e.store.changes_since(s6, 100).await.unwrap().unwrap();
    assert!(
        ch.iter().any(|c| c.kind == ChangeKind::SigningKey),
        "{ch:?}"
    );

    // `limit` is honoured and pages continue where they stopped.
    let all = e.store.changes_since(0, 10_000).await.unwrap().unwrap();
    assert_eq!(all.last().map(|c| c.seq), Some(s7));
    let first = e.store.changes_since(0, 2).await.unwrap().unwrap();
    assert_eq!(first, all[..2].to_vec());
    let next = e
        .store
        .changes_since(first[1].seq, 2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next, all[2..4].to_vec());
}

#[tokio::test]
async fn pruning_the_feed_forces_a_reload() {
    let e = env().await;
    let c = e.company("groups:read", None).await;
    e.credential(&c.id, "groups:read").await;
    let last = e.store.last_change_seq().await.unwrap();
    assert!(last > 0);

    // Keeping an hour prunes nothing written just now.
    e.store.prune_changes(3600).await.unwrap();
    let all = e.store.changes_since(0, 100).await.unwrap();
    assert!(all.is_some_and(|v| v.last().map(|c| c.seq) == Some(last)));

    // Keeping less than nothing prunes everything.
    e.store.prune_changes(-1).await.unwrap();
    assert_eq!(e.store.changes_since(0, 100).await.unwrap(), None);
    assert_eq!(e.store.changes_since(last - 1, 100).await.unwrap(), None);
    // A reader that had seen everything is not affected.
    assert_eq!(
        e.store.changes_since(last, 100).await.unwrap(),
        Some(vec![])
    );

    // New changes still get new, higher sequence numbers.
    e.credential(&c.id, "groups:read").await;
    let ch = e.store.changes_since(last, 100).await.unwrap().unwrap();
    assert!(!ch.is_empty());
    assert!(ch.iter().all(|c| c.seq > last), "{ch:?}");
    assert!(e.store.last_change_seq().await.unwrap() > last);
}

#[tokio::test]
async fn authority_started_after_a_full_prune_does_not_reload_on_every_sync() {
    let e = env().await;
    let c = e.company("groups:read", None).await;
    let created = e.credential(&c.id, "groups:read").await;
    // A first node creates the signing key; then the feed is pruned completely (a quiet period).
    drop(e.authority().await);
    e.store.prune_changes(-1).await.unwrap();

    // A node (re)started now must still be able to follow the feed incrementally.
    let authority = e.authority().await;
    authority
        .issue(
            created.credential.client_id.as_str(),
            created.secret.expose(),
            None,
        )
        .unwrap();
    let out = authority.sync(&*e.store).await.unwrap();
    assert!(
        !out.full_reload,
        "nothing changed, yet sync reloaded everything (last_change_seq = {})",
        e.store.last_change_seq().await.unwrap()
    );
}

// ---------------------------------------------------------------------------------------------
// Directory and Authority
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn issue_authenticates_the_client_and_checks_scopes() {
    let e = env().await;
    let c = e.company("groups:read groups:write users:read", None).await;
    let created = e.credential(&c.id, "groups:read groups:write").await;
    let id = created.credential.client_id.as_str();
    let authority = e.authority().await;
    assert_eq!(authority.directory().credential_count(), 1);

    let t = authority.issue(id, created.secret.expose(), None).unwrap();
    assert_eq!(t.expires_in, TTL);
    assert_eq!(t.scope, ss("groups:read groups:write"));
    assert_eq!(t.access_token.split('.').count(), 3);

    let t = authority
        .issue(id, created.secret.expose(), Some(&ss("groups:read")))
        .unwrap();
    assert_eq!(t.scope, ss("groups:read"));

    let r = authority.issue(id, "tgsec_wrong", None);
    assert!(
        matches!(
            r,
            Err(IssueError::InvalidClient(ClientAuthFailure::WrongSecret))
        ),
        "{r:?}"
    );
    let r = authority.issue(unknown_client().as_str(), created.secret.expose(), None);
    assert!(
        matches!(
            r,
            Err(IssueError::InvalidClient(ClientAuthFailure::UnknownClient))
        ),
        "{r:?}"
    );
    // Another credential's secret does not work.
    let other = e.credential(&c.id, "groups:read").await;
    authority.sync(&*e.store).await.unwrap();
    let r = authority.issue(id, other.secret.expose(), None);
    assert!(
        matches!(
            r,
            Err(IssueError::InvalidClient(ClientAuthFailure::WrongSecret))
        ),
        "{r:?}"
    );

    // In the company's ceiling but not the credential's: invalid_scope, naming what is missing.
    match authority.issue(
        id,
        created.secret.expose(),
        Some(&ss("groups:read users:read")),
    ) {
        Err(IssueError::InvalidScope(missing)) => assert_eq!(missing, ss("users:read")),
        other => panic!("expected InvalidScope, got {other:?}"),
    }
    match authority.issue(id, created.secret.expose(), Some(&ss("webhooks:read"))) {
        Err(IssueError::InvalidScope(missing)) => assert_eq!(missing, ss("webhooks:read")),
        other => panic!("expected InvalidScope, got {other:?}"),
    }

    // Issuing notes the client as used.
    let used = authority.take_last_used();
    assert!(
        used.iter().any(|(c, t)| c.as_str() == id && *t == T0),
        "{used:?}"
    );
    assert!(authority.take_last_used().is_empty());
}

#[tokio::test]
async fn credential_created_later_is_known_after_sync() {
    let e = env().await;
    let c = e.company("groups:read", None).await;
    let authority = e.authority().await;
    // Created by another process.
    let other = admin_over(e.reopen().await, &e.clock).await;
    let created = other
        .create_credential(&c.id, "late", ss("groups:read"))
        .await
        .unwrap();
    let id = created.credential.client_id.as_str();
    let r = authority.issue(id, created.secret.expose(), None);
    assert!(
        matches!(
            r,
            Err(IssueError::InvalidClient(ClientAuthFailure::UnknownClient))
        ),
        "{r:?}"
    );
    let out = authority.sync(&*e.store).await.unwrap();
    assert!(out.applied > 0 && !out.full_reload, "{out:?}");
    authority.issue(id, created.secret.expose(), None).unwrap();
}

#[tokio::test]
async fn authorize_accepts_a_fresh_token() {
    let e = env().await;
    let c = e.company("groups:read groups:write users:read", None).await;
    let created = e.credential(&c.id, "groups:read users:read").await;
    let authority = e.authority().await;
    let t = authority
        .issue(
            created.credential.client_id.as_str(),
            created.secret.expose(),
            Some(&ss("groups:read")),
        )
        .unwrap();
    let access = authority.authorize(&t.access_token).unwrap();
    assert!(access.allows("groups:read"));
    assert!(!access.allows("users:read"), "not requested");
    assert!(!access.allows("groups:write"), "not held");
    assert_eq!(access.client_id(), &created.credential.client_id);
    assert_eq!(access.company_id(), c.id);
    assert_eq!(access.effective_scopes(), ss("groups:read"));
    // Again (now from the verified-token cache).
    assert!(
        authority
            .authorize(&t.access_token)
            .unwrap()
            .allows("groups:read")
    );

    // Another authority over the same database (another node) accepts it too.
    let node2 = e.authority().await;
    assert!(
        node2
            .authorize(&t.access_token)
            .unwrap()
            .allows("groups:read")
    );
}

#[tokio::test]
async fn deleting_a_credential_in_another_process_revokes_its_tokens() {
    let e = env().await;
    let c = e.company("groups:read", None).await;
    let created = e.credential(&c.id, "groups:read").await;
    let keep = e.credential(&c.id, "groups:read").await;
    let authority = e.authority().await;
    let id = created.credential.client_id.as_str();
    let token = authority
        .issue(id, created.secret.expose(), None)
        .unwrap()
        .access_token;
    let kept = authority
        .issue(
            keep.credential.client_id.as_str(),
            keep.secret.expose(),
            None,
        )
        .unwrap()
        .access_token;
    assert!(authority.authorize(&token).unwrap().allows("groups:read"));

    // The CLI, another process, deletes the credential.
    let cli = admin_over(e.reopen().await, &e.clock).await;
    cli.delete_credential(&created.credential.client_id)
        .await
        .unwrap();

    authority.sync(&*e.store).await.unwrap();
    assert_eq!(
        authority.authorize(&token).unwrap_err(),
        TokenRejection::Revoked
    );
    let r = authority.issue(id, created.secret.expose(), None);
    assert!(
        matches!(
            r,
            Err(IssueError::InvalidClient(ClientAuthFailure::UnknownClient))
        ),
        "{r:?}"
    );
    // The other credential's token is unaffected.
    assert!(authority.authorize(&kept).unwrap().allows("groups:read"));
}

#[tokio::test]
async fn narrowing_the_company_ceiling_takes_effect_after_sync() {
    let e = env().await;
    let c = e.company("groups:read groups:write", None).await;
    let created = e.credential(&c.id, "groups:read groups:write").await;
    let authority = e.authority().await;
    let id = created.credential.client_id.as_str();
    let token = authority
        .issue(id, created.secret.expose(), None)
        .unwrap()
        .access_token;
    let a = authority.authorize(&token).unwrap();
    assert!(a.allows("groups:read") && a.allows("groups:write"));

    let cli = admin_over(e.reopen().await, &e.clock).await;
    cli.update_company(
        &c.id,
        CompanyChanges {
            scopes: Some(ss("groups:read")),
            ..CompanyChanges::default()
        },
    )
    .await
    .unwrap();
    authority.sync(&*e.store).await.unwrap();

    let a = authority.authorize(&token).unwrap();
    assert!(a.allows("groups:read"));
    assert!(!a.allows("groups:write"));
    assert_eq!(a.effective_scopes(), ss("groups:read"));
    // New tokens only get the narrowed scopes, and asking for more is refused.
    let t = authority.issue(id, created.secret.expose(), None).unwrap();
    assert_eq!(t.scope, ss("groups:read"));
    let r = authority.issue(id, created.secret.expose(), Some(&ss("groups:write")));
    assert!(matches!(r, Err(IssueError::InvalidScope(_))), "{r:?}");
}

#[tokio::test]
async fn narrowing_credential_scopes_takes_effect_after_sync() {
    let e = env().await;
    let c = e.company("groups:read groups:write", None).await;
    let created = e.credential(&c.id, "groups:read groups:write").await;
    let authority = e.authority().await;
    let token = authority
        .issue(
            created.credential.client_id.as_str(),
            created.secret.expose(),
            None,
        )
        .unwrap()
        .access_token;
    e.admin
        .update_credential(
            &created.credential.client_id,
            CredentialChanges {
                label: None,
                scopes: Some(ss("groups:write")),
            },
        )
        .await
        .unwrap();
    authority.sync(&*e.store).await.unwrap();
    let a = authority.authorize(&token).unwrap();
    assert!(!a.allows("groups:read"));
    assert!(a.allows("groups:write"));
}

#[tokio::test]
async fn tokens_expire_after_ttl() {
    let e = env().await;
    let c = e.company("groups:read", None).await;
    let created = e.credential(&c.id, "groups:read").await;
    let authority = e.authority().await;
    let token = authority
        .issue(
            created.credential.client_id.as_str(),
            created.secret.expose(),
            None,
        )
        .unwrap()
        .access_token;
    assert!(authority.authorize(&token).is_ok());
    e.clock.advance(i64::from(TTL) - 1);
    assert!(
        authority.authorize(&token).is_ok(),
        "valid until the last second"
    );
    e.clock.advance(1);
    assert_eq!(
        authority.authorize(&token).unwrap_err(),
        TokenRejection::Expired
    );
    // A node that never saw the token (no cache) agrees.
    let fresh = e.authority().await;
    assert_eq!(
        fresh.authorize(&token).unwrap_err(),
        TokenRejection::Expired
    );
}

fn flip_char(s: &str, at: usize) -> String {
    s.char_indices()
        .map(|(i, c)| {
            if i == at {
                if c == 'A' { 'B' } else { 'A' }
            } else {
                c
            }
        })
        .collect()
}

#[tokio::test]
async fn tampered_or_foreign_tokens_are_rejected() {
    let e = env().await;
    let c = e.company("groups:read groups:write", None).await;
    let created = e.credential(&c.id, "groups:read").await;
    let authority = e.authority().await;
    let token = authority
        .issue(
            created.credential.client_id.as_str(),
            created.secret.expose(),
            None,
        )
        .unwrap()
        .access_token;
    // Cache the genuine token first: tampered variants must not ride on it.
    assert!(authority.authorize(&token).is_ok());

    let sig_start = token.rfind('.').unwrap() + 1;
    let sig_len = token.len() - sig_start;
    for at in [sig_start, sig_start + sig_len / 2, token.len() - 2] {
        let bad = flip_char(&token, at);
        assert_ne!(bad, token);
        let r = authority.authorize(&bad);
        assert!(
            matches!(r, Err(TokenRejection::Invalid | TokenRejection::Malformed)),
            "signature byte {at}: {r:?}"
        );
    }
    // A changed payload no longer matches the signature.
    let payload_mid = token.find('.').unwrap() + 10;
    let r = authority.authorize(&flip_char(&token, payload_mid));
    assert!(
        matches!(r, Err(TokenRejection::Invalid | TokenRejection::Malformed)),
        "{r:?}"
    );
    // Without a signature.
    let r = authority.authorize(&token[..sig_start]);
    assert!(
        matches!(r, Err(TokenRejection::Invalid | TokenRejection::Malformed)),
        "{r:?}"
    );
    for junk in ["", "abc", "a.b.c", "not a token at all"] {
        assert_eq!(
            authority.authorize(junk).unwrap_err(),
            TokenRejection::Malformed,
            "{junk:?}"
        );
    }

    // A token signed by another deployment's key is invalid here.
    let foreign = env().await;
    let fc = foreign.company("groups:read", None).await;
    let fcred = foreign.credential(&fc.id, "groups:read").await;
    let fauth = foreign.authority().await;
    let ftoken = fauth
        .issue(
            fcred.credential.client_id.as_str(),
            fcred.secret.expose(),
            None,
        )
        .unwrap()
        .access_token;
    assert_eq!(
        authority.authorize(&ftoken).unwrap_err(),
        TokenRejection::Invalid
    );
}

#[tokio::test]
async fn rotation_grace_governs_old_secret_and_its_tokens() {
    let e = env().await;
    let c = e.company("groups:read", None).await;
    let created = e.credential(&c.id, "groups:read").await;
    let id = created.credential.client_id.clone();
    let authority = e.authority().await;
    let old_token = authority
        .issue(id.as_str(), created.secret.expose(), None)
        .unwrap()
        .access_token;

    let rotated = e.admin.rotate_secret(&id, 60).await.unwrap();
    authority.sync(&*e.store).await.unwrap();
    assert!(
        authority.authorize(&old_token).is_ok(),
        "within the grace period"
    );
    authority
        .issue(id.as_str(), created.secret.expose(), None)
        .expect("old secret works during the grace period");
    let new_token = authority
        .issue(id.as_str(), rotated.secret.expose(), None)
        .unwrap()
        .access_token;

    e.clock.advance(61);
    assert_eq!(
        authority.authorize(&old_token).unwrap_err(),
        TokenRejection::Revoked
    );
    let r = authority.issue(id.as_str(), created.secret.expose(), None);
    assert!(
        matches!(
            r,
            Err(IssueError::InvalidClient(ClientAuthFailure::WrongSecret))
        ),
        "{r:?}"
    );
    assert!(authority.authorize(&new_token).is_ok());

    // Rotating without grace revokes the current secret's tokens at the next sync.
    let last = e.admin.rotate_secret(&id, 0).await.unwrap();
    authority.sync(&*e.store).await.unwrap();
    assert_eq!(
        authority.authorize(&new_token).unwrap_err(),
        TokenRejection::Revoked
    );
    let r = authority.issue(id.as_str(), rotated.secret.expose(), None);
    assert!(
        matches!(
            r,
            Err(IssueError::InvalidClient(ClientAuthFailure::WrongSecret))
        ),
        "{r:?}"
    );
    authority
        .issue(id.as_str(), last.secret.expose(), None)
        .unwrap();
}

#[tokio::test]
async fn sync_recovers_from_a_pruned_feed() {
    let e = env().await;
    let c = e.company("groups:read", None).await;
    let created = e.credential(&c.id, "groups:read").await;
    let authority = e.authority().await;
    let token = authority
        .issue(
            created.credential.client_id.as_str(),
            created.secret.expose(),
            None,
        )
        .unwrap()
        .access_token;

    // Changes the node never saw, then pruned away.
    let cli = admin_over(e.reopen().await, &e.clock).await;
    cli.delete_credential(&created.credential.client_id)
        .await
        .unwrap();
    let added = cli
        .create_credential(&c.id, "added", ss("groups:read"))
        .await
        .unwrap();
    e.store.prune_changes(-1).await.unwrap();

    let out = authority.sync(&*e.store).await.unwrap();
    assert!(out.full_reload, "{out:?}");
    assert_eq!(
        authority.authorize(&token).unwrap_err(),
        TokenRejection::Revoked
    );
    authority
        .issue(
            added.credential.client_id.as_str(),
            added.secret.expose(),
            None,
        )
        .unwrap();
    assert_eq!(authority.directory().credential_count(), 1);
}

// ---------------------------------------------------------------------------------------------
// Groups
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn groups_create_get_update_within_a_company() {
    let e = env().await;
    let c = e.company("groups:read", None).await;
    let root = e.root(&c.id).await;
    let mut extra = serde_json::Map::new();
    extra.insert("description".into(), serde_json::json!("people"));
    extra.insert("url".into(), serde_json::Value::Null);
    let g = e
        .groups
        .create(
            &c.id,
            NewGroup {
                name: "Sales".into(),
                public: true,
                custom: Some("c".into()),
                parent_id: root.id,
                extra,
            },
        )
        .await
        .unwrap();
    assert_eq!(g.parent_id, Some(root.id));
    assert_eq!(g.company_id, c.id);
    assert!(!g.extra.contains_key("url"), "null extras are dropped");
    assert_eq!(e.groups.get(&c.id, &g.id).await.unwrap(), g);

    let mut patch = GroupPatch {
        name: Some("Sales EU".into()),
        public: Some(false),
        custom: Some(None),
        ..GroupPatch::default()
    };
    patch
        .extra
        .insert("url".into(), serde_json::json!("https://x.test"));
    patch
        .extra
        .insert("description".into(), serde_json::Value::Null);
    let updated = e.groups.update(&c.id, &g.id, patch).await.unwrap();
    assert_eq!(updated.name, "Sales EU");
    assert!(!updated.public);
    assert_eq!(updated.custom, None);
    assert_eq!(
        updated.extra.get("url"),
        Some(&serde_json::json!("https://x.test"))
    );
    assert!(!updated.extra.contains_key("description"));
    assert_eq!(e.groups.get(&c.id, &g.id).await.unwrap(), updated);

    // Making it public while it carries a private-only field is refused.
    let r = e
        .groups
        .update(
            &c.id,
            &g.id,
            GroupPatch {
                public: Some(true),
                ..GroupPatch::default()
            },
        )
        .await;
    assert!(
        matches!(r, Err(GroupError::NotOnPublicGroup { field: "url", .. })),
        "{r:?}"
    );

    // Unknown parent.
    let r = e
        .groups
        .create(&c.id, new_group("x", GroupId::generate(T0).unwrap()))
        .await;
    assert!(matches!(r, Err(GroupError::ParentGroupNotFound)), "{r:?}");
    let r = e.groups.get(&c.id, &GroupId::generate(T0).unwrap()).await;
    assert!(matches!(r, Err(GroupError::GroupNotFound)), "{r:?}");
}

#[tokio::test]
async fn another_companys_groups_read_as_missing() {
    let e = env().await;
    let a = e.company("groups:read", None).await;
    let b = e.company("groups:read", None).await;
    let a_root = e.root(&a.id).await;
    let b_root = e.root(&b.id).await;
    let ga = e.group(&a.id, &a_root.id, "A's").await;
    let gb = e.group(&b.id, &b_root.id, "B's").await;

    assert!(matches!(
        e.groups.get(&b.id, &ga.id).await,
        Err(GroupError::GroupNotFound)
    ));
    assert!(matches!(
        e.groups.get(&b.id, &a_root.id).await,
        Err(GroupError::GroupNotFound)
    ));
    assert!(matches!(
        e.groups
            .update(
                &b.id,
                &ga.id,
                GroupPatch {
                    name: Some("hijacked".into()),
                    ..GroupPatch::default()
                }
            )
            .await,
        Err(GroupError::GroupNotFound)
    ));
    assert!(matches!(
        e.groups.delete(&b.id, &ga.id).await,
        Err(GroupError::GroupNotFound)
    ));
    // Nor can another company's group be a parent, on create or on move.
    assert!(matches!(
        e.groups.create(&b.id, new_group("x", ga.id)).await,
        Err(GroupError::ParentGroupNotFound)
    ));
    assert!(matches!(
        e.groups
            .update(
                &b.id,
                &gb.id,
                GroupPatch {
                    parent_id: Some(ga.id),
                    ..GroupPatch::default()
                }
            )
            .await,
        Err(GroupError::ParentGroupNotFound)
    ));
    // The store itself also scopes by company.
    assert!(e.store.delete_group(&b.id, &ga.id).await.is_err());
    assert_eq!(e.groups.get(&a.id, &ga.id).await.unwrap(), ga);
    let b_page = e.groups.list(&b.id, None).await.unwrap();
    let b_ids: HashSet<GroupId> = b_page.groups.iter().map(|g| g.id).collect();
    assert_eq!(b_ids, HashSet::from([b_root.id, gb.id]));
}

#[tokio::test]
async fn root_group_rules() {
    let e = env().await;
    let c = e.company("groups:read", None).await;
    let root = e.root(&c.id).await;
    let child = e.group(&c.id, &root.id, "child").await;
    assert!(matches!(
        e.groups.delete(&c.id, &root.id).await,
        Err(GroupError::GroupIsRoot)
    ));
    assert!(matches!(
        e.groups
            .update(
                &c.id,
                &root.id,
                GroupPatch {
                    parent_id: Some(child.id),
                    ..GroupPatch::default()
                }
            )
            .await,
        Err(GroupError::GroupIsRoot)
    ));
    assert!(matches!(
        e.groups
            .update(
                &c.id,
                &root.id,
                GroupPatch {
                    public: Some(true),
                    ..GroupPatch::default()
                }
            )
            .await,
        Err(GroupError::RootGroupNotPublic)
    ));
    // The root can be renamed.
    let renamed = e
        .groups
        .update(
            &c.id,
            &root.id,
            GroupPatch {
                name: Some("Top".into()),
                ..GroupPatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(renamed.parent_id, None);
    assert_eq!(e.root(&c.id).await.name, "Top");
}

#[tokio::test]
async fn a_group_cannot_move_under_itself_or_a_descendant() {
    let e = env().await;
    let c = e.company("groups:read", None).await;
    let root = e.root(&c.id).await;
    let a = e.group(&c.id, &root.id, "a").await;
    let b = e.group(&c.id, &a.id, "b").await;
    let d = e.group(&c.id, &b.id, "d").await;
    let sibling = e.group(&c.id, &root.id, "sibling").await;
    let move_to = |parent: GroupId| GroupPatch {
        parent_id: Some(parent),
        ..GroupPatch::default()
    };
    for parent in [a.id, b.id, d.id] {
        let r = e.groups.update(&c.id, &a.id, move_to(parent)).await;
        assert!(
            matches!(r, Err(GroupError::ParentGroupNotDescendantOrSelf)),
            "{parent}: {r:?}"
        );
    }
    let r = e.groups.update(&c.id, &b.id, move_to(d.id)).await;
    assert!(
        matches!(r, Err(GroupError::ParentGroupNotDescendantOrSelf)),
        "{r:?}"
    );
    let r = e
        .groups
        .update(&c.id, &a.id, move_to(GroupId::generate(T0).unwrap()))
        .await;
    assert!(matches!(r, Err(GroupError::ParentGroupNotFound)), "{r:?}");
    assert_eq!(
        e.groups.get(&c.id, &a.id).await.unwrap().parent_id,
        Some(root.id)
    );

    // Legal moves work: a leaf up to the root, a subtree under a sibling.
    let moved = e
        .groups
        .update(&c.id, &d.id, move_to(root.id))
        .await
        .unwrap();
    assert_eq!(moved.parent_id, Some(root.id));
    let moved = e
        .groups
        .update(&c.id, &a.id, move_to(sibling.id))
        .await
        .unwrap();
    assert_eq!(moved.parent_id, Some(sibling.id));
    // And now `sibling` may not go under `b`, its new descendant.
    let r = e.groups.update(&c.id, &sibling.id, move_to(b.id)).await;
    assert!(
        matches!(r, Err(GroupError::ParentGroupNotDescendantOrSelf)),
        "{r:?}"
    );
}

#[tokio::test]
async fn deleting_a_group_deletes_its_descendants() {
    let e = env().await;
    let c = e.company("groups:read", None).await;
    let other = e.company("groups:read", None).await;
    let root = e.root(&c.id).await;
    let a = e.group(&c.id, &root.id, "a").await;
    let b = e.group(&c.id, &a.id, "b").await;
    let b2 = e.group(&c.id, &a.id, "b2").await;
    let d = e.group(&c.id, &b.id, "d").await;
    let keep = e.group(&c.id, &root.id, "keep").await;
    let keep_child = e.group(&c.id, &keep.id, "keep child").await;
    let other_root = e.root(&other.id).await;
    let other_g = e.group(&other.id, &other_root.id, "other").await;

    e.groups.delete(&c.id, &a.id).await.unwrap();
    for gone in [a.id, b.id, b2.id, d.id] {
        assert!(
            matches!(
                e.groups.get(&c.id, &gone).await,
                Err(GroupError::GroupNotFound)
            ),
            "{gone} should be gone"
        );
    }
    let left: HashSet<GroupId> = e
        .groups
        .list(&c.id, None)
        .await
        .unwrap()
        .groups
        .iter()
        .map(|g| g.id)
        .collect();
    assert_eq!(left, HashSet::from([root.id, keep.id, keep_child.id]));
    assert_eq!(e.groups.get(&other.id, &other_g.id).await.unwrap(), other_g);
    assert!(matches!(
        e.groups.delete(&c.id, &a.id).await,
        Err(GroupError::GroupNotFound)
    ));
}

async fn insert_groups(e: &Env, company: &CompanyId, parent: GroupId, n: usize) {
    for i in 0..n {
        let g = Group {
            id: GroupId::generate(e.clock.now()).unwrap(),
            company_id: *company,
            name: format!("group {i}"),
            public: i % 2 == 0,
            custom: None,
            parent_id: Some(parent),
            extra: serde_json::Map::new(),
        };
        e.store.insert_group(&g).await.unwrap();
    }
}

#[tokio::test]
async fn groups_are_paged_by_id_without_gaps_or_duplicates() {
    let e = env().await;
    let c = e.company("groups:read", None).await;
    let other = e.company("groups:read", None).await;
    let root = e.root(&c.id).await;
    insert_groups(&e, &c.id, root.id, 1200).await;
    let other_root = e.root(&other.id).await;
    insert_groups(&e, &other.id, other_root.id, 3).await;

    let mut seen = Vec::new();
    let mut after: Option<GroupId> = None;
    let mut sizes = Vec::new();
    loop {
        let page = e.groups.list(&c.id, after.as_ref()).await.unwrap();
        sizes.push(page.groups.len());
        assert!(page.groups.len() <= PAGE_SIZE as usize);
        assert!(page.groups.iter().all(|g| g.company_id == c.id));
        seen.extend(page.groups.iter().map(|g| g.id));
        match page.next_after {
            Some(next) => {
                assert_eq!(Some(next), page.groups.last().map(|g| g.id));
                after = Some(next);
            }
            None => break,
        }
        assert!(sizes.len() < 10, "pagination does not end");
    }
    assert_eq!(sizes, vec![500, 500, 201]);
    assert_eq!(seen.len(), 1201);
    assert_eq!(
        seen.iter().collect::<HashSet<_>>().len(),
        1201,
        "no duplicates"
    );
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "ordered by id");
    assert!(seen.contains(&root.id));
}

#[tokio::test]
async fn a_full_last_page_has_no_next_page() {
    let e = env().await;
    let c = e.company("groups:read", None).await;
    let root = e.root(&c.id).await;
    insert_groups(&e, &c.id, root.id, PAGE_SIZE as usize - 1).await;
    let page = e.groups.list(&c.id, None).await.unwrap();
    assert_eq!(page.groups.len(), PAGE_SIZE as usize);
    assert!(page.next_after.is_none(), "exactly one page of groups");
    // Continuing after the last id gives an empty page.
    let last = page.groups.last().unwrap().id;
    let page = e.groups.list(&c.id, Some(&last)).await.unwrap();
    assert!(page.groups.is_empty() && page.next_after.is_none());
}
