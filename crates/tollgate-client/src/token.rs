//! Access tokens and the token endpoint's success response, read leniently.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;

use crate::error::Error;
use crate::secret::AccessToken;

/// Tokens announcing a longer life are treated as living this long (no `Instant` overflow).
const MAX_LIFETIME: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// An access token and what the token endpoint said about it. Cheap to clone.
///
/// `Debug` does not show the token itself.
#[derive(Clone)]
pub struct Token(Arc<Inner>);

struct Inner {
    access_token: AccessToken,
    token_type: String,
    expires_in: Duration,
    scope: Option<String>,
    obtained_at: Instant,
}

impl Token {
    /// The access token.
    pub fn access_token(&self) -> &AccessToken {
        &self.0.access_token
    }

    /// The token type the server named (`Bearer`).
    pub fn token_type(&self) -> &str {
        &self.0.token_type
    }

    /// The lifetime: the server's `expires_in`, or the configured default when it sent none.
    pub fn expires_in(&self) -> Duration {
        self.0.expires_in
    }

    /// The granted scopes (space-delimited), if the server listed them.
    pub fn scope(&self) -> Option<&str> {
        self.0.scope.as_deref()
    }

    /// When the token was requested (by the source's clock): its lifetime counts from there, since
    /// the server issued it after that instant.
    pub fn obtained_at(&self) -> Instant {
        self.0.obtained_at
    }

    /// When the token expires (by the source's clock).
    pub fn expires_at(&self) -> Instant {
        self.0.obtained_at + self.0.expires_in
    }

    /// Whether `self` and `other` are the same token (the same response).
    pub fn same_as(&self, other: &Token) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("access_token", &self.0.access_token)
            .field("token_type", &self.0.token_type)
            .field("expires_in", &self.0.expires_in)
            .field("scope", &self.0.scope)
            .finish()
    }
}

/// The success response (RFC 6749 §5.1), with every field but `access_token` optional and
/// `expires_in` read by [`parse_expires_in`].
#[derive(Deserialize)]
struct Wire {
    access_token: String,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    expires_in: Option<Value>,
    #[serde(default)]
    scope: Option<String>,
}

/// Reads a token endpoint success body.
pub(crate) fn parse_token_response(
    body: &[u8],
    default_expires_in: Duration,
    obtained_at: Instant,
) -> Result<Token, Error> {
    const CONTEXT: &str = "token response";
    let wire: Wire = serde_json::from_slice(body).map_err(|e| Error::parse(CONTEXT, e))?;
    let access_token = AccessToken::new(wire.access_token);
    let token = access_token.expose_secret();
    // RFC 6750 §2.1 b64token, loosely: visible ASCII, so that it fits in a header.
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::parse(
            CONTEXT,
            "access_token is empty or holds characters a header cannot carry",
        ));
    }
    let token_type = wire.token_type.unwrap_or_else(|| "Bearer".to_owned());
    if !token_type.eq_ignore_ascii_case("bearer") {
        return Err(Error::parse(
            CONTEXT,
            format!("token_type `{token_type}` is not supported (only Bearer)"),
        ));
    }
    let expires_in = parse_expires_in(wire.expires_in.as_ref())
        .map_err(|m| Error::parse(CONTEXT, m))?
        .unwrap_or(default_expires_in)
        .min(MAX_LIFETIME);
    Ok(Token(Arc::new(Inner {
        access_token,
        token_type,
        expires_in,
        scope: wire.scope.filter(|s| !s.is_empty()),
        obtained_at,
    })))
}

/// `expires_in` as a JSON number (`3600`, `3600.0`) or a string (`"3600"`, as the reference
/// documentation shows it); `null`, absent or `""` mean "not given".
pub(crate) fn parse_expires_in(v: Option<&Value>) -> Result<Option<Duration>, String> {
    let secs = |f: f64| {
        if f.is_finite() && f >= 0.0 {
            Ok(Some(Duration::from_secs_f64(
                f.min(MAX_LIFETIME.as_secs_f64()),
            )))
        } else {
            Err(format!("expires_in {f} is not a number of seconds"))
        }
    };
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(u) => Ok(Some(Duration::from_secs(u).min(MAX_LIFETIME))),
            None => secs(n.as_f64().unwrap_or(f64::NAN)),
        },
        Some(Value::String(s)) => {
            let s = s.trim();
            if s.is_empty() {
                Ok(None)
            } else if let Ok(u) = s.parse::<u64>() {
                Ok(Some(Duration::from_secs(u).min(MAX_LIFETIME)))
            } else {
                match s.parse::<f64>() {
                    Ok(f) => secs(f),
                    Err(_) => Err(format!("expires_in \"{s}\" is not a number of seconds")),
                }
            }
        }
        Some(other) => Err(format!("expires_in {other} is not a number of seconds")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(v: Value) -> Result<Option<Duration>, String> {
        parse_expires_in(Some(&v))
    }

    #[test]
    fn expires_in_as_number_or_string() {
        let h = Some(Duration::from_secs(3600));
        assert_eq!(p(json!(3600)), Ok(h));
        assert_eq!(p(json!("3600")), Ok(h));
        assert_eq!(p(json!(" 3600 ")), Ok(h));
        assert_eq!(p(json!(3600.0)), Ok(h));
        assert_eq!(p(json!("1.5")), Ok(Some(Duration::from_millis(1500))));
        assert_eq!(p(json!(0)), Ok(Some(Duration::ZERO)));
        assert_eq!(parse_expires_in(None), Ok(None));
        assert_eq!(p(Value::Null), Ok(None));
        assert_eq!(p(json!("")), Ok(None));
        assert_eq!(p(json!(u64::MAX)), Ok(Some(MAX_LIFETIME)));
        for bad in [
            json!(-1),
            json!("-5"),
            json!("an hour"),
            json!(true),
            json!([3600]),
            json!("NaN"),
        ] {
            assert!(p(bad.clone()).is_err(), "{bad}");
        }
    }

    #[test]
    fn token_response_defaults_and_checks() {
        let now = Instant::now();
        let d = Duration::from_secs(900);
        let t = parse_token_response(
            br#"{"token_type":"Bearer","access_token":"abc.def","expires_in":"3600","scope":"groups:read"}"#,
            d,
            now,
        )
        .unwrap();
        assert_eq!(t.expires_in(), Duration::from_secs(3600));
        assert_eq!(t.expires_at(), now + Duration::from_secs(3600));
        assert_eq!(t.scope(), Some("groups:read"));
        assert_eq!(t.access_token().expose_secret(), "abc.def");
        assert!(!format!("{t:?}").contains("abc.def"));

        // No expires_in: the default; no token_type: Bearer; unknown fields ignored.
        let t = parse_token_response(br#"{"access_token":"x","extra":1}"#, d, now).unwrap();
        assert_eq!(t.expires_in(), d);
        assert_eq!(t.token_type(), "Bearer");
        assert_eq!(t.scope(), None);

        for bad in [
            &br#"{"token_type":"mac","access_token":"x"}"#[..],
            br#"{"access_token":""}"#,
            br#"{"access_token":"a b"}"#,
            br#"{"expires_in":3600}"#,
            br#"{"access_token":"x","expires_in":"soon"}"#,
            b"<html>",
        ] {
            let e = parse_token_response(bad, d, now).unwrap_err();
            assert!(matches!(e, Error::Parse { .. }), "{e:?}");
        }
    }
}
