//! The token request's parsing, without a server: `TokenRequest::parse` on a request's headers and
//! body, and a refusal turned into the response the endpoint sends (`TokenError::into_response`):
//! status, `Cache-Control: no-store`, `{"error": CODE, "error_description": "…"}`. The endpoint reads
//! the body and hands it to this same function, so these are its answers to malformed requests.
//! Each table names its cases, so a failure says which; `bad_input` keeps a few of each kind end to
//! end over HTTP, and the cases that need a database (unknown client, wrong secret, scopes the
//! credential lacks) or the body limit.

use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::response::IntoResponse as _;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};
use tollgate_server::oauth::TokenRequest;

const FORM: &str = "application/x-www-form-urlencoded";
const JSON: &str = "application/json";
const ID: &str = "0123456789abcdef0123456789abcdef";
const SECRET: &str = "tgsec_Q2xpZW50U2VjcmV0Rm9yVGVzdHM";

/// A request to parse.
struct Req {
    name: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Req {
    /// A body with this `Content-Type` (none: no header).
    fn raw(name: impl Into<String>, content_type: Option<&str>, body: impl Into<Vec<u8>>) -> Self {
        let mut headers = HeaderMap::new();
        if let Some(ct) = content_type {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_str(ct).expect("content type"),
            );
        }
        Self {
            name: name.into(),
            headers,
            body: body.into(),
        }
    }

    fn json(name: impl Into<String>, body: impl Into<Vec<u8>>) -> Self {
        Self::raw(name, Some(JSON), body)
    }

    fn json_value(name: impl Into<String>, body: &Value) -> Self {
        Self::json(name, body.to_string())
    }

    fn form(name: impl Into<String>, pairs: &[(&str, &str)]) -> Self {
        Self::raw(name, Some(FORM), form(pairs))
    }

    /// Adds an `Authorization` header (another one if there is one).
    fn authorization(mut self, value: &str) -> Self {
        self.headers.append(
            header::AUTHORIZATION,
            HeaderValue::from_str(value).expect("authorization"),
        );
        self
    }

    fn parse(&self) -> Result<TokenRequest, tollgate_server::TokenError> {
        TokenRequest::parse(&self.headers, &self.body)
    }
}

fn good_json() -> Value {
    json!({"grant_type": "client_credentials", "client_id": ID, "client_secret": SECRET})
}

/// `good_json` with `field` set to `value`.
fn json_with(field: &str, value: Value) -> Value {
    let mut body = good_json();
    body[field] = value;
    body
}

const GOOD_FORM: [(&str, &str); 3] = [
    ("grant_type", "client_credentials"),
    ("client_id", ID),
    ("client_secret", SECRET),
];

/// `GOOD_FORM` and then `extra`.
fn form_with<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    GOOD_FORM.iter().chain(extra).copied().collect()
}

/// `application/x-www-form-urlencoded` of `pairs`.
pub(crate) fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                utf8_percent_encode(k, NON_ALPHANUMERIC),
                utf8_percent_encode(v, NON_ALPHANUMERIC)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// `Authorization: Basic` value (RFC 6749 §2.3.1: each part form-urlencoded first).
pub(crate) fn basic(id: &str, secret: &str) -> String {
    let raw = format!(
        "{}:{}",
        utf8_percent_encode(id, NON_ALPHANUMERIC),
        utf8_percent_encode(secret, NON_ALPHANUMERIC)
    );
    format!("Basic {}", STANDARD.encode(raw))
}

/// A refusal as the endpoint sends it.
struct Refusal {
    headers: HeaderMap,
    text: String,
}

/// Checks that `req` is refused with `status` and the OAuth error `code`, in the token endpoint's
/// format: `Cache-Control: no-store`, a JSON body `{"error": CODE, "error_description": "…"}` and
/// nothing else.
async fn refused(req: &Req, status: u16, code: &str) -> Refusal {
    let case = &req.name;
    let error = match req.parse() {
        Ok(parsed) => panic!("{case}: accepted as {parsed:?}, expected {status} {code}"),
        Err(e) => e,
    };
    let resp = error.into_response();
    let got = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .expect("body");
    let text = String::from_utf8(bytes.to_vec()).expect("UTF-8 body");
    check_oauth_error(got, &headers, &text, status, Some(code), case);
    Refusal { headers, text }
}

