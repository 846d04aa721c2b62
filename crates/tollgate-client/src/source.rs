//! [`TokenSource`]: client-credentials tokens, cached, renewed before they expire, one request at a
//! time (the single flight and the background renewal). Its configuration is in `builder`, the
//! token request and its retries in `request`.

mod builder;
mod request;

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant};

use reqwest::Url;

use crate::config::{ClientAuth, Clock, RenewalMargin, RequestFormat, RetryPolicy};
use crate::error::Error;
use crate::secret::ClientSecret;
use crate::token::Token;

pub use builder::TokenSourceBuilder;
pub(crate) use builder::{join, parse_url};

/// Fetches, caches and renews client-credentials access tokens. Cheap to clone; clones share the
/// cache.
///
/// - [`TokenSource::token`] returns the cached token while it is fresh. Once it is within the
///   [`RenewalMargin`] of its expiry, one background task renews it while callers keep getting the
///   still-valid token; if that renewal fails, the cached token keeps being served until it expires.
/// - Without a usable token, callers wait for a single token request (single-flight): any number of
///   concurrent callers cause exactly one request.
/// - Network errors, 5xx, 408 and 429 are retried with exponential backoff and jitter (429 after
///   its `Retry-After`), within the total timeout. Other refusals (`invalid_client`, `invalid_scope`,
///   …) come back at once as [`Error::OAuth`].
pub struct TokenSource {
    inner: Arc<Inner>,
}

