//! The SDK's error: the server's OAuth error, other HTTP errors, transport failures and unreadable
//! responses are kept apart.

use std::error::Error as _;
use std::fmt;
use std::time::Duration;

use reqwest::header::{HeaderMap, WWW_AUTHENTICATE};
use serde::Deserialize;
use tollgate_proto::{OAuthErrorBody, OAuthErrorCode};

/// Everything that can go wrong in this crate.
///
/// `Display` never includes a client secret or an access token.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The server sent an OAuth 2.0 error: RFC 6749 §5.2 from the token endpoint (`invalid_client`,
    /// `invalid_scope`, …) or RFC 6750 §3.1 from the API (`invalid_token` that renewing did not cure).
    OAuth(OAuthError),
    /// The server answered with an error status that carries no OAuth error, such as the reference
    /// API's `{"error":{"code","message"}}` envelope (`groupNotFound`, `invalid_scope`, …).
    Api(ApiError),
    /// The request did not get an answer: connection refused or reset, DNS, TLS, timeout.
    Transport(reqwest::Error),
    /// An answer could not be understood (not JSON, a field missing or of the wrong type).
    Parse {
        /// What was being read, e.g. "token response".
        context: String,
        /// What is wrong with it.
        message: String,
    },
    /// Retries ran out of time.
    Timeout {
        /// How long the call tried.
        elapsed: Duration,
        /// The last failure before giving up, if an attempt was made.
        last: Option<Box<Error>>,
    },
    /// The client is misconfigured (a URL or header that does not parse).
    Config(String),
}

/// Which endpoint sent an [`OAuthError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Endpoint {
    /// The token endpoint.
    Token,
    /// The protected API.
    Api,
}

/// An OAuth 2.0 error as the server sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OAuthError {
    /// Which endpoint answered.
    pub endpoint: Endpoint,
    /// HTTP status.
    pub status: u16,
    /// The `error` code.
    pub code: OAuthErrorCode,
    /// The `error_description`, if any.
    pub description: Option<String>,
}

/// An HTTP error status without an OAuth error body.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ApiError {
    /// HTTP status.
    pub status: u16,
    /// `error.code` of the reference envelope (or `error` when it is a plain string).
    pub code: Option<String>,
    /// `error.message` of the reference envelope.
    pub message: Option<String>,
    /// The body as text (at most 4 KiB).
    pub body: String,
    /// The `Retry-After` delay, when the server gave one.
    pub retry_after: Option<Duration>,
}

impl Error {
    /// The OAuth error code, if the server sent one (looking through [`Error::Timeout`]).
    pub fn oauth_code(&self) -> Option<&OAuthErrorCode> {
        match self {
            Self::OAuth(e) => Some(&e.code),
            Self::Timeout { last: Some(e), .. } => e.oauth_code(),
            _ => None,
        }
    }

    /// Whether the token endpoint refused the client's credentials (`invalid_client`): retrying will
    /// not help until the secret is replaced (see [`crate::TokenSource::set_client_secret`]).
    pub fn is_invalid_client(&self) -> bool {
        matches!(self.oauth_code(), Some(OAuthErrorCode::InvalidClient))
    }

    /// The HTTP status of the answer that caused this error, if there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::OAuth(e) => Some(e.status),
            Self::Api(e) => Some(e.status),
            Self::Timeout { last: Some(e), .. } => e.status(),
            _ => None,
        }
    }

    pub(crate) fn parse(context: impl Into<String>, message: impl fmt::Display) -> Self {
        Self::Parse {
            context: context.into(),
            message: message.to_string(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OAuth(e) => e.fmt(f),
            Self::Api(e) => e.fmt(f),
            Self::Transport(e) => {
                // reqwest's top-level message is vague ("error sending request"); the causes say why.
                write!(f, "network error: {e}")?;
                let mut cause = e.source();
                while let Some(c) = cause {
                    write!(f, ": {c}")?;
                    cause = c.source();
                }
                Ok(())
            }
            Self::Parse { context, message } => {
                write!(f, "unexpected {context}: {message}")
            }
            Self::Timeout { elapsed, last } => {
                write!(f, "gave up after {:.1} s", elapsed.as_secs_f64())?;
                match last {
                    Some(e) => write!(f, "; last error: {e}"),
                    None => Ok(()),
                }
            }
            Self::Config(m) => write!(f, "invalid client configuration: {m}"),
        }
    }
}

impl std::error::Error for Error {}

impl fmt::Display for OAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = match self.endpoint {
            Endpoint::Token => "the token endpoint",
            Endpoint::Api => "the API",
        };
        write!(f, "{who} answered {} {}", self.status, self.code)?;
        if let Some(d) = &self.description {
            write!(f, ": {d}")?;
        }
        if self.code == OAuthErrorCode::InvalidClient {
            f.write_str(" (check the client ID and secret; a rotated secret must be replaced)")?;
        }
        Ok(())
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        match (&self.code, &self.message) {
            (Some(c), Some(m)) => write!(f, " {c}: {m}"),
            (Some(c), None) => write!(f, " {c}"),
            _ if self.body.trim().is_empty() => Ok(()),
            _ => write!(f, ": {}", self.body.trim()),
        }
    }
}

const MAX_BODY_IN_ERROR: usize = 4096;