/// Checks a token-endpoint error answer, whether it came over HTTP or straight from
/// `TokenError::into_response`: `status`, `Cache-Control: no-store`, a JSON body
/// `{"error": CODE, "error_description": "…"}` and nothing else (`code: None`: any string code).
/// Returns the body.
pub(crate) fn check_oauth_error(
    got: u16,
    headers: &HeaderMap,
    text: &str,
    status: u16,
    code: Option<&str>,
    case: &str,
) -> Value {
    assert_eq!(got, status, "{case}: status (body: {text})");
    let header = |name: HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    assert_eq!(
        header(header::CACHE_CONTROL),
        Some("no-store"),
        "{case}: Cache-Control (body: {text})"
    );
    let ctype = header(header::CONTENT_TYPE);
    assert!(
        ctype.is_some_and(|c| c.starts_with(JSON)),
        "{case}: content-type {ctype:?} (body: {text})"
    );
    let body: Value = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("{case}: body is not JSON ({e}): {text}"));
    let obj = body
        .as_object()
        .unwrap_or_else(|| panic!("{case}: body is not an object: {text}"));
    let error = obj
        .get("error")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{case}: no string `error`: {text}"));
    if let Some(code) = code {
        assert_eq!(error, code, "{case}: error code (body: {text})");
    }
    assert!(
        obj.get("error_description").is_some_and(Value::is_string),
        "{case}: error_description must be a string: {text}"
    );
    assert!(
        obj.keys().all(|k| k == "error" || k == "error_description"),
        "{case}: unexpected members in {text}"
    );
    body
}

/// `refused` for each case.
async fn all_refused(cases: &[Req], status: u16, code: &str) {
    assert!(!cases.is_empty());
    for req in cases {
        refused(req, status, code).await;
    }
}

fn accepted(req: &Req) -> TokenRequest {
    req.parse()
        .unwrap_or_else(|e| panic!("{}: refused with {e:?}", req.name))
}

/// The request every good body without Basic parses to.
fn good_request() -> TokenRequest {
    let r = accepted(&Req::json_value("good JSON", &good_json()));
    let debug = format!("{r:?}");
    assert!(debug.contains(&format!("client_id: {ID:?}")), "{debug}");
    assert!(debug.contains("scope: None"), "{debug}");
    assert!(debug.contains("basic: false"), "{debug}");
    assert!(!debug.contains(SECRET), "Debug shows the secret: {debug}");
    r
}

// ---------------------------------------------------------------------------------------------
// Accepted
// ---------------------------------------------------------------------------------------------

#[test]
fn every_good_body_parses_to_the_same_request() {
    let good = good_request();
    let cases = [
        Req::form("form", &GOOD_FORM),
        Req::json_value(
            "JSON with company_id and user_id (accepted and ignored)",
            &json!({
                "grant_type": "client_credentials", "client_id": ID, "client_secret": SECRET,
                "company_id": "5f0c2b7a9d3e4f1a2b3c4d5e", "user_id": "5f0c2b7a9d3e4f1a2b3c4d5f",
            }),
        ),
        Req::json_value("JSON with an empty scope", &json_with("scope", json!(""))),
        Req::form(
            "form with unknown parameters (RFC 6749 §3.2: ignored)",
            &form_with(&[("audience", "https://example.com"), ("foo", "1")]),
        ),
        Req::raw(
            "form with a charset",
            Some("application/x-www-form-urlencoded; charset=utf-8"),
            form(&GOOD_FORM),
        ),
        Req::raw(
            "JSON content type in capitals",
            Some("Application/JSON"),
            good_json().to_string(),
        ),
    ];
    for req in &cases {
        assert_eq!(accepted(req), good, "{}", req.name);
    }
}

#[test]
fn basic_alone_or_with_the_same_client_id_in_the_body_is_accepted() {
    let alone = Req::form("Basic alone", &[("grant_type", "client_credentials")])
        .authorization(&basic(ID, SECRET));
    let alone = accepted(&alone);
    let debug = format!("{alone:?}");
    assert!(debug.contains(&format!("client_id: {ID:?}")), "{debug}");
    assert!(debug.contains("basic: true"), "{debug}");
    assert_ne!(
        alone,
        good_request(),
        "Basic is remembered (for the challenge)"
    );

    let same_id = Req::form(
        "Basic and the same client_id in the body",
        &[("grant_type", "client_credentials"), ("client_id", ID)],
    )
    .authorization(&basic(ID, SECRET));
    assert_eq!(accepted(&same_id), alone, "{}", same_id.name);
}

