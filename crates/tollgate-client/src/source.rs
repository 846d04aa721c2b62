//! [`TokenSource`]: client-credentials tokens, cached, renewed before they expire, one request at a
//! time.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Url;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use serde::Serialize;
use tollgate_proto::{GRANT_CLIENT_CREDENTIALS, TOKEN_PATH};

use crate::config::{
    ClientAuth, Clock, RenewalMargin, RequestFormat, RetryPolicy, SystemClock, retry_after,
    wall_now,
};
use crate::error::{self, Endpoint, Error};
use crate::secret::ClientSecret;
use crate::token::{Token, parse_token_response};

/// Configures a [`TokenSource`]. Made by [`TokenSource::builder`].
pub struct TokenSourceBuilder {
    base_url: String,
    client_id: String,
    secret: ClientSecret,
    token_url: Option<String>,
    token_path: String,
    format: RequestFormat,
    auth: ClientAuth,
    scope: Option<String>,
    margin: RenewalMargin,
    default_expires_in: Duration,
    retry: RetryPolicy,
    http: Option<reqwest::Client>,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for TokenSourceBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSourceBuilder")
            .field("base_url", &self.base_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.secret)
            .field("token_url", &self.token_url)
            .field("token_path", &self.token_path)
            .field("format", &self.format)
            .field("auth", &self.auth)
            .field("scope", &self.scope)
            .field("margin", &self.margin)
            .field("default_expires_in", &self.default_expires_in)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl TokenSourceBuilder {
    /// The token endpoint's path under the base URL (default `/api/v2/oauth2/token`).
    pub fn token_path(mut self, path: impl Into<String>) -> Self {
        self.token_path = path.into();
        self
    }

    /// The token endpoint's full URL, for a server whose token endpoint is not under the base URL.
    pub fn token_url(mut self, url: impl Into<String>) -> Self {
        self.token_url = Some(url.into());
        self
    }

    /// JSON (default) or form body.
    pub fn request_format(mut self, format: RequestFormat) -> Self {
        self.format = format;
        self
    }

    /// Credentials in the body (default) or in a Basic header.
    pub fn client_auth(mut self, auth: ClientAuth) -> Self {
        self.auth = auth;
        self
    }

    /// Asks for these scopes (space-delimited); by default the server grants every scope the
    /// credential holds.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// When to renew (default [`RenewalMargin::Auto`]).
    pub fn renewal_margin(mut self, margin: RenewalMargin) -> Self {
        self.margin = margin;
        self
    }

    /// The lifetime assumed when a response has no `expires_in` (default 1 hour, the reference's
    /// lifetime).
    pub fn default_expires_in(mut self, lifetime: Duration) -> Self {
        self.default_expires_in = lifetime;
        self
    }

    /// Retries of the token request (see [`RetryPolicy`]).
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Shorthand for the retry policy's total timeout: how long [`TokenSource::token`] may take.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.retry = self.retry.with_timeout(timeout);
        self
    }

    /// The HTTP client to use (default: a new one).
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// The clock deciding when tokens are due (default: the real one).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Checks the URLs and builds the source. Nothing is requested yet.
    pub fn build(self) -> Result<TokenSource, Error> {
        let base_url = parse_url(&self.base_url, "base URL")?;
        let token_url = match &self.token_url {
            Some(u) => parse_url(u, "token URL")?,
            None => join(&base_url, &self.token_path)?,
        };
        if self.client_id.is_empty() {
            return Err(Error::Config("the client ID is empty".into()));
        }
        if self.secret.is_empty() {
            return Err(Error::Config("the client secret is empty".into()));
        }
        let http = match self.http {
            Some(c) => c,
            None => default_http_client()?,
        };
        Ok(TokenSource {
            inner: Arc::new(Inner {
                http,
                base_url,
                token_url,
                client_id: self.client_id,
                secret: RwLock::new(self.secret),
                format: self.format,
                auth: self.auth,
                scope: self.scope.filter(|s| !s.trim().is_empty()),
                margin: self.margin,
                default_expires_in: self.default_expires_in,
                retry: self.retry,
                clock: self.clock,
                state: Mutex::new(State::default()),
                flight: tokio::sync::Mutex::new(()),
            }),
        })
    }
}

