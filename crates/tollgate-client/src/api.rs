//! [`ApiClient`]: authenticated API calls that re-authenticate by themselves, and pagination.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use futures_util::Stream;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderName, HeaderValue, LINK};
use reqwest::{Method, Response, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tollgate_proto::{DEFAULT_API_VERSION, DEFAULT_VERSION_HEADER, OAuthErrorCode};

use crate::TokenSource;
use crate::config::{RetryPolicy, retry_after, wall_now};
use crate::error::{self, Endpoint, Error};
use crate::source::{join, parse_url};
use crate::token::Token;

/// A JSON request body, kept so that the request can be sent again.
type Body = Option<Arc<[u8]>>;

/// Configures an [`ApiClient`]. Made by [`ApiClient::builder`].
#[derive(Debug)]
pub struct ApiClientBuilder {
    tokens: TokenSource,
    base_url: Option<String>,
    version: Option<(String, String)>,
    retry: Option<RetryPolicy>,
    http: Option<reqwest::Client>,
}

impl ApiClientBuilder {
    /// The API's base URL (default: the token source's base URL).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// The API version sent in the version header (default `v2.0`).
    pub fn api_version(mut self, version: impl Into<String>) -> Self {
        let name = self
            .version
            .take()
            .map_or_else(|| DEFAULT_VERSION_HEADER.to_owned(), |(n, _)| n);
        self.version = Some((name, version.into()));
        self
    }

    /// The version header's name and value (default `360-api-version: v2.0`).
    pub fn version_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.version = Some((name.into(), value.into()));
        self
    }

    /// Sends no version header.
    pub fn without_version_header(mut self) -> Self {
        self.version = None;
        self
    }

    /// Retries of requests that did not reach the server, and the total timeout of a call
    /// (default: the token source's policy).
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = Some(retry);
        self
    }

    /// The HTTP client (default: the token source's).
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// Checks the configuration and builds the client.
    pub fn build(self) -> Result<ApiClient, Error> {
        let base_url = match &self.base_url {
            Some(u) => parse_url(u, "base URL")?,
            None => self.tokens.base_url().clone(),
        };
        let version = match self.version {
            None => None,
            Some((n, v)) => Some((
                HeaderName::from_bytes(n.as_bytes())
                    .map_err(|e| Error::Config(format!("version header name `{n}`: {e}")))?,
                HeaderValue::from_str(&v)
                    .map_err(|e| Error::Config(format!("version header value `{v}`: {e}")))?,
            )),
        };
        Ok(ApiClient {
            inner: Arc::new(ApiInner {
                http: self.http.unwrap_or_else(|| self.tokens.http().clone()),
                retry: self.retry.unwrap_or_else(|| *self.tokens.retry_policy()),
                tokens: self.tokens,
                base_url,
                version,
            }),
        })
    }
}

/// Calls a protected API with `Authorization: Bearer` and the version header.
///
/// - Tokens come from a [`TokenSource`], which renews them before they expire.
/// - A `401` whose error is `invalid_token` (or unnamed) drops the cached token, gets a new one and
///   sends the request once more; a second `401` is returned as [`Error::OAuth`].
/// - A request that could not connect is retried with backoff (any method: it never reached the
///   server); other network failures are retried for idempotent methods only. Everything is bounded
///   by the retry policy's total timeout, token requests included.
/// - [`ApiClient::paginate`] follows `Link: <…>; rel="next"` and yields items one by one.
///
/// Cheap to clone.
#[derive(Clone)]
pub struct ApiClient {
    inner: Arc<ApiInner>,
}

struct ApiInner {
    tokens: TokenSource,
    http: reqwest::Client,
    base_url: Url,
    version: Option<(HeaderName, HeaderValue)>,
    retry: RetryPolicy,
}

impl fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiClient")
            .field("base_url", &self.inner.base_url.as_str())
            .field("version", &self.inner.version)
            .field("tokens", &self.inner.tokens)
            .finish_non_exhaustive()
    }
}

impl ApiClient {
    /// A client for the token source's server, sending `360-api-version: v2.0`.
    pub fn new(tokens: TokenSource) -> Self {
        let retry = *tokens.retry_policy();
        Self {
            inner: Arc::new(ApiInner {
                http: tokens.http().clone(),
                base_url: tokens.base_url().clone(),
                version: Some((
                    HeaderName::from_static(DEFAULT_VERSION_HEADER),
                    HeaderValue::from_static(DEFAULT_API_VERSION),
                )),
                retry,
                tokens,
            }),
        }
    }

    /// Starts configuring a client.
    pub fn builder(tokens: TokenSource) -> ApiClientBuilder {
        ApiClientBuilder {
            tokens,
            base_url: None,
            version: Some((
                DEFAULT_VERSION_HEADER.to_owned(),
                DEFAULT_API_VERSION.to_owned(),
            )),
            retry: None,
            http: None,
        }
    }

    /// The token source.
    pub fn tokens(&self) -> &TokenSource {
        &self.inner.tokens
    }