// ---------------------------------------------------------------------------------------------
// Refused
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn malformed_json_is_invalid_request() {
    let good = good_json().to_string();
    let cases = [
        Req::json("open brace", "{"),
        Req::json("empty body", ""),
        Req::json("blanks", "   "),
        Req::json("trailing comma", r#"{"grant_type":"client_credentials",}"#),
        Req::json(
            "missing comma",
            r#"{"grant_type":"client_credentials" "client_id":"x"}"#,
        ),
        Req::json("unquoted keys", "{grant_type: \"client_credentials\"}"),
        Req::json("single quotes", "{'grant_type':'client_credentials'}"),
        Req::json("truncated", &good[..good.len() - 1]),
        Req::json("trailing garbage", format!("{good} x")),
    ];
    all_refused(&cases, 400, "invalid_request").await;
}

#[tokio::test]
async fn json_not_an_object_is_invalid_request() {
    let cases = [
        Req::json("empty array", "[]"),
        Req::json(
            "array holding the good object",
            format!("[{}]", good_json()),
        ),
        Req::json("string", r#""client_credentials""#),
        Req::json("number", "42"),
        Req::json("null", "null"),
        Req::json("boolean", "true"),
    ];
    all_refused(&cases, 400, "invalid_request").await;
}

#[tokio::test]
async fn wrong_types_are_invalid_request_and_not_echoed() {
    let cases = [
        (
            json_with("client_id", json!(987_654_321_u64)),
            "client_id as number",
            "987654321",
        ),
        (
            json_with("client_secret", json!(123_456_789_012_u64)),
            "client_secret as number",
            "123456789012",
        ),
        (
            json_with("client_id", json!(true)),
            "client_id as boolean",
            "true",
        ),
        (
            json_with("grant_type", json!(["client_credentials"])),
            "grant_type as array",
            "[",
        ),
        (
            json_with("scope", json!({"groups:read": 5_550_123_u64})),
            "scope as object",
            "5550123",
        ),
    ];
    for (body, case, value) in cases {
        let r = refused(&Req::json_value(case, &body), 400, "invalid_request").await;
        assert!(
            !r.text.contains(value),
            "{case}: the response echoes the value `{value}`: {}",
            r.text
        );
        assert!(
            !r.text.contains(SECRET),
            "{case}: the response echoes the secret"
        );
    }
}

#[tokio::test]
async fn unknown_grant_type_is_unsupported_grant_type() {
    let mut cases = Vec::new();
    for grant in [
        "password",
        "authorization_code",
        "refresh_token",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "client_credential",
    ] {
        cases.push(Req::json_value(
            grant,
            &json_with("grant_type", json!(grant)),
        ));
        cases.push(Req::form(
            format!("form {grant}"),
            &[
                ("grant_type", grant),
                ("client_id", ID),
                ("client_secret", SECRET),
            ],
        ));
    }
    all_refused(&cases, 400, "unsupported_grant_type").await;
}

#[tokio::test]
async fn missing_or_empty_fields_are_invalid_request() {
    let mut cases = Vec::new();
    for field in ["grant_type", "client_id", "client_secret"] {
        let mut missing = good_json();
        missing.as_object_mut().expect("object").remove(field);
        cases.push(Req::json_value(format!("json missing {field}"), &missing));
        cases.push(Req::json_value(
            format!("json empty {field}"),
            &json_with(field, json!("")),
        ));
        let without: Vec<_> = GOOD_FORM.into_iter().filter(|(k, _)| *k != field).collect();
        cases.push(Req::form(format!("form missing {field}"), &without));
        let emptied: Vec<_> = GOOD_FORM
            .into_iter()
            .map(|(k, v)| if k == field { (k, "") } else { (k, v) })
            .collect();
        cases.push(Req::form(format!("form empty {field}"), &emptied));
    }
    cases.push(Req::json("empty object", "{}"));
    cases.push(Req::form("empty form", &[]));
    all_refused(&cases, 400, "invalid_request").await;
}

#[tokio::test]
async fn unknown_json_property_is_invalid_request() {
    let cases = [
        ("foo", json!(1)),
        ("grantType", json!("client_credentials")),
        ("audience", json!("https://example.com")),
        ("client_assertion", json!("x")),
    ]
    .map(|(field, value)| {
        Req::json_value(
            format!("unknown property {field}"),
            &json_with(field, value),
        )
    });
    all_refused(&cases, 400, "invalid_request").await;
}

#[tokio::test]
async fn duplicate_parameters_are_invalid_request() {
    let grant = ("grant_type", "client_credentials");
    let id = ("client_id", ID);
    let secret = ("client_secret", SECRET);
    let cases = [
        Req::form("grant_type twice", &[grant, grant, id, secret]),
        Req::form("client_id twice", &[grant, id, id, secret]),
        Req::form("client_secret twice", &[grant, id, secret, secret]),
        Req::form(
            "scope twice",
            &[
                grant,
                id,
                secret,
                ("scope", "groups:read"),
                ("scope", "groups:read"),
            ],
        ),
        Req::form(
            "client_id once empty, once set",
            &[grant, ("client_id", ""), id, secret],
        ),
        Req::json(
            "json duplicate key",
            format!(
                r#"{{"grant_type":"client_credentials","client_id":"{ID}","client_id":"{ID}","client_secret":"{SECRET}"}}"#
            ),
        ),
    ];
    all_refused(&cases, 400, "invalid_request").await;
}

#[tokio::test]
async fn basic_and_body_credentials_together_are_invalid_request() {
    let auth = basic(ID, SECRET);
    let cases = [
        Req::json_value("basic + json body", &good_json()).authorization(&auth),
        Req::form("basic + form body", &GOOD_FORM).authorization(&auth),
        Req::form(
            "basic + client_secret only",
            &[
                ("grant_type", "client_credentials"),
                ("client_secret", SECRET),
            ],
        )
        .authorization(&auth),
        Req::form(
            "basic + another client_id in the body",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "fedcba9876543210fedcba9876543210"),
            ],
        )
        .authorization(&auth),
    ];
    all_refused(&cases, 400, "invalid_request").await;
}

