//! Spawns the real app and talks to it over HTTP.
//!
//! Each app gets a database of its own: a SQLite file in a temporary directory, or, when
//! `TOLLGATE_TEST_BACKEND=postgres`, a fresh PostgreSQL database (`tollgate_store::testing`), dropped
//! with the app. `.ci/run` runs this suite once per backend.

use std::sync::Arc;

use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tollgate_core::admin::Admin;
use tollgate_core::authority::Authority;
use tollgate_core::clock::{Clock, ManualClock, SystemClock};
use tollgate_core::ids::CompanyId;
use tollgate_core::store::Store;
use tollgate_groups::GroupStore;
use tollgate_server::{App, Settings};
use tollgate_store::testing::TestDatabase;

pub const VERSION_HEADER: &str = "360-api-version";

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub clock: Arc<ManualClock>,
    pub admin: Admin,
    pub store: Arc<dyn Store>,
    /// The example API's storage (to seed groups around its routes).
    pub group_store: Arc<dyn GroupStore>,
    pub authority: Arc<Authority>,
    pub db_url: String,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    // Last: the database outlives everything above.
    _db: TestDb,
}

/// The storage backend of a test app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// `TOLLGATE_TEST_BACKEND`: `postgres` (or `postgresql`), else SQLite.
    pub fn from_env() -> Self {
        match std::env::var("TOLLGATE_TEST_BACKEND").as_deref() {
            Ok("postgres" | "postgresql") => Self::Postgres,
            Ok("sqlite") | Err(_) => Self::Sqlite,
            Ok(other) => panic!("TOLLGATE_TEST_BACKEND={other}: use sqlite or postgres"),
        }
    }
}

/// A test database; dropping it removes the file or the database.
#[allow(dead_code)] // held for its `Drop`
pub enum TestDb {
    Sqlite(TempDir),
    Postgres(TestDatabase),
    /// Owned by someone else (another node of the same cluster, or the test).
    Shared,
}

/// A fresh, empty database of `backend`: its URL and the guard that removes it.
pub async fn fresh_database(backend: Backend) -> (String, TestDb) {
    match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("tempdir");
            let url = format!("sqlite://{}", dir.path().join("tollgate.db").display());
            (url, TestDb::Sqlite(dir))
        }
        Backend::Postgres => {
            let db = TestDatabase::create()
                .await
                .expect("create a PostgreSQL test database (is PostgreSQL running?)");
            (db.url().to_owned(), TestDb::Postgres(db))
        }
    }
}

#[derive(Clone)]
pub struct Cred {
    pub company: CompanyId,
    pub client_id: String,
    pub secret: String,
}

/// The credential's client ID, parsed (for the admin's calls).
pub fn client_id(cred: &Cred) -> tollgate_core::ids::ClientId {
    tollgate_core::ids::ClientId::parse(&cred.client_id).expect("client id")
}

pub async fn spawn() -> TestApp {
    spawn_with(|_| {}).await
}

pub async fn spawn_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let (db_url, db) = fresh_database(Backend::from_env()).await;
    spawn_on(db_url, db, tweak).await
}

/// Spawns an app on `db_url` (unless `tweak` changes it), keeping `db` alive as long as the app.
pub async fn spawn_on(db_url: String, db: TestDb, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let clock = Arc::new(ManualClock::new(SystemClock.now()));
    spawn_node(db_url, db, clock, tweak).await
}

/// As [`spawn_on`], with a given clock (nodes of one cluster share theirs).
pub async fn spawn_node(
    db_url: String,
    db: TestDb,
    clock: Arc<ManualClock>,
    tweak: impl FnOnce(&mut Settings),
) -> TestApp {
    let mut settings = Settings {
        listen: "127.0.0.1:0".parse().expect("addr"),
        database_url: db_url.clone(),
        sync_interval_ms: 50,
        last_used_flush_ms: 100,
        ..Settings::default()
    };
    tweak(&mut settings);
    let settings_db_url = settings.database_url.clone();
    let mut app = App::build(settings, clock.clone())
        .await
        .expect("build app");
    // The example API, mounted as the binary mounts it.
    let groups = tollgate_groups::mount(&mut app)
        .await
        .expect("mount groups");
    let base = format!("http://{}", app.local_addr());
    let admin = app.admin().clone();
    let store = app.store();
    let authority = app.authority();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(app.run_until_stopped(async {
        let _ = rx.await;
    }));
    TestApp {
        base,
        client: reqwest::Client::new(),
        clock,
        admin,
        store,
        group_store: Arc::clone(groups.store()),
        authority,
        db_url: settings_db_url,
        shutdown: Some(tx),
        task: Some(task),
        _db: db,
    }
}

