//! Spawns the real tollgate app (in-process, a real SQLite file or PostgreSQL database) and, around it, what the tests
//! need: credentials, tokens, verifiers. The minimum of `tollgate-server`'s own test helpers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::time::Instant;
use tollgate_core::admin::Admin;
use tollgate_core::authority::Authority;
use tollgate_core::clock::{Clock, ManualClock, SystemClock};
use tollgate_core::ids::{ClientId, CompanyId};
use tollgate_core::store::Store;
use tollgate_middleware::{FeedOptions, Options, Verifier};
use tollgate_proto::ClientSecret;
use tollgate_server::{App, Settings};
use tollgate_store::testing::TestDatabase;

pub struct Tollgate {
    pub base: String,
    pub addr: SocketAddr,
    pub http: reqwest::Client,
    pub admin: Admin,
    pub store: Arc<dyn Store>,
    pub authority: Arc<Authority>,
    /// tollgate's clock (the middleware keeps the system's).
    pub clock: Arc<ManualClock>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

pub struct Cred {
    pub company: CompanyId,
    pub client_id: String,
    pub secret: String,
}

impl Cred {
    pub fn id(&self) -> ClientId {
        ClientId::parse(&self.client_id).unwrap()
    }
}

/// A test database; dropping it removes the file or the database.
#[allow(dead_code)] // held for its `Drop`
pub enum TestDb {
    Sqlite(TempDir),
    Postgres(TestDatabase),
}

/// A fresh database: a SQLite file, or with `TOLLGATE_TEST_BACKEND=postgres` a PostgreSQL
/// database (as `tollgate-server`'s tests). Its URL and the guard that removes it.
pub async fn database() -> (String, TestDb) {
    match std::env::var("TOLLGATE_TEST_BACKEND").as_deref() {
        Ok("postgres" | "postgresql") => {
            let db = TestDatabase::create()
                .await
                .expect("create a PostgreSQL test database (is PostgreSQL running?)");
            (db.url().to_owned(), TestDb::Postgres(db))
        }
        Ok("sqlite") | Err(_) => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("tollgate.db").display());
            (url, TestDb::Sqlite(dir))
        }
        Ok(other) => panic!("TOLLGATE_TEST_BACKEND={other}: use sqlite or postgres"),
    }
}

/// Starts tollgate on `db_url`, listening on `listen` (port 0: any).
pub async fn start(db_url: &str, listen: SocketAddr) -> Tollgate {
    let settings = Settings {
        listen,
        database_url: db_url.to_owned(),
        sync_interval_ms: 50,
        last_used_flush_ms: 100,
        // The offline tests sign their own tokens with the key's EdDSA private half.
        signing_alg: Some(tollgate_proto::SigningAlg::EdDSA),
        ..Settings::default()
    };
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    let app = App::build(settings, clock.clone())
        .await
        .expect("build app");
    let addr = app.local_addr();
    let admin = app.admin().clone();
    let store = app.store();
    let authority = app.authority();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(app.run_until_stopped(async {
        let _ = rx.await;
    }));
    Tollgate {
        base: format!("http://{addr}"),
        addr,
        http: reqwest::Client::new(),
        admin,
        store,
        authority,
        clock,
        shutdown: Some(tx),
        task: Some(task),
    }
}

impl Tollgate {
    pub async fn sync(&self) {
        self.authority.sync(&*self.store).await.unwrap();
    }

    pub async fn credential_with(&self, ceiling: &str, scopes: &str) -> Cred {
        let company = self
            .admin
            .create_company("Acme", Some(ceiling.parse().unwrap()), None)
            .await
            .unwrap()
            .id;
        let c = self
            .admin
            .create_credential(&company, "Service", scopes.parse().unwrap())
            .await
            .unwrap();
        Cred {
            company,
            client_id: c.credential.client_id.as_str().to_owned(),
            secret: c.secret.expose_secret().to_owned(),
        }
    }

    /// A credential in a company of its own, holding `scopes` (the ceiling: the same).
    pub async fn credential(&self, scopes: &str) -> Cred {
        self.credential_with(scopes, scopes).await
    }

    pub async fn token(&self, cred: &Cred) -> String {
        self.token_for(cred, None).await
    }

    /// A token for `scope` (None: all of the credential's). Token reuse answers a repeated request
    /// with the same token, so a test that needs two distinct tokens of one credential asks for
    /// two scope sets.
    pub async fn token_for(&self, cred: &Cred, scope: Option<&str>) -> String {
        let mut body = json!({
            "grant_type": "client_credentials",
            "client_id": cred.client_id,
            "client_secret": cred.secret,
        });
        if let Some(scope) = scope {
            body["scope"] = scope.into();
        }
        let r = self
            .http
            .post(format!("{}/api/v2/oauth2/token", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        v["access_token"].as_str().unwrap().to_owned()
    }

    /// RFC 7009 revocation of `token` by its owner.
    pub async fn revoke(&self, cred: &Cred, token: &str) {
        let r = self
            .http
            .post(format!("{}/api/v2/oauth2/revoke", self.base))
            .form(&[
                ("token", token),
                ("client_id", &cred.client_id),
                ("client_secret", &cred.secret),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }

    /// A credential allowed to read the revocation feed, as feed options.
    pub async fn feed_options(&self) -> FeedOptions {
        let c = self.credential("tollgate:revocations").await;
        let mut f = FeedOptions::new(c.client_id, ClientSecret::new(c.secret));
        f.min_backoff = Duration::from_millis(20);
        f.max_backoff = Duration::from_millis(200);
        f
    }

    /// A verifier of this tollgate's tokens (audience: the issuer, tollgate's default).
    pub async fn verifier(&self, options: Options) -> Verifier {
        Verifier::discover(&self.base, &self.base, options)
            .await
            .unwrap()
    }

    /// A verifier subscribed to the feed, once its first snapshot is in.
    pub async fn subscribed(&self, tweak: impl FnOnce(&mut FeedOptions)) -> Verifier {
        let mut feed = self.feed_options().await;
        tweak(&mut feed);
        let v = self.verifier(Options::default().feed(feed)).await;
        tokio::time::timeout(Duration::from_secs(5), v.ready())
            .await
            .expect("first snapshot");
        v
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
    }
}

impl Drop for Tollgate {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Polls `check` until it holds; fails after `within`.
pub async fn eventually<F, Fut>(within: Duration, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if check().await {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
