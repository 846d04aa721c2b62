//! The revocation feed's subscriber: a background task that keeps a [`View`] of what tollgate says
//! is still valid (credentials with their live secrets and scopes, company ceilings, revoked token
//! ids), from a snapshot and the events that follow it.
//!
//! It authenticates with its credential (a token from tollgate's token endpoint, fetched again when
//! it expires or the feed answers 401), reconnects with a doubling backoff and `Last-Event-ID`, and
//! takes a connection that sends nothing for `idle_timeout` for dead.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tollgate_proto::{CredentialState, FeedEvent, REVOCATIONS_SCOPE, ScopeSet, TokenResponse};

use crate::metrics::{Counters, bump};
use crate::options::{FailMode, FeedOptions};
use crate::sse;

/// Longest event-stream line accepted (a snapshot is one line of JSON).
const MAX_LINE: usize = 64 * 1024 * 1024;

/// What the feed says is valid now.
#[derive(Debug, Default)]
pub(crate) struct View {
    companies: HashMap<String, ScopeSet>,
    credentials: HashMap<String, CredentialState>,
    revoked: HashMap<String, i64>,
    /// Revocations of expired tokens are dropped at most once a minute.
    next_prune: i64,
}

/// What a token's check against the feed found.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// Valid; the scopes in force.
    Valid(ScopeSet),
    /// Revoked, or its credential, secret or company gone.
    Revoked,
    /// The feed is down past `max_staleness` and the verifier fails closed.
    Unavailable,
    /// The feed is down past `max_staleness` and the verifier fails open: the token's own scopes.
    FailedOpen,
}

/// The token's facts the feed decides on.
pub(crate) struct TokenFacts<'a> {
    pub(crate) jti: &'a str,
    pub(crate) client_id: &'a str,
    pub(crate) company_id: &'a str,
    pub(crate) secret_id: &'a str,
    pub(crate) scopes: &'a ScopeSet,
}

#[derive(Debug)]
pub(crate) struct FeedState {
    view: RwLock<Option<View>>,
    max_staleness: Duration,
    fail_mode: FailMode,
    counters: Arc<Counters>,
    /// Becomes true with the first snapshot.
    ready: watch::Sender<bool>,
}

impl FeedState {
    pub(crate) fn new(opts: &FeedOptions, counters: Arc<Counters>) -> Self {
        Self {
            view: RwLock::new(None),
            max_staleness: opts.max_staleness,
            fail_mode: opts.fail_mode,
            counters,
            ready: watch::Sender::new(false),
        }
    }

    /// Whether the fail mode applies: no snapshot yet, or disconnected for longer than
    /// `max_staleness` since the feed was last heard from.
    pub(crate) fn is_stale(&self) -> bool {
        let has_view = self.view.read().map(|v| v.is_some()).unwrap_or(false);
        if !has_view {
            return true;
        }
        if self.counters.feed_connected.load(Ordering::SeqCst) {
            return false;
        }
        self.counters
            .feed_last_heard
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_none_or(|t| t.elapsed() > self.max_staleness)
    }

    pub(crate) async fn wait_ready(&self) {
        let mut rx = self.ready.subscribe();
        let _ = rx.wait_for(|r| *r).await;
    }

    pub(crate) fn check(&self, t: &TokenFacts<'_>, now: i64) -> Verdict {
        if self.is_stale() {
            return match self.fail_mode {
                FailMode::Closed => {
                    bump(&self.counters.fail_closed_refusals);
                    Verdict::Unavailable
                }
                FailMode::Open => {
                    bump(&self.counters.fail_open_accepts);
                    Verdict::FailedOpen
                }
            };
        }
        let guard = match self.view.read() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let Some(view) = guard.as_ref() else {
            return Verdict::Unavailable;
        };
        let verdict = (|| {
            if view.revoked.contains_key(t.jti) {
                return None;
            }
            let cred = view.credentials.get(t.client_id)?;
            if cred.company_id != t.company_id {
                return None;
            }
            if !cred
                .secrets
                .iter()
                .any(|s| s.id == t.secret_id && s.is_live(now))
            {
                return None;
            }
            let ceiling = view.companies.get(t.company_id)?;
            Some(t.scopes.intersection(&cred.scopes).intersection(ceiling))
        })();
        match verdict {
            Some(scopes) => Verdict::Valid(scopes),
            None => {
                bump(&self.counters.revoked_refusals);
                Verdict::Revoked
            }
        }
    }