impl TestApp {
    /// Applies the change feed now (the server also does it every 50 ms in tests).
    pub async fn sync(&self) {
        self.authority.sync(&*self.store).await.expect("sync");
    }

    pub async fn company(&self, scopes: &str) -> CompanyId {
        self.admin
            .create_company("Acme", Some(scopes.parse().expect("scopes")), None)
            .await
            .expect("company")
            .id
    }

    pub async fn credential_in(&self, company: CompanyId, scopes: &str) -> Cred {
        let c = self
            .admin
            .create_credential(&company, "HR Integration", scopes.parse().expect("scopes"))
            .await
            .expect("credential");
        self.sync().await;
        Cred {
            company,
            client_id: c.credential.client_id.as_str().to_owned(),
            secret: c.secret.expose_secret().to_owned(),
        }
    }

    /// A company with groups:read/write (ceiling) and a credential holding `scopes`.
    pub async fn credential(&self, scopes: &str) -> Cred {
        let company = self.company("groups:read groups:write users:read").await;
        self.credential_in(company, scopes).await
    }

    pub fn token_url(&self) -> String {
        format!("{}/api/v2/oauth2/token", self.base)
    }

    pub async fn post_token_json(&self, body: &Value) -> Response {
        self.client
            .post(self.token_url())
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("send")
    }

    pub async fn post_token_raw(
        &self,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Response {
        self.client
            .post(self.token_url())
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("send")
    }

    /// The reference's JSON token request for `cred`.
    pub async fn request_token(&self, cred: &Cred) -> Response {
        self.post_token_json(&json!({
            "grant_type": "client_credentials",
            "client_id": cred.client_id,
            "client_secret": cred.secret,
        }))
        .await
    }

    pub async fn token(&self, cred: &Cred) -> String {
        let r = self.request_token(cred).await;
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.expect("json");
        v["access_token"].as_str().expect("token").to_owned()
    }

    /// The Prometheus text of `/metrics`.
    /// RFC 7662 introspection of `token` by `caller` (HTTP Basic): the response's JSON.
    pub async fn introspect(&self, caller: &Cred, token: &str) -> Value {
        self.client
            .post(format!("{}/api/v2/oauth2/introspect", self.base))
            .basic_auth(&caller.client_id, Some(&caller.secret))
            .form(&[("token", token)])
            .send()
            .await
            .expect("introspect")
            .json()
            .await
            .expect("introspection JSON")
    }

    /// RFC 7009 revocation of `token` by `caller` (HTTP Basic): the response.
    pub async fn revoke(&self, caller: &Cred, token: &str) -> Response {
        self.client
            .post(format!("{}/api/v2/oauth2/revoke", self.base))
            .basic_auth(&caller.client_id, Some(&caller.secret))
            .form(&[("token", token)])
            .send()
            .await
            .expect("revoke")
    }

    pub async fn metrics_text(&self) -> String {
        self.client
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .expect("send")
            .text()
            .await
            .expect("text")
    }

    /// The value of the sample `series` on `/metrics` now (see [`sample`]).
    pub async fn metric(&self, series: &str) -> f64 {
        sample(&self.metrics_text().await, series)
    }

    /// A request to the API with the version header and a bearer token.
    pub fn api(&self, method: Method, path: &str, token: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{}", self.base, path))
            .header(VERSION_HEADER, "v2.0")
            .bearer_auth(token)
    }

    /// The status of `method path` with `token` (and the version header).
    pub async fn api_status(&self, method: Method, path: &str, token: &str) -> u16 {
        self.api(method, path, token)
            .send()
            .await
            .expect("send")
            .status()
            .as_u16()
    }

    pub async fn root_group(&self, token: &str) -> String {
        let v: Value = self
            .api(Method::GET, "/api/v2/groups", token)
            .send()
            .await
            .expect("send")
            .json()
            .await
            .expect("json");
        v.as_array()
            .expect("array")
            .iter()
            .find(|g| g.get("parentId").is_none())
            .expect("root")["_id"]
            .as_str()
            .expect("id")
            .to_owned()
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.expect("join").expect("server result");
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Reads an error response: status, body JSON and the WWW-Authenticate header.
/// The value of the sample `series` (name and labels, exactly as written) in a metrics text.
pub fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no sample {series} in\n{text}"))
}

pub async fn error_of(r: Response) -> (u16, Value, Option<String>) {
    let status = r.status().as_u16();
    let www = r
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().expect("ascii").to_owned());
    let body = r.json().await.unwrap_or(Value::Null);
    (status, body, www)
}

/// Polls `check` every 10 ms until it holds; returns how long that took (fails after 10 s).
pub async fn until<F, Fut>(mut check: F) -> std::time::Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = std::time::Instant::now();
    loop {
        if check().await {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "still not so after 10 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
