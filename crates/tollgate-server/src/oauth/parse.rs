//! Parsing of the token, introspection and revocation requests: every accepted body form and
//! client authentication method, once, at the edge, into [`TokenRequest`] or [`ManagementRequest`].

use std::borrow::Cow;

use axum::http::{HeaderMap, header};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use percent_encoding::percent_decode;
use serde::Deserialize;
use tollgate_core::audience::Resources;
use tollgate_proto::{ClientSecret, GRANT_CLIENT_CREDENTIALS, ScopeSet};

use crate::error::TokenError;

/// A token request, parsed (public for the request-parsing benchmark).
#[derive(Debug, PartialEq, Eq)]
pub struct TokenRequest {
    pub(super) client_id: String,
    pub(super) secret: ClientSecret,
    pub(super) scope: Option<ScopeSet>,
    /// RFC 8707 `resource`s asked for (empty: the default audience).
    pub(super) resources: Resources,
    pub(super) basic: bool,
}

/// The fields of either body form, before validation.
#[derive(Default)]
struct Fields<'a> {
    grant_type: Option<Cow<'a, str>>,
    client_id: Option<Cow<'a, str>>,
    client_secret: Option<ClientSecret>,
    scope: Option<Cow<'a, str>>,
    /// RFC 8707 `resource`: repeated in a form, a string or an array of strings in JSON.
    resources: Vec<Cow<'a, str>>,
    /// Introspection and revocation only.
    token: Option<Cow<'a, str>>,
    /// Introspection and revocation only (a hint; ignored, tollgate has one kind of token).
    token_type_hint: Option<Cow<'a, str>>,
}

/// Which endpoint a body is for: each accepts its own parameters.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Token,
    TokenManagement,
}

/// The reference's JSON body. `company_id`/`user_id` exist there for other kinds of endpoints and are
/// accepted and ignored; any other property is refused.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonBody<'a> {
    #[serde(borrow, default)]
    grant_type: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    client_id: Option<Cow<'a, str>>,
    #[serde(default)]
    client_secret: Option<ClientSecret>,
    #[serde(borrow, default)]
    scope: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    resource: Option<OneOrMany<'a>>,
    #[serde(default)]
    company_id: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    user_id: Option<serde::de::IgnoredAny>,
}

/// A JSON `resource`: one string or an array of them.
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany<'a> {
    One(#[serde(borrow)] Cow<'a, str>),
    Many(#[serde(borrow)] Vec<Cow<'a, str>>),
}

/// A JSON body for introspection or revocation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonManagementBody<'a> {
    #[serde(borrow, default)]
    token: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    token_type_hint: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    client_id: Option<Cow<'a, str>>,
    #[serde(default)]
    client_secret: Option<ClientSecret>,
}

enum BodyKind {
    Json,
    Form,
}

fn body_kind(headers: &HeaderMap) -> Result<BodyKind, TokenError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .ok_or(TokenError::UnsupportedMediaType)?;
    let essence = ct.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(BodyKind::Json)
    } else if essence.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        Ok(BodyKind::Form)
    } else {
        Err(TokenError::UnsupportedMediaType)
    }
}

fn json_error(e: &serde_json::Error) -> TokenError {
    use serde_json::error::Category;
    let msg = e.to_string();
    let msg = msg.split(" at line ").next().unwrap_or(&msg);
    TokenError::InvalidRequest(match e.classify() {
        Category::Data
            if msg.starts_with("unknown field")
                || msg.starts_with("duplicate field")
                || msg.starts_with("missing field") =>
        {
            msg.to_owned()
        }
        // Other data errors quote the offending value, which may be a secret: describe, don't echo.
        Category::Data => "every field must be a string".to_owned(),
        _ => "the body is not valid JSON".to_owned(),
    })
}

fn parse_json(body: &[u8], endpoint: Endpoint) -> Result<Fields<'_>, TokenError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        return Err(TokenError::InvalidRequest(
            "the body must be a JSON object".into(),
        ));
    }
    if endpoint == Endpoint::TokenManagement {
        let b: JsonManagementBody<'_> = serde_json::from_slice(body).map_err(|e| json_error(&e))?;
        return Ok(Fields {
            token: b.token,
            token_type_hint: b.token_type_hint,
            client_id: b.client_id,
            client_secret: b.client_secret,
            ..Fields::default()
        });
    }
    let b: JsonBody<'_> = serde_json::from_slice(body).map_err(|e| json_error(&e))?;
    let _ = (b.company_id, b.user_id);
    Ok(Fields {
        grant_type: b.grant_type,
        client_id: b.client_id,
        client_secret: b.client_secret,
        scope: b.scope,
        resources: match b.resource {
            None => Vec::new(),
            Some(OneOrMany::One(r)) => vec![r],
            Some(OneOrMany::Many(v)) => v,
        },
        ..Fields::default()
    })
}