    /// The URL of `path` (e.g. `/api/v2/groups?x=1`) on the API.
    pub fn url(&self, path: &str) -> Result<Url, Error> {
        join(&self.inner.base_url, path)
    }

    /// `GET path`, decoding the JSON answer.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, Error> {
        let url = self.url(path)?;
        let resp = self.execute(Method::GET, url, None).await?;
        decode(resp, path).await
    }

    /// `POST path` with a JSON body, decoding the JSON answer.
    pub async fn post<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, Error> {
        self.send_json(Method::POST, path, body).await
    }

    /// `PATCH path` with a JSON body, decoding the JSON answer.
    pub async fn patch<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, Error> {
        self.send_json(Method::PATCH, path, body).await
    }

    /// `DELETE path`, ignoring the answer's body.
    pub async fn delete(&self, path: &str) -> Result<(), Error> {
        let url = self.url(path)?;
        self.execute(Method::DELETE, url, None).await.map(drop)
    }

    async fn send_json<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &B,
    ) -> Result<T, Error> {
        let url = self.url(path)?;
        let bytes =
            serde_json::to_vec(body).map_err(|e| Error::Config(format!("request body: {e}")))?;
        let resp = self.execute(method, url, Some(bytes.into())).await?;
        decode(resp, path).await
    }

    /// Sends `method path` with an optional JSON body and returns the successful response as is
    /// (any 1xx–3xx status); an error status becomes [`Error::Api`] or [`Error::OAuth`].
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        json: Option<&serde_json::Value>,
    ) -> Result<Response, Error> {
        let url = self.url(path)?;
        let body = json
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|e| Error::Config(format!("request body: {e}")))?;
        self.execute(method, url, body.map(Into::into)).await
    }

    /// Every item of a paginated list: `GET path`, then each `Link: <…>; rel="next"` page in turn
    /// (each page a JSON array). Links to another origin are refused, so the token stays on the API.
    ///
    /// The stream ends after the first error.
    pub fn paginate<T>(
        &self,
        path: &str,
    ) -> impl Stream<Item = Result<T, Error>> + Send + Unpin + 'static
    where
        T: DeserializeOwned + Send + 'static,
    {
        let start = Pages {
            api: self.clone(),
            next: Some(self.url(path)),
            items: VecDeque::new(),
        };
        Box::pin(futures_util::stream::try_unfold(
            start,
            |mut pages| async move {
                loop {
                    if let Some(item) = pages.items.pop_front() {
                        return Ok(Some((item, pages)));
                    }
                    let Some(url) = pages.next.take() else {
                        return Ok(None);
                    };
                    let url = url?;
                    let resp = pages.api.execute(Method::GET, url.clone(), None).await?;
                    let next = next_page(&resp, &url)?;
                    let body = resp.bytes().await.map_err(Error::Transport)?;
                    let items: Vec<T> = serde_json::from_slice(&body)
                        .map_err(|e| Error::parse(format!("page {url}"), e))?;
                    pages.items = items.into();
                    pages.next = next.map(Ok);
                }
            },
        ))
    }

    /// Sends a request with a valid token, renewing once on `401 invalid_token` and retrying
    /// requests that did not reach the server, until the retry policy's timeout.
    async fn execute(&self, method: Method, url: Url, body: Body) -> Result<Response, Error> {
        let inner = &*self.inner;
        // Deadlines are real time (the source's clock only decides when tokens are due).
        let start = Instant::now();
        let deadline = start + inner.retry.timeout();
        let mut renewed = false;
        let mut attempt: u32 = 0;
        loop {
            let token = inner.tokens.token_until(deadline).await?;
            match self.send_once(&method, &url, &body, &token).await {
                Err(e) => {
                    let retryable = e.is_connect() || (is_idempotent(&method) && !e.is_builder());
                    let err = Error::Transport(e);
                    if !retryable {
                        return Err(err);
                    }
                    wait_or_give_up(&inner.retry, attempt, start, deadline, err).await?;
                    attempt = attempt.saturating_add(1);
                }
                Ok(resp) if resp.status().as_u16() == 401 => {
                    let err = read_error(resp).await;
                    let renewable =
                        matches!(err.oauth_code(), None | Some(OAuthErrorCode::InvalidToken));
                    if renewed || !renewable {
                        return Err(err);
                    }
                    inner.tokens.invalidate(&token);
                    renewed = true;
                }
                Ok(resp) if resp.status().is_client_error() || resp.status().is_server_error() => {
                    return Err(read_error(resp).await);
                }
                Ok(resp) => return Ok(resp),
            }
        }
    }

    async fn send_once(
        &self,
        method: &Method,
        url: &Url,
        body: &Body,
        token: &Token,
    ) -> Result<Response, reqwest::Error> {
        let inner = &*self.inner;
        let mut req = inner
            .http
            .request(method.clone(), url.clone())
            .header(ACCEPT, "application/json");
        if let Ok(mut auth) =
            HeaderValue::from_str(&format!("Bearer {}", token.access_token().expose_secret()))
        {
            auth.set_sensitive(true);
            req = req.header(AUTHORIZATION, auth);
        }
        if let Some((name, value)) = &inner.version {
            req = req.header(name.clone(), value.clone());
        }
        if let Some(b) = body {
            req = req
                .header(CONTENT_TYPE, "application/json")
                .body(b.to_vec());
        }
        req.send().await
    }
}