    fn heard(&self) {
        *self
            .counters
            .feed_last_heard
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
    }

    /// Marks the feed connected (heard from now) or not (the outage counts from the last message).
    fn set_connected(&self, connected: bool) {
        if connected {
            self.heard();
        }
        self.counters
            .feed_connected
            .store(connected, Ordering::SeqCst);
    }

    fn apply(&self, event: FeedEvent, now: i64) {
        if let FeedEvent::Snapshot(s) = event {
            bump(&self.counters.feed_snapshots);
            // Built before taking the lock: verifications go on meanwhile.
            let view = View {
                companies: s
                    .companies
                    .into_iter()
                    .map(|c| (c.company_id, c.scopes))
                    .collect(),
                credentials: s
                    .credentials
                    .into_iter()
                    .map(|c| (c.client_id.clone(), c))
                    .collect(),
                revoked: s
                    .revoked
                    .into_iter()
                    .filter(|r| r.exp > now)
                    .map(|r| (r.jti, r.exp))
                    .collect(),
                next_prune: now + 60,
            };
            match self.view.write() {
                Ok(mut g) => *g = Some(view),
                Err(p) => *p.into_inner() = Some(view),
            }
            self.ready.send_replace(true);
            return;
        }
        let mut guard = match self.view.write() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        // Events before a snapshot would apply to nothing; the server always sends one first.
        let Some(view) = guard.as_mut() else { return };
        bump(&self.counters.feed_events);
        match event {
            FeedEvent::Credential(c) => {
                view.credentials.insert(c.client_id.clone(), c);
            }
            FeedEvent::CredentialDeleted { client_id } => {
                view.credentials.remove(&client_id);
            }
            FeedEvent::Company(c) => {
                view.companies.insert(c.company_id, c.scopes);
            }
            FeedEvent::CompanyDeleted { company_id } => {
                view.companies.remove(&company_id);
            }
            FeedEvent::Revoked(r) => {
                view.revoked.insert(r.jti, r.exp);
                if now >= view.next_prune {
                    view.revoked.retain(|_, exp| *exp > now);
                    view.next_prune = now + 60;
                }
            }
            _ => {}
        }
    }
}

/// Where and how the subscriber connects.
pub(crate) struct Subscription {
    pub(crate) http: reqwest::Client,
    pub(crate) feed_url: String,
    pub(crate) token_url: String,
    pub(crate) opts: FeedOptions,
    pub(crate) clock: Arc<dyn crate::options::Clock>,
    /// Timeout of the token request (the stream has none: `idle_timeout` bounds each read).
    pub(crate) timeout: Duration,
}

/// Why one connection ended.
#[derive(Debug)]
enum Ended {
    /// The token was refused: get another one.
    Unauthorized,
    /// Anything else: reconnect after the backoff.
    Other(String),
}

/// The subscriber task: runs until aborted (when the last `Verifier` clone is dropped).
pub(crate) async fn run(state: Arc<FeedState>, sub: Subscription) {
    let mut cursor: Option<String> = None;
    let mut token: Option<(String, Instant)> = None;
    let mut backoff = sub.opts.min_backoff;
    loop {
        if token
            .as_ref()
            .is_none_or(|(_, until)| Instant::now() >= *until)
        {
            match fetch_token(&sub).await {
                Ok(t) => token = Some(t),
                Err(e) => {
                    tracing::warn!(error = %e, "revocation feed: no token");
                    backoff = pause(backoff, &sub.opts).await;
                    continue;
                }
            }
        }
        let Some((bearer, _)) = token.as_ref() else {
            continue;
        };
        let before = state.counters.feed_connects.load(Ordering::Relaxed);
        match connect(&state, &sub, bearer, &mut cursor).await {
            Ended::Unauthorized => token = None,
            Ended::Other(why) => tracing::info!(reason = %why, "revocation feed disconnected"),
        }
        if state.counters.feed_connects.load(Ordering::Relaxed) != before {
            backoff = sub.opts.min_backoff;
        }
        backoff = pause(backoff, &sub.opts).await;
    }
}