impl Clone for TokenSource {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

struct Inner {
    http: reqwest::Client,
    base_url: Url,
    token_url: Url,
    client_id: String,
    secret: RwLock<ClientSecret>,
    format: RequestFormat,
    auth: ClientAuth,
    scope: Option<String>,
    margin: RenewalMargin,
    default_expires_in: Duration,
    retry: RetryPolicy,
    clock: Arc<dyn Clock>,
    state: Mutex<State>,
    /// Held by whoever requests a token: the single flight.
    flight: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct State {
    cached: Option<Cached>,
    /// A background renewal is running.
    renewing: bool,
    /// After a failed background renewal: do not start another before this.
    renew_not_before: Option<Instant>,
}

#[derive(Clone)]
struct Cached {
    token: Token,
    renew_at: Instant,
}

enum Lookup {
    Fresh(Token),
    /// Valid but due for renewal.
    Due(Token),
    Missing,
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSource")
            .field("token_url", &self.inner.token_url.as_str())
            .field("client_id", &self.inner.client_id)
            .field("client_secret", &"[redacted]")
            .field("format", &self.inner.format)
            .field("auth", &self.inner.auth)
            .field("scope", &self.inner.scope)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl TokenSource {
    /// A token that is valid now: the cached one, or a new one.
    pub async fn token(&self) -> Result<Token, Error> {
        let deadline = Instant::now() + self.inner.retry.timeout();
        self.token_until(deadline).await
    }

    /// Requests a new token now, whatever the cache holds, and caches it.
    pub async fn fetch(&self) -> Result<Token, Error> {
        let deadline = Instant::now() + self.inner.retry.timeout();
        let _flight = self.lock_flight(deadline).await?;
        let token = self.fetch_until(deadline).await?;
        self.store(token.clone());
        Ok(token)
    }

    /// The cached token, if any, without requesting one (it may be expired).
    pub fn cached(&self) -> Option<Token> {
        lock(&self.inner.state)
            .cached
            .as_ref()
            .map(|c| c.token.clone())
    }

    /// Forgets `token` (say, after the API refused it), so the next [`TokenSource::token`] requests
    /// a new one. Does nothing if the cache already holds another token.
    pub fn invalidate(&self, token: &Token) {
        let mut st = lock(&self.inner.state);
        if st.cached.as_ref().is_some_and(|c| c.token.same_as(token)) {
            st.cached = None;
        }
    }

    /// Forgets the cached token.
    pub fn clear(&self) {
        lock(&self.inner.state).cached = None;
    }

    /// Replaces the client secret (after a rotation). The cached token is kept while it works; the
    /// next token request uses the new secret.
    pub fn set_client_secret(&self, secret: impl Into<ClientSecret>) {
        *self
            .inner
            .secret
            .write()
            .unwrap_or_else(PoisonError::into_inner) = secret.into();
        lock(&self.inner.state).renew_not_before = None;
    }

    /// The client ID.
    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    /// The server's base URL.
    pub fn base_url(&self) -> &Url {
        &self.inner.base_url
    }

    /// The token endpoint.
    pub fn token_url(&self) -> &Url {
        &self.inner.token_url
    }

    /// The retry policy (whose timeout bounds [`TokenSource::token`]).
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.inner.retry
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// As [`TokenSource::token`], giving up at `deadline` (real time).
    pub(crate) async fn token_until(&self, deadline: Instant) -> Result<Token, Error> {
        match self.lookup() {
            Lookup::Fresh(t) => return Ok(t),
            Lookup::Due(t) => {
                self.renew_in_background();
                return Ok(t);
            }
            Lookup::Missing => {}
        }
        let _flight = self.lock_flight(deadline).await?;
        // Whoever held the flight before us may have fetched a token.
        match self.lookup() {
            Lookup::Fresh(t) | Lookup::Due(t) => return Ok(t),
            Lookup::Missing => {}
        }
        let token = self.fetch_until(deadline).await?;
        self.store(token.clone());
        Ok(token)
    }

    fn lookup(&self) -> Lookup {
        let now = self.inner.clock.now();
        match &lock(&self.inner.state).cached {
            Some(c) if now < c.renew_at => Lookup::Fresh(c.token.clone()),
            Some(c) if now < c.token.expires_at() => Lookup::Due(c.token.clone()),
            _ => Lookup::Missing,
        }
    }

    fn store(&self, token: Token) {
        let margin = self.inner.margin.for_lifetime(token.expires_in());
        let renew_at = token.expires_at() - margin;
        let mut st = lock(&self.inner.state);
        st.cached = Some(Cached { token, renew_at });
        st.renew_not_before = None;
    }

    async fn lock_flight(
        &self,
        deadline: Instant,
    ) -> Result<tokio::sync::MutexGuard<'_, ()>, Error> {
        let start = Instant::now();
        let wait = deadline.saturating_duration_since(start);
        tokio::time::timeout(wait, self.inner.flight.lock())
            .await
            .map_err(|_| Error::Timeout {
                elapsed: start.elapsed(),
                last: None,
            })
    }

    /// Starts one background renewal of a token that is due, unless one runs or failed recently.
    fn renew_in_background(&self) {
        let now = self.inner.clock.now();
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return; // no runtime to run it on: the token is renewed inline once it expires
        };
        {
            let mut st = lock(&self.inner.state);
            if st.renewing || st.renew_not_before.is_some_and(|t| now < t) {
                return;
            }
            st.renewing = true;
        }
        let this = self.clone();
        runtime.spawn(async move {
            let result = this.renew_due_token().await;
            let mut st = lock(&this.inner.state);
            st.renewing = false;
            if result.is_err() {
                // Keep serving the cached token; try again a little later.
                st.renew_not_before = Some(this.inner.clock.now() + this.inner.retry.cooldown());
            }
        });
    }

    async fn renew_due_token(&self) -> Result<(), Error> {
        let _flight = self.inner.flight.lock().await;
        let Lookup::Due(current) = self.lookup() else {
            return Ok(()); // renewed, dropped or expired meanwhile: callers handle it
        };
        // Try until the token expires (by the source's clock), within the timeout (real time).
        let left = current
            .expires_at()
            .saturating_duration_since(self.inner.clock.now());
        let deadline = Instant::now() + self.inner.retry.timeout().min(left);
        let token = self.fetch_until(deadline).await?;
        self.store(token);
        Ok(())
    }
}