pub(crate) fn default_http_client() -> Result<reqwest::Client, Error> {
    reqwest::Client::builder()
        .user_agent(concat!("tollgate-client/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))
}

pub(crate) fn parse_url(s: &str, what: &str) -> Result<Url, Error> {
    let url = Url::parse(s).map_err(|e| Error::Config(format!("{what} `{s}`: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(Error::Config(format!("{what} `{s}` is not an http(s) URL")));
    }
    Ok(url)
}

/// `base` + `path`, keeping a path prefix of `base` (`http://h/tg` + `/api/x` = `http://h/tg/api/x`).
/// An absolute `path` must be on the same origin as `base`, so a bearer token is never sent elsewhere.
pub(crate) fn join(base: &Url, path: &str) -> Result<Url, Error> {
    if path.starts_with("http://") || path.starts_with("https://") {
        let url = parse_url(path, "URL")?;
        if url.origin() != base.origin() {
            return Err(Error::Config(format!(
                "`{path}` is not on the server {base}"
            )));
        }
        return Ok(url);
    }
    let prefix = base.as_str().trim_end_matches('/');
    let path = path.trim_start_matches('/');
    parse_url(&format!("{prefix}/{path}"), "URL")
}

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

/// Why an attempt failed, and whether to try again.
enum Failure {
    /// Try again after `after` (the server's `Retry-After`) or after the backoff.
    Retry {
        error: Error,
        after: Option<Duration>,
    },
    /// Do not try again.
    Fatal(Error),
}

impl TokenSource {
    /// Starts configuring a source for the server at `base_url` (e.g. `http://127.0.0.1:8080`): the
    /// token endpoint is `base_url` + `/api/v2/oauth2/token` unless changed.
    pub fn builder(
        base_url: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<ClientSecret>,
    ) -> TokenSourceBuilder {
        TokenSourceBuilder {
            base_url: base_url.into(),
            client_id: client_id.into(),
            secret: client_secret.into(),
            token_url: None,
            token_path: TOKEN_PATH.to_owned(),
            format: RequestFormat::default(),
            auth: ClientAuth::default(),
            scope: None,
            margin: RenewalMargin::default(),
            default_expires_in: Duration::from_secs(3600),
            retry: RetryPolicy::default(),
            http: None,
            clock: Arc::new(SystemClock),
        }
    }

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

    /// Requests a token, retrying until `deadline` (real time). The caller holds the flight.
    async fn fetch_until(&self, deadline: Instant) -> Result<Token, Error> {
        let retry = &self.inner.retry;
        let start = Instant::now();
        let mut last: Option<Error> = None;
        let mut attempt: u32 = 0;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(Error::Timeout {
                    elapsed: start.elapsed(),
                    last: last.map(Box::new),
                });
            }
            let (error, after) = match self
                .request_once(remaining.min(retry.attempt_timeout()))
                .await
            {
                Ok(token) => return Ok(token),
                Err(Failure::Fatal(e)) => return Err(e),
                Err(Failure::Retry { error, after }) => (error, after),
            };
            let delay = after.unwrap_or_else(|| retry.jittered(attempt));
            let remaining = deadline.saturating_duration_since(Instant::now());
            if delay >= remaining {
                // The next attempt could not happen in time (or earlier than the server asked).
                return Err(Error::Timeout {
                    elapsed: start.elapsed(),
                    last: Some(Box::new(error)),
                });
            }
            tokio::time::sleep(delay).await;
            last = Some(error);
            attempt = attempt.saturating_add(1);
        }
    }

    /// One token request.
    async fn request_once(&self, timeout: Duration) -> Result<Token, Failure> {
        let inner = &*self.inner;
        let secret = inner
            .secret
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let in_body = inner.auth == ClientAuth::SecretPost;
        let params = TokenParams {
            grant_type: GRANT_CLIENT_CREDENTIALS,
            client_id: in_body.then_some(inner.client_id.as_str()),
            client_secret: in_body.then_some(secret.expose_secret()),
            scope: inner.scope.as_deref(),
        };
        let mut req = inner
            .http
            .post(inner.token_url.clone())
            .timeout(timeout)
            .header(ACCEPT, "application/json");
        if inner.auth == ClientAuth::SecretBasic {
            req = req.header(AUTHORIZATION, basic(&inner.client_id, &secret)?);
        }
        req = match inner.format {
            RequestFormat::Json => {
                let body = serde_json::to_vec(&params)
                    .map_err(|e| Failure::Fatal(Error::Config(e.to_string())))?;
                req.header(CONTENT_TYPE, "application/json").body(body)
            }
            RequestFormat::Form => req.form(&params),
        };
        // The lifetime counts from before the request: the server issued the token after that.
        let sent_at = inner.clock.now();
        let resp = req.send().await.map_err(transport)?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.bytes().await.map_err(transport)?;
        if status.is_success() {
            return parse_token_response(&body, inner.default_expires_in, sent_at)
                .map_err(Failure::Fatal);
        }
        let after = retry_after(&headers, wall_now());
        let error = error::from_response(Endpoint::Token, status.as_u16(), &headers, &body, after);
        let code = status.as_u16();
        if code == 429 || code == 408 || status.is_server_error() {
            Err(Failure::Retry {
                error,
                after: if code == 429 || code == 503 {
                    after
                } else {
                    None
                },
            })
        } else {
            Err(Failure::Fatal(error))
        }
    }
}

fn transport(e: reqwest::Error) -> Failure {
    Failure::Retry {
        error: Error::Transport(e),
        after: None,
    }
}

#[derive(Serialize)]
struct TokenParams<'a> {
    grant_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_secret: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'a str>,
}

/// application/x-www-form-urlencoded, as RFC 6749 §2.3.1 asks for each part of the Basic header.
const FORM: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'*')
    .remove(b'-')
    .remove(b'.')
    .remove(b'_');

