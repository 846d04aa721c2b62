//! The token request itself: one HTTP attempt (body, Basic header, the answer's classification) and
//! the retries with backoff around it, within a deadline.

use std::sync::PoisonError;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use serde::Serialize;
use tollgate_proto::GRANT_CLIENT_CREDENTIALS;

use super::TokenSource;
use crate::config::{ClientAuth, RequestFormat, retry_after, wall_now};
use crate::error::{self, Endpoint, Error};
use crate::secret::ClientSecret;
use crate::token::{Token, parse_token_response};

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
    /// Requests a token, retrying until `deadline` (real time). The caller holds the flight.
    pub(super) async fn fetch_until(&self, deadline: Instant) -> Result<Token, Error> {
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
}
