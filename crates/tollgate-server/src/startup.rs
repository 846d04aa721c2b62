//! Build apart from run: [`App::build`] prepares everything and binds the listener;
//! [`App::run_until_stopped`] serves. Between the two, [`App::mount`] adds an API of the
//! platform's own (routes and their part of the OpenAPI document), built from [`App::context`].

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{any, get, post};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tollgate_core::admin::Admin;
use tollgate_core::authority::{Authority, TokenSettings};
use tollgate_core::catalog::ScopeCatalog;
use tollgate_core::clock::Clock;
use tollgate_core::directory::Directory;
use tollgate_core::secret::SecretHasher;
use tollgate_core::store::Store;
use tollgate_proto::Scope;

use crate::config::Settings;
use crate::metrics::Metrics;
use crate::resource::ResourceGuard;
use crate::state::{AppState, Services};
use crate::{health, logging, oauth, openapi, revocations, wellknown};

/// A built server, bound to its port, not yet serving.
#[derive(Debug)]
pub struct App {
    listener: TcpListener,
    addr: SocketAddr,
    state: AppState,
    settings: Settings,
    context: ApiContext,
    mounted: Vec<Mounted>,
    tls: Option<Arc<crate::tls::LiveTls>>,
}

/// An API mounted beside tollgate's routes.
struct Mounted {
    routes: Router,
    doc: utoipa::openapi::OpenApi,
}

impl std::fmt::Debug for Mounted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mounted").finish_non_exhaustive()
    }
}

/// What an API served beside tollgate's routes ([`App::mount`]) may use: the same checks as the
/// built-in routes, the change feed, the clock, the server-keyed MAC, and the database's URL for
/// a pool of its own (`tollgate_store::connect`).
#[derive(Clone)]
pub struct ApiContext {
    /// The resource-side checks (token, budget, version header, scope); give it to the router's
    /// state through `FromRef` and take [`crate::resource::Authorized`] in the handlers.
    pub guard: Arc<ResourceGuard>,
    /// The in-memory directory: [`Directory::follow`] hands the API the change feed's entries of
    /// its own kind (its cache stays coherent across nodes).
    pub directory: Arc<Directory>,
    /// The injected clock.
    pub clock: Arc<dyn Clock>,
    /// Server-keyed MACs (tamper-evident page cursors).
    pub hasher: SecretHasher,
    /// The public base URL (the issuer), for absolute links.
    pub base_url: Arc<str>,
    /// The largest accepted request body ([`crate::extract::BodyLimit`]).
    pub max_body_bytes: usize,
    /// The database (may hold a password: never logged; not in `Debug`).
    pub database_url: String,
}

impl std::fmt::Debug for ApiContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiContext")
            .field("base_url", &self.base_url)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish_non_exhaustive()
    }
}

impl App {
    /// Opens the store (migrating it), loads keys and credentials, binds the listener.
    pub async fn build(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        settings.validate()?;
        // The RNG's first use sets it up (~20 ms); let that overlap with opening the database.
        let rng = tokio::task::spawn_blocking(tollgate_core::random::warm_up);
        let store = tollgate_store::open_with(&settings.database_url, settings.key_wrap()?).await?;
        rng.await??;
        Self::build_with_store(settings, store, clock).await
    }