fn form_decode(s: &[u8]) -> Result<Cow<'_, str>, TokenError> {
    let plus_free: Cow<'_, [u8]> = if s.contains(&b'+') {
        Cow::Owned(
            s.iter()
                .map(|&b| if b == b'+' { b' ' } else { b })
                .collect(),
        )
    } else {
        Cow::Borrowed(s)
    };
    let decoded: Cow<'_, [u8]> = percent_decode(&plus_free).into();
    match String::from_utf8(decoded.into_owned()) {
        Ok(v) => Ok(Cow::Owned(v)),
        Err(_) => Err(TokenError::InvalidRequest(
            "the body is not valid UTF-8".into(),
        )),
    }
}

fn duplicate(key: &str) -> TokenError {
    TokenError::InvalidRequest(format!("duplicate parameter {key}"))
}

fn parse_form(body: &[u8], endpoint: Endpoint) -> Result<Fields<'_>, TokenError> {
    let mut f = Fields::default();
    for pair in body.split(|&b| b == b'&') {
        if pair.is_empty() {
            continue;
        }
        let (k, v) = match pair.iter().position(|&b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &[][..]),
        };
        let key = form_decode(k)?;
        let value = form_decode(v)?;
        let slot = match (key.as_ref(), endpoint) {
            ("grant_type", Endpoint::Token) => &mut f.grant_type,
            ("scope", Endpoint::Token) => &mut f.scope,
            // RFC 8707 §2: may be given several times.
            ("resource", Endpoint::Token) => {
                f.resources.push(value);
                continue;
            }
            ("token", Endpoint::TokenManagement) => &mut f.token,
            ("token_type_hint", Endpoint::TokenManagement) => &mut f.token_type_hint,
            ("client_id", _) => &mut f.client_id,
            ("client_secret", _) if f.client_secret.is_some() => return Err(duplicate(&key)),
            ("client_secret", _) => {
                f.client_secret = Some(ClientSecret::new(value.into_owned()));
                continue;
            }
            // RFC 6749 §3.2: unrecognized parameters are ignored.
            _ => continue,
        };
        if slot.is_some() {
            return Err(duplicate(&key));
        }
        // RFC 6749 §3.1: a parameter without a value is treated as omitted — but still counts as
        // sent for the duplicate check.
        *slot = Some(value);
    }
    Ok(f)
}

/// Client credentials from `Authorization: Basic` (RFC 6749 §2.3.1: each part form-urlencoded).
fn parse_basic(headers: &HeaderMap) -> Result<Option<(String, ClientSecret)>, TokenError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(v) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(TokenError::InvalidRequest(
            "more than one Authorization header".into(),
        ));
    }
    let malformed = || TokenError::InvalidRequest("malformed Basic authorization header".into());
    let v = v.to_str().map_err(|_| malformed())?;
    let (scheme, rest) = v.split_once(' ').ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(TokenError::InvalidClient {
            basic: false,
            why: None,
        });
    }
    let raw = STANDARD.decode(rest.trim()).map_err(|_| malformed())?;
    let i = raw.iter().position(|&b| b == b':').ok_or_else(malformed)?;
    let id = form_decode(&raw[..i])?.into_owned();
    let secret = ClientSecret::new(form_decode(&raw[i + 1..])?.into_owned());
    if id.is_empty() || secret.is_empty() {
        return Err(malformed());
    }
    Ok(Some((id, secret)))
}

fn present<'a>(v: Option<Cow<'a, str>>) -> Option<Cow<'a, str>> {
    v.filter(|s| !s.is_empty())
}

fn parse_fields<'a>(
    headers: &HeaderMap,
    body: &'a [u8],
    endpoint: Endpoint,
) -> Result<Fields<'a>, TokenError> {
    match body_kind(headers)? {
        BodyKind::Json => parse_json(body, endpoint),
        BodyKind::Form => parse_form(body, endpoint),
    }
}