/// The reference's error envelope, loosely: `{"error":{"code","message"}}` or `{"error":"code"}`.
#[derive(Deserialize)]
struct Envelope {
    error: EnvelopeError,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum EnvelopeError {
    Detail {
        code: Option<String>,
        message: Option<String>,
    },
    Code(String),
}

/// Builds the error for an unsuccessful answer.
///
/// From the token endpoint, an RFC 6749 §5.2 body is an [`Error::OAuth`]. From the API, a 401 is an
/// [`Error::OAuth`] read from the body or, failing that, the `WWW-Authenticate` challenge; anything
/// else is an [`Error::Api`].
pub(crate) fn from_response(
    endpoint: Endpoint,
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    retry_after: Option<Duration>,
) -> Error {
    let oauth_expected = match endpoint {
        Endpoint::Token => true,
        Endpoint::Api => status == 401,
    };
    if oauth_expected {
        if let Ok(b) = serde_json::from_slice::<OAuthErrorBody>(body) {
            return Error::OAuth(OAuthError {
                endpoint,
                status,
                code: b.error,
                description: b.error_description,
            });
        }
        if let Some(code) = headers
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| challenge_param(v, "error"))
        {
            return Error::OAuth(OAuthError {
                endpoint,
                status,
                code: OAuthErrorCode::from_wire(&code),
                description: headers
                    .get(WWW_AUTHENTICATE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| challenge_param(v, "error_description")),
            });
        }
    }
    let (code, message) = match serde_json::from_slice::<Envelope>(body) {
        Ok(Envelope {
            error: EnvelopeError::Detail { code, message },
        }) => (code, message),
        Ok(Envelope {
            error: EnvelopeError::Code(c),
        }) => (Some(c), None),
        Err(_) => (None, None),
    };
    let mut text = String::from_utf8_lossy(body).into_owned();
    if text.len() > MAX_BODY_IN_ERROR {
        let mut cut = MAX_BODY_IN_ERROR;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
    }
    Error::Api(ApiError {
        status,
        code,
        message,
        body: text,
        retry_after,
    })
}

/// The value of `name` in a `WWW-Authenticate` challenge such as
/// `Bearer realm="x", error="invalid_token", error_description="expired"`.
pub(crate) fn challenge_param(challenge: &str, name: &str) -> Option<String> {
    let mut search = challenge;
    while let Some(i) = search.find(name) {
        let before = search[..i].chars().next_back();
        let after = &search[i + name.len()..];
        let starts_param = matches!(before, None | Some(' ' | ',' | '\t'));
        if let (true, Some(v)) = (starts_param, after.trim_start().strip_prefix('=')) {
            let v = v.trim_start();
            return Some(match v.strip_prefix('"') {
                Some(q) => q.split('"').next().unwrap_or_default().to_owned(),
                None => v
                    .split([',', ' '])
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_owned(),
            });
        }
        search = after;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn reads_challenge_params() {
        let c =
            r#"Bearer realm="tollgate", error="invalid_token", error_description="token expired""#;
        assert_eq!(
            challenge_param(c, "error").as_deref(),
            Some("invalid_token")
        );
        assert_eq!(
            challenge_param(c, "error_description").as_deref(),
            Some("token expired")
        );
        assert_eq!(challenge_param(r#"Bearer realm="tollgate""#, "error"), None);
        assert_eq!(
            challenge_param("Bearer error=invalid_token, realm=x", "error").as_deref(),
            Some("invalid_token")
        );
    }

    #[test]
    fn token_endpoint_errors_are_oauth_errors() {
        let e = from_response(
            Endpoint::Token,
            401,
            &HeaderMap::new(),
            br#"{"error":"invalid_client","error_description":"unknown client or wrong secret"}"#,
            None,
        );
        assert!(e.is_invalid_client());
        assert_eq!(e.status(), Some(401));
        let shown = e.to_string();
        assert!(shown.contains("invalid_client"), "{shown}");
        assert!(shown.contains("unknown client or wrong secret"), "{shown}");
    }

    #[test]
    fn api_errors_keep_the_reference_envelope() {
        let e = from_response(
            Endpoint::Api,
            404,
            &HeaderMap::new(),
            br#"{"error":{"code":"groupNotFound","message":"no such group"}}"#,
            None,
        );
        match &e {
            Error::Api(a) => {
                assert_eq!(a.code.as_deref(), Some("groupNotFound"));
                assert_eq!(a.message.as_deref(), Some("no such group"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(e.to_string(), "HTTP 404 groupNotFound: no such group");
        let e = from_response(
            Endpoint::Api,
            429,
            &HeaderMap::new(),
            br#"{"error":"tooManyRequests"}"#,
            Some(Duration::from_secs(2)),
        );
        assert!(
            matches!(&e, Error::Api(a) if a.code.as_deref() == Some("tooManyRequests") && a.retry_after == Some(Duration::from_secs(2)))
        );
    }

    #[test]
    fn api_401_reads_the_challenge_when_the_body_is_not_oauth() {
        let mut h = HeaderMap::new();
        h.insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"Bearer error="invalid_token", error_description="gone""#),
        );
        let e = from_response(Endpoint::Api, 401, &h, b"", None);
        assert_eq!(e.oauth_code(), Some(&OAuthErrorCode::InvalidToken));
        let e = from_response(Endpoint::Api, 503, &h, b"<html>down</html>", None);
        assert!(matches!(&e, Error::Api(a) if a.status == 503 && a.body.contains("down")));
    }
}