    /// As [`App::build`], over an already opened store.
    pub async fn build_with_store(
        settings: Settings,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        settings.validate()?;
        // The certificate is checked before the port is taken.
        let tls = match &settings.tls {
            Some(t) => Some(Arc::new(crate::tls::LiveTls::new(t)?)),
            None => None,
        };
        let listener = TcpListener::bind(settings.listen).await.map_err(|e| {
            anyhow::anyhow!(
                "cannot listen on {}: {e}{}",
                settings.listen,
                if e.kind() == std::io::ErrorKind::AddrInUse {
                    " (is another server running there? choose another address with --listen)"
                } else {
                    ""
                }
            )
        })?;
        let addr = listener.local_addr()?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        let issuer = settings
            .issuer
            .clone()
            .unwrap_or_else(|| format!("{scheme}://{addr}"));
        let issuer = issuer.trim_end_matches('/').to_owned();
        let audience = settings.audience.clone().unwrap_or_else(|| issuer.clone());
        // Keys at rest: an error if a stored key needs a key-encryption key not configured; a loud
        // warning if keys are kept in the clear.
        tollgate_core::store::check_keys_at_rest(&*store).await?;
        let hasher = SecretHasher::new(&store.server_key().await?);
        let catalog = Arc::new(
            ScopeCatalog::new(
                settings
                    .extra_scopes
                    .iter()
                    .filter_map(|s| Scope::parse(s).ok()),
            )
            .with_descriptions(settings.scope_descriptions.clone()),
        );
        let authority = Arc::new(
            Authority::load(
                &*store,
                hasher.clone(),
                Arc::clone(&clock),
                TokenSettings {
                    issuer: issuer.clone(),
                    audience,
                    ttl: settings.token_ttl,
                    signing_alg: settings.signing_alg,
                    reuse: settings.token_reuse,
                    format: settings.token_format,
                },
            )
            .await?,
        );
        let metrics = Metrics::new();
        let metadata = wellknown::metadata(&issuer, &catalog);
        let rate_limits = Arc::new(crate::ratelimit::RateLimiter::new(
            settings.rate_limits.clone(),
            settings.redis_url.as_deref(),
            Arc::clone(&clock),
        )?);
        let guard = Arc::new(
            ResourceGuard::new(
                Arc::clone(&authority),
                Arc::clone(&metrics),
                settings.version_header.clone(),
                settings.api_versions.clone(),
            )
            .with_budgets(Arc::clone(&rate_limits))
            .with_catch_up(Arc::clone(&store)),
        );
        let gateway = Arc::new(
            crate::route_table::LiveRoutes::new(&settings.gateway)
                .map_err(crate::config::ConfigError::Invalid)?,
        );
        let state_store = Arc::clone(&store);
        let directory = authority.shared_directory();
        let base_url: Arc<str> = issuer.into();
        let context = ApiContext {
            guard: Arc::clone(&guard),
            directory: Arc::clone(&directory),
            clock: Arc::clone(&clock),
            hasher: hasher.clone(),
            base_url: Arc::clone(&base_url),
            max_body_bytes: settings.max_body_bytes,
            database_url: settings.database_url.clone(),
        };
        let state = AppState::new(Services {
            authority,
            guard,
            admin: Admin::new(store.clone(), catalog, hasher.clone(), Arc::clone(&clock))
                .with_directory(directory),
            store,
            hasher,
            base_url,
            max_body_bytes: settings.max_body_bytes,
            trusted_proxies: settings.trusted_proxies()?,
            tls: tls.is_some(),
            metrics,
            metadata,
            accounts: tollgate_core::accounts::Accounts::new(
                Arc::clone(&state_store),
                Arc::clone(&clock),
            ),
            form_nonces: Arc::default(),
            login_limiter: Arc::new(crate::admin::protect::LoginLimiter::new(
                settings.login_attempts_per_ip,
                settings.login_attempts_per_account,
            )),
            rate_limits,
            gateway,
            revocation_feed: Arc::new(crate::revocations::hub::RevocationFeed::new()?),
            webhooks: tollgate_core::webhooks::Webhooks::new(
                Arc::clone(&state_store),
                Arc::clone(&clock),
            ),
            auth_failures: Arc::new(crate::webhooks::FailureWatch::new(
                settings.webhooks.auth_failure_threshold,
                settings.webhooks.auth_failure_window_secs,
            )),
        });
        Ok(Self {
            listener,
            addr,
            state,
            settings,
            context,
            mounted: Vec::new(),
            tls,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The issuer (and public base URL).
    pub fn base_url(&self) -> &str {
        &self.state.base_url
    }

    /// Company and credential operations on this app's store.
    pub fn admin(&self) -> &Admin {
        &self.state.admin
    }

    /// Users, sessions and the audit log on this app's store.
    pub fn accounts(&self) -> &tollgate_core::accounts::Accounts {
        &self.state.accounts
    }

    /// The token authority (to force a change-feed sync in tests).
    pub fn authority(&self) -> Arc<Authority> {
        Arc::clone(&self.state.authority)
    }

    /// What an API mounted beside tollgate's routes may use.
    pub fn context(&self) -> &ApiContext {
        &self.context
    }

    /// Serves `routes` beside tollgate's own (behind the same body limit, body timeout and request
    /// log) and adds `doc` to the OpenAPI document. The routes must not overlap tollgate's (axum
    /// panics at start-up if they do); the gateway's routes come after both.
    pub fn mount(&mut self, routes: Router, doc: utoipa::openapi::OpenApi) {
        self.mounted.push(Mounted { routes, doc });
    }

    /// The metrics (tests count tokens issued through them).
    pub fn metrics(&self) -> Arc<Metrics> {
        Arc::clone(&self.state.metrics)
    }

    /// The store.
    pub fn store(&self) -> Arc<dyn Store> {
        Arc::clone(&self.state.store)
    }

    /// The router (useful to embed tollgate's routes into another axum app).
    pub fn router(&self) -> Router {
        let router = router(
            self.state.clone(),
            &self.mounted,
            self.settings.max_body_bytes,
            self.settings.connections.body_timeout(),
        );
        match self.settings.tls.as_ref().and_then(|t| t.hsts()) {
            Some(hsts) => router.layer(
                tower_http::set_header::SetResponseHeaderLayer::if_not_present(
                    axum::http::header::STRICT_TRANSPORT_SECURITY,
                    hsts,
                ),
            ),
            None => router,
        }
    }

    /// Serves until `shutdown` resolves; then stops accepting, lets in-flight requests finish, and
    /// writes batched last-used times.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let router = self.router();
        let (stop_tx, stop_rx) = watch::channel(false);
        let sync = tokio::spawn(background(
            self.state.clone(),
            Duration::from_millis(self.settings.sync_interval_ms),
            Duration::from_millis(self.settings.last_used_flush_ms),
            stop_rx.clone(),
        ));
        let reload = self.settings.config_file.clone().map(|file| {
            tokio::spawn(crate::gateway::watch(
                Arc::clone(&self.state.gateway),
                file,
                stop_rx.clone(),
            ))
        });
        let webhooks = if self.settings.webhooks.send {
            let sender = crate::webhooks::Sender::new(
                &self.settings.webhooks,
                Arc::clone(&self.state.store) as Arc<dyn tollgate_core::store::WebhookStore>,
                self.state.authority.clock(),
                Arc::clone(&self.state.metrics),
            )?;
            Some(tokio::spawn(sender.run(stop_rx.clone())))
        } else {
            None
        };
        let tls_reload = self
            .tls
            .clone()
            .map(|tls| tokio::spawn(crate::tls::watch(tls, stop_rx.clone())));
        tracing::info!(
            addr = %self.addr,
            issuer = %self.state.base_url,
            tls = self.tls.is_some(),
            database = %crate::config::database_name(&self.settings.database_url),
            "tollgate listening"
        );
        // Open revocation feeds never end by themselves: they end when shutdown begins, so the
        // graceful shutdown does not wait for them.
        let feed = Arc::clone(&self.state.revocation_feed);
        let shutdown = async move {
            shutdown.await;
            feed.close();
        };
        let served = crate::serve::serve(
            self.listener,
            router,
            &self.settings.connections,
            self.tls,
            shutdown,
        )
        .await;
        let _ = stop_tx.send(true);
        let _ = sync.await;
        for task in [reload, tls_reload, webhooks].into_iter().flatten() {
            let _ = task.await;
        }
        flush_last_used(&self.state).await;
        tracing::info!("tollgate stopped");
        served.map_err(Into::into)
    }
}

/// Builds the router over `state`, with the mounted APIs.
fn router(state: AppState, mounted: &[Mounted], max_body: usize, body_timeout: Duration) -> Router {
    let metrics = Arc::clone(&state.metrics);
    let parts: Vec<_> = mounted.iter().map(|m| m.doc.clone()).collect();
    let docs = utoipa_swagger_ui::SwaggerUi::new("/docs")
        .url("/openapi.json", openapi::document(&state.base_url, &parts));
    let own: Router = Router::new()
        .route("/api/v2/oauth2/token", post(oauth::token))
        .route("/api/v2/oauth2/introspect", post(oauth::introspect))
        .route("/api/v2/oauth2/revoke", post(oauth::revoke))
        .route("/api/v2/oauth2/revocations", get(revocations::revocations))
        .route(
            "/.well-known/oauth-authorization-server",
            get(wellknown::server_metadata),
        )
        .route(
            "/.well-known/openid-configuration",
            get(wellknown::openid_configuration),
        )
        .route("/.well-known/jwks.json", get(wellknown::jwks))
        .route(
            crate::gateway::verify::PATH,
            any(crate::gateway::verify::verify),
        )
        .route(
            "/auth/verify/{*original}",
            any(crate::gateway::verify::verify),
        )
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .merge(docs)
        .merge(crate::admin::routes())
        .fallback(crate::gateway::fallback)
        .with_state(state);
    mounted
        .iter()
        .fold(own, |r, m| r.merge(m.routes.clone()))
        // One layer around each route, not three: each `Router::layer` boxes the route once more,
        // and each boxed route is cloned on every request (issue 15's profile).
        .layer(
            tower::ServiceBuilder::new()
                .layer(logging::RequestLogLayer::new(metrics))
                .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
                    body_timeout,
                ))
                .layer(DefaultBodyLimit::max(max_body)),
        )
}