/// Sleeps `backoff` (with up to 20 % of jitter) and returns the next one.
async fn pause(backoff: Duration, opts: &FeedOptions) -> Duration {
    let jitter = backoff.mul_f64(fastrand::f64() * 0.2);
    tokio::time::sleep(backoff + jitter).await;
    (backoff * 2).min(opts.max_backoff)
}

async fn fetch_token(sub: &Subscription) -> Result<(String, Instant), String> {
    let resp = sub
        .http
        .post(&sub.token_url)
        .timeout(sub.timeout)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", sub.opts.client_id.as_str()),
            ("client_secret", sub.opts.client_secret.expose_secret()),
            ("scope", REVOCATIONS_SCOPE),
        ])
        .send()
        .await
        .map_err(|e| format!("token request: {e}"))?;
    if !resp.status().is_success() {
        return Err(format!("token request: HTTP {}", resp.status().as_u16()));
    }
    let t: TokenResponse = resp
        .json()
        .await
        .map_err(|e| format!("token response: {e}"))?;
    // Renewed a little ahead of expiry: the token is only shown when (re)connecting.
    let life = Duration::from_secs(t.expires_in.saturating_sub(30).max(1));
    Ok((t.access_token, Instant::now() + life))
}

/// One connection, until it ends.
async fn connect(
    state: &FeedState,
    sub: &Subscription,
    bearer: &str,
    cursor: &mut Option<String>,
) -> Ended {
    let (header, version) = &sub.opts.version_header;
    let mut req = sub
        .http
        .get(&sub.feed_url)
        .bearer_auth(bearer)
        .header(header.as_str(), version.as_str())
        .header("accept", "text/event-stream");
    if let Some(c) = cursor.as_deref() {
        req = req.header("last-event-id", c);
    }
    // No overall timeout on the stream: `idle_timeout` bounds each read instead.
    let connecting = tokio::time::timeout(sub.opts.idle_timeout, req.send()).await;
    let mut resp = match connecting {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return Ended::Other(format!("connect: {e}")),
        Err(_) => return Ended::Other("connect: timed out".into()),
    };
    match resp.status().as_u16() {
        200 => {}
        401 => return Ended::Unauthorized,
        s => return Ended::Other(format!("HTTP {s}")),
    }
    bump(&state.counters.feed_connects);
    state.set_connected(true);
    let mut parser = sse::Parser::new(MAX_LINE);
    let mut messages = Vec::new();
    let ended = loop {
        let chunk = match tokio::time::timeout(sub.opts.idle_timeout, resp.chunk()).await {
            Ok(Ok(Some(c))) => c,
            Ok(Ok(None)) => break Ended::Other("the server closed the stream".into()),
            Ok(Err(e)) => break Ended::Other(format!("read: {e}")),
            Err(_) => break Ended::Other("silent for idle_timeout".into()),
        };
        state.heard();
        if let Err(e) = parser.push(&chunk, &mut messages) {
            break Ended::Other(e.to_string());
        }
        let now = sub.clock.now();
        for m in messages.drain(..) {
            match serde_json::from_str::<FeedEvent>(&m.data) {
                Ok(event) => state.apply(event, now),
                // An event type of a newer server: skipped, its cursor still counts.
                Err(e) => {
                    tracing::debug!(event = %m.event, error = %e, "revocation feed: event skipped")
                }
            }
            if let Some(id) = m.id {
                *cursor = Some(id);
            }
        }
    };
    state.set_connected(false);
    ended
}