fn basic(client_id: &str, secret: &ClientSecret) -> Result<HeaderValue, Failure> {
    let pair = zeroize::Zeroizing::new(format!(
        "{}:{}",
        utf8_percent_encode(client_id, FORM),
        utf8_percent_encode(secret.expose_secret(), FORM)
    ));
    let mut v = HeaderValue::from_str(&format!("Basic {}", STANDARD.encode(pair.as_bytes())))
        .map_err(|e| Failure::Fatal(Error::Config(e.to_string())))?;
    v.set_sensitive(true);
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_paths_under_the_base_url() {
        let b = Url::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!(
            join(&b, "/api/v2/oauth2/token").unwrap().as_str(),
            "http://127.0.0.1:8080/api/v2/oauth2/token"
        );
        let b = Url::parse("https://h.example/tg/").unwrap();
        assert_eq!(
            join(&b, "/api/v2/groups?x=1").unwrap().as_str(),
            "https://h.example/tg/api/v2/groups?x=1"
        );
        assert!(join(&b, "https://h.example/other").is_ok());
        assert!(join(&b, "https://evil.example/api").is_err());
        assert!(parse_url("ftp://x", "base URL").is_err());
        assert!(parse_url("not a url", "base URL").is_err());
    }

    #[test]
    fn basic_header_form_encodes_each_part() {
        let v = basic("id:1", &ClientSecret::new("s e+c")).ok().unwrap();
        assert!(v.is_sensitive());
        let text = v
            .to_str()
            .unwrap()
            .strip_prefix("Basic ")
            .unwrap()
            .to_owned();
        let raw = String::from_utf8(STANDARD.decode(text).unwrap()).unwrap();
        assert_eq!(raw, "id%3A1:s%20e%2Bc");
    }

    #[test]
    fn builder_checks_its_input_and_debug_hides_the_secret() {
        let b = TokenSource::builder("http://127.0.0.1:1", "cid", "tgsec_hidden");
        assert!(!format!("{b:?}").contains("tgsec_hidden"));
        let s = b.build().unwrap();
        assert!(!format!("{s:?}").contains("tgsec_hidden"));
        assert_eq!(
            s.token_url().as_str(),
            "http://127.0.0.1:1/api/v2/oauth2/token"
        );
        assert!(TokenSource::builder("nope", "cid", "s").build().is_err());
        assert!(TokenSource::builder("http://h", "", "s").build().is_err());
        assert!(TokenSource::builder("http://h", "cid", "").build().is_err());
    }
}