/// Keeps the directory in step with the store, writes last-used times and the audit entries of
/// expiries that passed, prunes the change feed.
///
/// The feed is read every `every` and, with a store that can push (PostgreSQL's LISTEN/NOTIFY), as
/// soon as the store signals a change; the periodic read stays as the safety net for missed
/// notifications.
async fn background(
    state: AppState,
    every: Duration,
    flush: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut wake = state.store.subscribe();
    let mut n: u64 = 0;
    let flush_every = (flush.as_millis() / every.as_millis().max(1)).max(1) as u64;
    let prune_every = (600_000 / every.as_millis().max(1) as u64).max(1);
    let mut failing = false;
    loop {
        let ticked = tokio::select! {
            _ = tick.tick() => true,
            () = woken(&mut wake) => false,
            _ = stop.changed() => return,
        };
        match state.authority.sync(&*state.store).await {
            Ok(_) if std::mem::take(&mut failing) => {
                tracing::info!("change feed sync works again");
            }
            Ok(_) => {}
            Err(e) if failing => tracing::debug!(error = %e, "change feed sync still failing"),
            Err(e) => {
                tracing::warn!(error = %e, "change feed sync failed; serving from cache");
                failing = true;
            }
        }
        if !ticked {
            continue;
        }
        n += 1;
        if n.is_multiple_of(flush_every) {
            flush_last_used(&state).await;
            audit_expired(&state).await;
            audit_expiring(&state).await;
        }
        if n.is_multiple_of(prune_every) {
            if let Err(e) = state.store.prune_changes(3600).await {
                tracing::warn!(error = %e, "change feed prune failed");
            }
            // Revocations are kept only until their token would have expired.
            if let Err(e) = state.store.prune_revoked(state.authority.now()).await {
                tracing::warn!(error = %e, "revocation prune failed");
            }
        }
    }
}

