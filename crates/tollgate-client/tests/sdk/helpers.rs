//! Starts the real tollgate server in-process (port 0, its own SQLite file, the real clock) and
//! counts what it does.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tempfile::TempDir;
use tokio::sync::oneshot;
use tollgate_client::{ApiClient, RetryPolicy, TokenSource};
use tollgate_core::admin::Admin;
use tollgate_core::authority::Authority;
use tollgate_core::clock::SystemClock;
use tollgate_core::ids::{ClientId, CompanyId};
use tollgate_core::store::Store;
use tollgate_server::{App, Metrics, Settings};

pub struct Server {
    pub base: String,
    pub addr: SocketAddr,
    pub db_url: String,
    pub admin: Admin,
    pub store: Arc<dyn Store>,
    /// The example API's storage.
    pub groups: Arc<dyn tollgate_groups::GroupStore>,
    pub authority: Arc<Authority>,
    pub metrics: Arc<Metrics>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

pub struct Cred {
    pub company: CompanyId,
    pub client_id: String,
    pub secret: String,
}

/// A server with `token_ttl` seconds tokens, on a fresh database in `dir`.
pub async fn start(dir: &TempDir, token_ttl: u32) -> Server {
    let db_url = format!("sqlite://{}", dir.path().join("tollgate.db").display());
    start_at(&db_url, "127.0.0.1:0".parse().unwrap(), token_ttl)
        .await
        .unwrap()
}

/// A server on `listen` over the database at `db_url`.
pub async fn start_at(db_url: &str, listen: SocketAddr, token_ttl: u32) -> anyhow::Result<Server> {
    let settings = Settings {
        listen,
        database_url: db_url.to_owned(),
        sync_interval_ms: 50,
        last_used_flush_ms: 100,
        token_ttl,
        // Every caller of these tests is on 127.0.0.1: 200 concurrent callers, whose connections
        // close and reopen around a 401, can pass the default cap of 256 connections from one
        // address for a moment, and a connection over it is closed before a byte is read (CI saw
        // `/metrics` fail so).
        connections: tollgate_server::ConnectionSettings {
            max_per_ip: 4096,
            ..Default::default()
        },
        ..Settings::default()
    };
    let mut app = App::build(settings, Arc::new(SystemClock)).await?;
    let groups = Arc::clone(tollgate_groups::mount(&mut app).await?.store());
    let addr = app.local_addr();
    let (admin, store, authority, metrics) = (
        app.admin().clone(),
        app.store(),
        app.authority(),
        app.metrics(),
    );
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(app.run_until_stopped(async {
        let _ = rx.await;
    }));
    Ok(Server {
        base: format!("http://{addr}"),
        addr,
        db_url: db_url.to_owned(),
        admin,
        store,
        groups,
        authority,
        metrics,
        shutdown: Some(tx),
        task: Some(task),
    })
}

impl Server {
    /// Applies the change feed now.
    pub async fn sync(&self) {
        self.authority.sync(&*self.store).await.unwrap();
    }

    /// A company (groups:read/write) and a credential holding `scopes`.
    pub async fn credential(&self, scopes: &str) -> Cred {
        let company = self
            .admin
            .create_company(
                "Acme",
                Some("groups:read groups:write".parse().unwrap()),
                None,
            )
            .await
            .unwrap()
            .id;
        let c = self
            .admin
            .create_credential(&company, "HR Integration", scopes.parse().unwrap())
            .await
            .unwrap();
        self.sync().await;
        Cred {
            company,
            client_id: c.credential.client_id.as_str().to_owned(),
            secret: c.secret.expose_secret().to_owned(),
        }
    }

    /// Rotates the credential's secret with no grace: the old secret and its tokens stop at once.
    pub async fn rotate_now(&self, cred: &Cred) -> String {
        let id = ClientId::parse(&cred.client_id).unwrap();
        let r = self.admin.rotate_secret(&id, 0).await.unwrap();
        self.sync().await;
        r.secret.expose_secret().to_owned()
    }

    /// Tokens issued by this server since it started (server side).
    pub fn tokens_issued(&self) -> u64 {
        self.metrics.tokens_issued()
    }

    /// A counter from `/metrics`, e.g. `tollgate_api_authorizations_total{outcome="invalid_token"}`.
    pub async fn counter(&self, series: &str) -> u64 {
        let text = reqwest::get(format!("{}/metrics", self.base))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(series))
            .map_or(0, |v| v.trim().parse().unwrap())
    }

    /// Resource-side refusals of expired/revoked/invalid tokens so far.
    pub async fn invalid_token_responses(&self) -> u64 {
        self.counter("tollgate_api_authorizations_total{outcome=\"invalid_token\"}")
            .await
    }

    /// Stops accepting, finishes in-flight requests, and waits for the server to end.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A token source for `cred` on `server`, with quick retries for tests.
pub fn tokens(server: &Server, cred: &Cred) -> TokenSource {
    TokenSource::builder(&server.base, &cred.client_id, cred.secret.as_str())
        .retry(quick_retries(Duration::from_secs(10)))
        .build()
        .unwrap()
}

pub fn api(server: &Server, cred: &Cred) -> ApiClient {
    ApiClient::new(tokens(server, cred))
}

pub fn quick_retries(timeout: Duration) -> RetryPolicy {
    RetryPolicy::new()
        .with_backoff(Duration::from_millis(50), Duration::from_millis(400))
        .with_timeout(timeout)
}