#[tokio::test]
async fn malformed_basic_header_is_invalid_request() {
    let no_colon = format!("Basic {}", STANDARD.encode(format!("{ID}{SECRET}")));
    let empty_secret = format!("Basic {}", STANDARD.encode(format!("{ID}:")));
    let grant_only = [("grant_type", "client_credentials")];
    let cases = [
        Req::form("not base64", &grant_only).authorization("Basic !!!not*base64!!!"),
        Req::form("no colon", &grant_only).authorization(&no_colon),
        Req::form("no credentials", &grant_only).authorization("Basic"),
        Req::form("empty secret", &grant_only).authorization(&empty_secret),
        Req::form("two Authorization headers", &grant_only)
            .authorization(&basic(ID, SECRET))
            .authorization(&basic(ID, SECRET)),
    ];
    all_refused(&cases, 400, "invalid_request").await;
}

#[tokio::test]
async fn another_authorization_scheme_is_invalid_client_without_a_basic_challenge() {
    let req = Req::form(
        "Bearer instead of Basic",
        &[("grant_type", "client_credentials")],
    )
    .authorization("Bearer abc.def.ghi");
    let r = refused(&req, 401, "invalid_client").await;
    assert!(
        r.headers.get(header::WWW_AUTHENTICATE).is_none(),
        "no Basic challenge for a client that did not use Basic: {:?}",
        r.headers
    );
}

#[tokio::test]
async fn non_utf8_input_is_invalid_request() {
    let id = ID.as_bytes();
    let secret = SECRET.as_bytes();
    let cases = [
        Req::raw(
            "form client_id=%ff",
            Some(FORM),
            [
                b"grant_type=client_credentials&client_id=%ff&client_secret=".as_slice(),
                secret,
            ]
            .concat(),
        ),
        Req::raw(
            "form client_secret=%C3%28",
            Some(FORM),
            [
                b"grant_type=client_credentials&client_id=".as_slice(),
                id,
                b"&client_secret=%C3%28",
            ]
            .concat(),
        ),
        Req::raw(
            "form raw 0xff byte",
            Some(FORM),
            [
                b"grant_type=client_credentials&client_id=".as_slice(),
                id,
                b"\xff&client_secret=",
                secret,
            ]
            .concat(),
        ),
        Req::raw(
            "json raw 0xff in client_id",
            Some(JSON),
            [
                br#"{"grant_type":"client_credentials","client_id":""#.as_slice(),
                id,
                b"\xff\",\"client_secret\":\"",
                secret,
                b"\"}",
            ]
            .concat(),
        ),
        Req::raw(
            "json raw 0xfe 0xff in client_secret",
            Some(JSON),
            [
                br#"{"grant_type":"client_credentials","client_id":""#.as_slice(),
                id,
                b"\",\"client_secret\":\"\xfe\xff\"}",
            ]
            .concat(),
        ),
        Req::form(
            "Basic client_id %ff",
            &[("grant_type", "client_credentials")],
        )
        .authorization(&format!("Basic {}", STANDARD.encode(b"%ff:secret"))),
    ];
    all_refused(&cases, 400, "invalid_request").await;
}

#[tokio::test]
async fn unsupported_content_type_is_415() {
    let body = good_json().to_string();
    let cases = [
        Req::raw("text/plain", Some("text/plain"), body.clone()),
        Req::raw("application/xml", Some("application/xml"), body.clone()),
        Req::raw(
            "multipart/form-data; boundary=x",
            Some("multipart/form-data; boundary=x"),
            body.clone(),
        ),
        Req::raw("no content-type", None, body),
    ];
    all_refused(&cases, 415, "invalid_request").await;
}

#[tokio::test]
async fn malformed_scope_is_invalid_scope() {
    let mut cases = Vec::new();
    for scope in [
        "groups",
        "groups:",
        ":read",
        "groups:read!",
        "groups read",
        "1groups:read",
        "groups:read;groups:write",
        "groups:rëad",
    ] {
        cases.push(Req::json_value(scope, &json_with("scope", json!(scope))));
        cases.push(Req::form(
            format!("form {scope}"),
            &form_with(&[("scope", scope)]),
        ));
    }
    all_refused(&cases, 400, "invalid_scope").await;
}