/// Resolves when the store signals a change; never for a store that cannot signal.
async fn woken(wake: &mut Option<watch::Receiver<u64>>) {
    if let Some(rx) = wake.as_mut() {
        if rx.changed().await.is_ok() {
            return;
        }
        // The store stopped signalling: polling alone from now on.
        *wake = None;
    }
    std::future::pending::<()>().await
}

/// Writes `credential.expired` for expiries that passed (once across every node: the store
/// marks each).
async fn audit_expired(state: &AppState) {
    match state
        .store
        .audit_expired_credentials(state.authority.now())
        .await
    {
        Ok(0) => {}
        Ok(n) => tracing::info!(credentials = n, "credentials expired"),
        Err(e) => tracing::warn!(error = %e, "could not audit expired credentials"),
    }
}

/// Writes `credential.expiring` 30, 7 and 1 days before an expiry (each once across every node).
async fn audit_expiring(state: &AppState) {
    match state
        .store
        .audit_expiring_credentials(state.authority.now())
        .await
    {
        Ok(0) => {}
        Ok(n) => tracing::info!(credentials = n, "credentials expiring soon"),
        Err(e) => tracing::warn!(error = %e, "could not audit expiring credentials"),
    }
}

async fn flush_last_used(state: &AppState) {
    let batch = state.authority.take_usage();
    if let Err(e) = state.store.record_usage(&batch).await {
        tracing::warn!(error = %e, "could not record last-used times and usage counts");
    }
}