/// Client authentication: Basic header (client_secret_basic) or body (client_secret_post), never
/// both. `missing` is the error when `client_id` or `client_secret` is absent (its name given).
fn client_auth(
    headers: &HeaderMap,
    client_id: Option<Cow<'_, str>>,
    client_secret: Option<ClientSecret>,
    missing: fn(&'static str) -> TokenError,
) -> Result<(String, ClientSecret, bool), TokenError> {
    let basic = parse_basic(headers)?;
    let body_id = present(client_id);
    let body_secret = client_secret.filter(|s| !s.is_empty());
    let (client_id, secret, is_basic) = match basic {
        Some((id, secret)) => {
            if body_secret.is_some() {
                return Err(TokenError::InvalidRequest(
                    "use one client authentication method: Basic header or client_secret in the body, not both".into(),
                ));
            }
            if body_id.as_deref().is_some_and(|b| b != id) {
                return Err(TokenError::InvalidRequest(
                    "client_id in the body differs from the Basic header".into(),
                ));
            }
            (id, secret, true)
        }
        None => {
            let id = body_id.ok_or_else(|| missing("client_id"))?;
            let secret = body_secret.ok_or_else(|| missing("client_secret"))?;
            (id.into_owned(), secret, false)
        }
    };
    Ok((client_id, secret, is_basic))
}

impl TokenRequest {
    /// Parses a client-credentials request: JSON or form body, client authentication by Basic
    /// header or body (never both), every error of the token endpoint's contract.
    pub fn parse(headers: &HeaderMap, body: &[u8]) -> Result<Self, TokenError> {
        let fields = parse_fields(headers, body, Endpoint::Token)?;
        let grant = present(fields.grant_type)
            .ok_or_else(|| TokenError::InvalidRequest("missing grant_type".into()))?;
        if grant != GRANT_CLIENT_CREDENTIALS {
            return Err(TokenError::UnsupportedGrantType);
        }
        let (client_id, secret, is_basic) =
            client_auth(headers, fields.client_id, fields.client_secret, |what| {
                TokenError::InvalidRequest(format!("missing {what}"))
            })?;
        let scope = match present(fields.scope) {
            Some(s) => Some(
                ScopeSet::parse_list(&s).map_err(|e| TokenError::InvalidScope(e.to_string()))?,
            ),
            None => None,
        };
        // RFC 6749 §3.1: an empty value is an omitted parameter.
        let asked: Vec<&str> = fields
            .resources
            .iter()
            .map(|r| r.as_ref())
            .filter(|r| !r.is_empty())
            .collect();
        let resources =
            Resources::parse(&asked).map_err(|e| TokenError::InvalidTarget(e.to_string()))?;
        Ok(Self {
            client_id,
            secret,
            scope,
            resources,
            basic: is_basic,
        })
    }
}

/// What was parsed, for the fuzz target and the property tests (not an API: the endpoint reads the
/// fields).
#[doc(hidden)]
impl TokenRequest {
    /// The client ID.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The client secret.
    pub fn secret(&self) -> &ClientSecret {
        &self.secret
    }

    /// The scopes asked for (`None`: none given).
    pub fn scope(&self) -> Option<&ScopeSet> {
        self.scope.as_ref()
    }

    /// Whether the client authenticated with HTTP Basic.
    pub fn basic(&self) -> bool {
        self.basic
    }
}

/// An introspection or revocation request, parsed; its caller not yet authenticated.
pub(super) struct ManagementRequest {
    /// The caller's client ID.
    pub(super) client_id: String,
    /// The caller's secret.
    pub(super) secret: ClientSecret,
    /// Whether the caller used HTTP Basic.
    pub(super) basic: bool,
    /// The token asked about (`None`: missing, an `invalid_request` once the caller is known).
    pub(super) token: Option<String>,
}

impl ManagementRequest {
    /// Parses an introspection or revocation request. `token_type_hint` is read (and accepted) but
    /// ignored: tollgate has one kind of token.
    pub(super) fn parse(headers: &HeaderMap, body: &[u8]) -> Result<Self, TokenError> {
        let f = parse_fields(headers, body, Endpoint::TokenManagement)?;
        let token = present(f.token).map(Cow::into_owned);
        // No client authentication, or half of one, is a failed authentication here (RFC 6749
        // §5.2, RFC 7662 §2.1): 401 `invalid_client` with the Basic challenge, not a 400.
        let (client_id, secret, basic) =
            client_auth(headers, f.client_id, f.client_secret, |_| {
                TokenError::InvalidClient {
                    basic: true,
                    why: None,
                }
            })?;
        Ok(Self {
            client_id,
            secret,
            basic,
            token,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(ct: &str) -> HeaderMap {
        let mut m = HeaderMap::new();
        m.insert(header::CONTENT_TYPE, ct.parse().unwrap());
        m
    }

    #[test]
    fn json_reference_form() {
        let r = TokenRequest::parse(
            &h("application/json"),
            br#"{"grant_type":"client_credentials","client_id":"a","client_secret":"s"}"#,
        )
        .unwrap();
        assert_eq!(r.client_id, "a");
        assert_eq!(r.secret.expose_secret(), "s");
        assert!(!r.basic);
    }

    #[test]
    fn form_decodes_plus_and_percent() {
        let r = TokenRequest::parse(
            &h("application/x-www-form-urlencoded; charset=utf-8"),
            b"grant_type=client_credentials&client_id=a%2Bb&client_secret=x+y&scope=groups%3Aread",
        )
        .unwrap();
        assert_eq!(r.client_id, "a+b");
        assert_eq!(r.secret.expose_secret(), "x y");
        assert_eq!(r.scope.unwrap().to_string(), "groups:read");
    }

    #[test]
    fn form_duplicate_is_refused() {
        let e = TokenRequest::parse(
            &h("application/x-www-form-urlencoded"),
            b"grant_type=client_credentials&client_id=a&client_id=b&client_secret=s",
        )
        .unwrap_err();
        assert!(matches!(e, TokenError::InvalidRequest(m) if m.contains("duplicate")));
    }

    #[test]
    fn json_wrong_type_does_not_echo_value() {
        let e = TokenRequest::parse(
            &h("application/json"),
            br#"{"grant_type":"client_credentials","client_id":"a","client_secret":12345678}"#,
        )
        .unwrap_err();
        assert!(matches!(e, TokenError::InvalidRequest(m) if !m.contains("12345678")));
    }

    #[test]
    fn debug_redacts_secret() {
        let r = TokenRequest {
            client_id: "a".into(),
            secret: ClientSecret::new("hunter2"),
            scope: None,
            resources: Resources::default(),
            basic: false,
        };
        assert!(!format!("{r:?}").contains("hunter2"));
    }

    #[test]
    fn resources_repeat_in_a_form_and_are_a_string_or_an_array_in_json() {
        let form = |body: &[u8]| TokenRequest::parse(&h("application/x-www-form-urlencoded"), body);
        let r = form(
            b"grant_type=client_credentials&client_id=a&client_secret=s\
              &resource=https%3A%2F%2Fb.example&resource=urn%3Aexample%3Aa&resource=",
        )
        .unwrap();
        assert_eq!(r.resources.to_string(), "https://b.example urn:example:a");
        let json = |body: &[u8]| TokenRequest::parse(&h("application/json"), body);
        let base = r#""grant_type":"client_credentials","client_id":"a","client_secret":"s""#;
        let r = json(format!(r#"{{{base},"resource":"https://a.example"}}"#).as_bytes()).unwrap();
        assert_eq!(r.resources.to_string(), "https://a.example");
        let r = json(
            format!(r#"{{{base},"resource":["https://a.example","https://b.example"]}}"#)
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(r.resources.iter().count(), 2);
        assert!(
            json(format!("{{{base}}}").as_bytes())
                .unwrap()
                .resources
                .is_empty()
        );
        // Not an absolute URI, or with a fragment: invalid_target.
        for bad in ["api.example.com", "https://a.example/#f"] {
            let e = form(
                format!("grant_type=client_credentials&client_id=a&client_secret=s&resource={bad}")
                    .as_bytes(),
            )
            .unwrap_err();
            assert!(matches!(e, TokenError::InvalidTarget(_)), "{bad}: {e:?}");
        }
        let e = json(format!(r#"{{{base},"resource":[1]}}"#).as_bytes()).unwrap_err();
        assert!(matches!(e, TokenError::InvalidRequest(_)), "{e:?}");
    }
}