struct Pages<T> {
    api: ApiClient,
    next: Option<Result<Url, Error>>,
    items: VecDeque<T>,
}

fn is_idempotent(m: &Method) -> bool {
    matches!(
        *m,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::PUT | Method::DELETE
    )
}

/// Sleeps before the next attempt, or returns the timeout if it could not happen in time.
async fn wait_or_give_up(
    retry: &RetryPolicy,
    attempt: u32,
    start: Instant,
    deadline: Instant,
    error: Error,
) -> Result<(), Error> {
    let now = Instant::now();
    let delay = retry.jittered(attempt);
    if delay >= deadline.saturating_duration_since(now) {
        return Err(Error::Timeout {
            elapsed: now.saturating_duration_since(start),
            last: Some(Box::new(error)),
        });
    }
    tokio::time::sleep(delay).await;
    Ok(())
}

async fn read_error(resp: Response) -> Error {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let after = retry_after(&headers, wall_now());
    match resp.bytes().await {
        Ok(body) => error::from_response(Endpoint::Api, status, &headers, &body, after),
        Err(_) => error::from_response(Endpoint::Api, status, &headers, b"", after),
    }
}

async fn decode<T: DeserializeOwned>(resp: Response, path: &str) -> Result<T, Error> {
    let body = resp.bytes().await.map_err(Error::Transport)?;
    // An empty body (204) reads as JSON null, so `()` and `Option<_>` work.
    let body: &[u8] = if body.is_empty() { b"null" } else { &body };
    serde_json::from_slice(body).map_err(|e| Error::parse(format!("answer of {path}"), e))
}

/// The next page's URL from the `Link` headers, resolved against `current`, on the same origin.
fn next_page(resp: &Response, current: &Url) -> Result<Option<Url>, Error> {
    for value in resp.headers().get_all(LINK) {
        let Ok(value) = value.to_str() else { continue };
        let Some(target) = next_link(value) else {
            continue;
        };
        let url = current
            .join(target)
            .map_err(|e| Error::parse("Link header", format!("`{target}`: {e}")))?;
        if url.origin() != current.origin() {
            return Err(Error::parse(
                "Link header",
                format!("the next page {url} is on another server; not sending the token there"),
            ));
        }
        if url == *current {
            return Err(Error::parse(
                "Link header",
                "the next page is the same page",
            ));
        }
        return Ok(Some(url));
    }
    Ok(None)
}

/// The target of the `rel="next"` link in a `Link` header value (RFC 8288), e.g.
/// `<https://h/api/v2/groups?cursor=x>; rel="next"`.
pub(crate) fn next_link(value: &str) -> Option<&str> {
    let mut rest = value;
    loop {
        let open = rest.find('<')?;
        let after = &rest[open + 1..];
        let close = after.find('>')?;
        let target = &after[..close];
        let tail = &after[close + 1..];
        let params_end = tail.find('<').unwrap_or(tail.len());
        let is_next = tail[..params_end].split(';').any(|p| {
            p.split_once('=').is_some_and(|(k, v)| {
                k.trim().eq_ignore_ascii_case("rel")
                    && v.trim()
                        .trim_end_matches(',')
                        .trim()
                        .trim_matches('"')
                        .split_ascii_whitespace()
                        .any(|r| r.eq_ignore_ascii_case("next"))
            })
        });
        if is_next {
            return Some(target.trim());
        }
        rest = &tail[params_end..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_next_link() {
        assert_eq!(
            next_link(r#"<https://h/api/v2/groups?cursor=abc>; rel="next""#),
            Some("https://h/api/v2/groups?cursor=abc")
        );
        assert_eq!(
            next_link(r#"</p?page=1>; rel="prev", </p?page=3>; rel="next""#),
            Some("/p?page=3")
        );
        assert_eq!(next_link(r#"<https://h/x>; rel=next"#), Some("https://h/x"));
        assert_eq!(
            next_link(r#"<https://h/x>; title="a"; REL="last next""#),
            Some("https://h/x")
        );
        assert_eq!(next_link(r#"<https://h/x>; rel="prev""#), None);
        assert_eq!(next_link(r#"<https://h/x>; rel="nextish""#), None);
        assert_eq!(next_link(""), None);
        assert_eq!(next_link("garbage <unterminated"), None);
    }

    #[test]
    fn idempotent_methods() {
        assert!(is_idempotent(&Method::GET));
        assert!(is_idempotent(&Method::DELETE));
        assert!(!is_idempotent(&Method::POST));
        assert!(!is_idempotent(&Method::PATCH));
    }
}
