//! [`TokenSourceBuilder`]: a [`TokenSource`]'s configuration, checked once by `build`, and the URL
//! helpers it shares with the API client.

use std::fmt;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use reqwest::Url;
use tollgate_proto::TOKEN_PATH;

use super::{Inner, State, TokenSource};
use crate::config::{ClientAuth, Clock, RenewalMargin, RequestFormat, RetryPolicy, SystemClock};
use crate::error::Error;
use crate::secret::ClientSecret;

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
