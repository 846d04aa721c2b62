//! Bad input, over real HTTP: each test sends one kind of malformed, forged or unauthorized request
//! and checks the documented answer (DESIGN.md, "HTTP contract" and "Errors"): status, error code in
//! the documented body, `WWW-Authenticate` where the contract asks for it — and that nothing changed
//! (the good credential still gets a token; the groups are as they were).

// Test code: a failed expectation is a panic.
#![allow(clippy::expect_used, clippy::panic, clippy::unwrap_used)]

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::{Map, Value, json};
use tollgate_core::clock::Clock as _;
use tollgate_core::ids::{ClientId, GroupId};
use tollgate_core::keys::{KeyRing, generate_ed25519};
use tollgate_core::model::Group;

use crate::helpers::{self, Cred, TestApp, VERSION_HEADER, error_of};

const FORM: &str = "application/x-www-form-urlencoded";
const JSON: &str = "application/json";

// ---------------------------------------------------------------------------------------------
// Token endpoint helpers
// ---------------------------------------------------------------------------------------------

/// A token error as read off the wire.
struct OAuthError {
    body: Value,
    www: Option<String>,
    text: String,
}

/// Checks a token-endpoint error: status, `Cache-Control: no-store`, a JSON body
/// `{"error": CODE, "error_description": "…"}` (`code: None`: any string code).
async fn oauth_error(r: Response, status: u16, code: Option<&str>, case: &str) -> OAuthError {
    let got = r.status().as_u16();
    let cache = r
        .headers()
        .get("cache-control")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let ctype = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let www = r
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = r.text().await.expect("body");
    assert_eq!(got, status, "{case}: status (body: {text})");
    assert_eq!(
        cache.as_deref(),
        Some("no-store"),
        "{case}: Cache-Control (body: {text})"
    );
    assert!(
        ctype.as_deref().is_some_and(|c| c.starts_with(JSON)),
        "{case}: content-type {ctype:?} (body: {text})"
    );
    let body: Value = serde_json::from_str(&text)
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
    OAuthError { body, www, text }
}

fn good_json(cred: &Cred) -> Value {
    json!({
        "grant_type": "client_credentials",
        "client_id": cred.client_id,
        "client_secret": cred.secret,
    })
}

/// `application/x-www-form-urlencoded` of `pairs`.
fn form(pairs: &[(&str, &str)]) -> String {
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
fn basic(id: &str, secret: &str) -> String {
    let raw = format!(
        "{}:{}",
        utf8_percent_encode(id, NON_ALPHANUMERIC),
        utf8_percent_encode(secret, NON_ALPHANUMERIC)
    );
    format!("Basic {}", STANDARD.encode(raw))
}

fn token_post(app: &TestApp) -> RequestBuilder {
    app.client.post(app.token_url())
}

async fn send(rb: RequestBuilder) -> Response {
    rb.send().await.expect("send")
}

/// The good credential still gets a token (nothing was locked, changed or consumed).
async fn still_issues(app: &TestApp, cred: &Cred) {
    let r = app.post_token_json(&good_json(cred)).await;
    let status = r.status().as_u16();
    let v: Value = r.json().await.expect("json");
    assert_eq!(
        status, 200,
        "the good credential must still get a token: {v}"
    );
    assert!(v["access_token"].as_str().is_some_and(|t| !t.is_empty()));
    assert_eq!(v["token_type"], "Bearer");
}

async fn token_setup() -> (TestApp, Cred) {
    let app = helpers::spawn().await;
    let cred = app.credential("groups:read groups:write").await;
    (app, cred)
}

// ---------------------------------------------------------------------------------------------
// Token endpoint
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn token_malformed_json_is_invalid_request() {
    let (app, cred) = token_setup().await;
    let good = good_json(&cred).to_string();
    let truncated = &good[..good.len() - 1];
    let trailing = format!("{good} x");
    let cases: Vec<(&str, String)> = vec![
        ("open brace", "{".into()),
        ("empty body", String::new()),
        ("blanks", "   ".into()),
        (
            "trailing comma",
            r#"{"grant_type":"client_credentials",}"#.into(),
        ),
        (
            "missing comma",
            r#"{"grant_type":"client_credentials" "client_id":"x"}"#.into(),
        ),
        (
            "unquoted keys",
            "{grant_type: \"client_credentials\"}".into(),
        ),
        (
            "single quotes",
            "{'grant_type':'client_credentials'}".into(),
        ),
        ("truncated", truncated.to_owned()),
        ("trailing garbage", trailing),
    ];
    for (case, body) in cases {
        let r = app.post_token_raw(JSON, body).await;
        oauth_error(r, 400, Some("invalid_request"), case).await;
    }
    still_issues(&app, &cred).await;
}

#[tokio::test]
async fn token_json_not_an_object_is_invalid_request() {
    let (app, cred) = token_setup().await;
    let cases: Vec<(&str, String)> = vec![
        ("empty array", "[]".into()),
        (
            "array holding the good object",
            format!("[{}]", good_json(&cred)),
        ),
        ("string", r#""client_credentials""#.into()),
        ("number", "42".into()),
        ("null", "null".into()),
        ("boolean", "true".into()),
    ];
    for (case, body) in cases {
        let r = app.post_token_raw(JSON, body).await;
        oauth_error(r, 400, Some("invalid_request"), case).await;
    }
    still_issues(&app, &cred).await;
}

#[tokio::test]
async fn token_wrong_types_are_invalid_request_and_not_echoed() {
    let (app, cred) = token_setup().await;
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "client_id as number",
            json!({"grant_type": "client_credentials", "client_id": 987_654_321_u64, "client_secret": cred.secret}),
            "987654321",
        ),
        (
            "client_secret as number",
            json!({"grant_type": "client_credentials", "client_id": cred.client_id, "client_secret": 123_456_789_012_u64}),
            "123456789012",
        ),
        (
            "client_id as boolean",
            json!({"grant_type": "client_credentials", "client_id": true, "client_secret": cred.secret}),
            "true",
        ),
        (
            "grant_type as array",
            json!({"grant_type": ["client_credentials"], "client_id": cred.client_id, "client_secret": cred.secret}),
            "[",
        ),
        (
            "scope as object",
            json!({"grant_type": "client_credentials", "client_id": cred.client_id, "client_secret": cred.secret, "scope": {"groups:read": 5_550_123_u64}}),
            "5550123",
        ),
    ];
    for (case, body, secret_value) in cases {
        let r = app.post_token_json(&body).await;
        let e = oauth_error(r, 400, Some("invalid_request"), case).await;
        assert!(
            !e.text.contains(secret_value),
            "{case}: the response echoes the value `{secret_value}`: {}",
            e.text
        );
        assert!(
            !e.text.contains(&cred.secret),
            "{case}: the response echoes the secret"
        );
    }
    still_issues(&app, &cred).await;
}

#[tokio::test]
async fn token_unknown_grant_type_is_unsupported_grant_type() {
    let (app, cred) = token_setup().await;
    for grant in [
        "password",
        "authorization_code",
        "refresh_token",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "client_credential",
    ] {
        let mut body = good_json(&cred);
        body["grant_type"] = json!(grant);
        let r = app.post_token_json(&body).await;
        oauth_error(r, 400, Some("unsupported_grant_type"), grant).await;

        let r = app
            .post_token_raw(
                FORM,
                form(&[
                    ("grant_type", grant),
                    ("client_id", &cred.client_id),
                    ("client_secret", &cred.secret),
                ]),
            )
            .await;
        oauth_error(
            r,
            400,
            Some("unsupported_grant_type"),
            &format!("form {grant}"),
        )
        .await;
    }
    still_issues(&app, &cred).await;
}

#[tokio::test]
async fn token_missing_or_empty_fields_are_invalid_request() {
    let (app, cred) = token_setup().await;
    for field in ["grant_type", "client_id", "client_secret"] {
        // Missing, JSON.
        let mut body = good_json(&cred);
        body.as_object_mut().expect("object").remove(field);
        let r = app.post_token_json(&body).await;
        oauth_error(
            r,
            400,
            Some("invalid_request"),
            &format!("json missing {field}"),
        )
        .await;

        // Empty string, JSON.
        let mut body = good_json(&cred);
        body[field] = json!("");
        let r = app.post_token_json(&body).await;
        oauth_error(
            r,
            400,
            Some("invalid_request"),
            &format!("json empty {field}"),
        )
        .await;

        // Missing and empty, form.
        let all = [
            ("grant_type", "client_credentials"),
            ("client_id", cred.client_id.as_str()),
            ("client_secret", cred.secret.as_str()),
        ];
        let without: Vec<(&str, &str)> = all.iter().copied().filter(|(k, _)| *k != field).collect();
        let r = app.post_token_raw(FORM, form(&without)).await;
        oauth_error(
            r,
            400,
            Some("invalid_request"),
            &format!("form missing {field}"),
        )
        .await;
        let emptied: Vec<(&str, &str)> = all
            .iter()
            .map(|&(k, v)| if k == field { (k, "") } else { (k, v) })
            .collect();
        let r = app.post_token_raw(FORM, form(&emptied)).await;
        oauth_error(
            r,
            400,
            Some("invalid_request"),
            &format!("form empty {field}"),
        )
        .await;
    }
    let r = app.post_token_json(&json!({})).await;
    oauth_error(r, 400, Some("invalid_request"), "empty object").await;
    let r = app.post_token_raw(FORM, "").await;
    oauth_error(r, 400, Some("invalid_request"), "empty form").await;
    still_issues(&app, &cred).await;
}

#[tokio::test]
async fn token_unknown_json_property_is_invalid_request_but_company_and_user_id_are_ignored() {
    let (app, cred) = token_setup().await;
    for (field, value) in [
        ("foo", json!(1)),
        ("grantType", json!("client_credentials")),
        ("audience", json!("https://example.com")),
        ("client_assertion", json!("x")),
    ] {
        let mut body = good_json(&cred);
        body[field] = value;
        let r = app.post_token_json(&body).await;
        oauth_error(
            r,
            400,
            Some("invalid_request"),
            &format!("unknown property {field}"),
        )
        .await;
    }

    let mut body = good_json(&cred);
    body["company_id"] = json!("5f0c2b7a9d3e4f1a2b3c4d5e");
    body["user_id"] = json!("5f0c2b7a9d3e4f1a2b3c4d5f");
    let r = app.post_token_json(&body).await;
    let status = r.status().as_u16();
    let v: Value = r.json().await.expect("json");
    assert_eq!(
        status, 200,
        "company_id/user_id must be accepted and ignored: {v}"
    );
    assert_eq!(v["token_type"], "Bearer");
    still_issues(&app, &cred).await;
}

#[tokio::test]
async fn token_duplicate_parameters_are_invalid_request() {
    let (app, cred) = token_setup().await;
    let id = cred.client_id.as_str();
    let secret = cred.secret.as_str();
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (
            "grant_type twice",
            vec![
                ("grant_type", "client_credentials"),
                ("grant_type", "client_credentials"),
                ("client_id", id),
                ("client_secret", secret),
            ],
        ),
        (
            "client_id twice",
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", id),
                ("client_id", id),
                ("client_secret", secret),
            ],
        ),
        (
            "client_secret twice",
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", id),
                ("client_secret", secret),
                ("client_secret", secret),
            ],
        ),
        (
            "scope twice",
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", id),
                ("client_secret", secret),
                ("scope", "groups:read"),
                ("scope", "groups:read"),
            ],
        ),
        (
            "client_id once empty, once set",
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", ""),
                ("client_id", id),
                ("client_secret", secret),
            ],
        ),
    ];
    for (case, pairs) in cases {
        let r = app.post_token_raw(FORM, form(&pairs)).await;
        oauth_error(r, 400, Some("invalid_request"), case).await;
    }
    // The same in JSON: a key given twice.
    let body = format!(
        r#"{{"grant_type":"client_credentials","client_id":"{id}","client_id":"{id}","client_secret":"{secret}"}}"#
    );
    let r = app.post_token_raw(JSON, body).await;
    oauth_error(r, 400, Some("invalid_request"), "json duplicate key").await;
    still_issues(&app, &cred).await;
}

#[tokio::test]
async fn token_basic_and_body_credentials_together_are_invalid_request() {
    let (app, cred) = token_setup().await;
    let auth = basic(&cred.client_id, &cred.secret);

    let r = send(
        token_post(&app)
            .header("authorization", &auth)
            .header("content-type", JSON)
            .body(good_json(&cred).to_string()),
    )
    .await;
    let e = oauth_error(r, 400, Some("invalid_request"), "basic + json body").await;
    assert_eq!(e.body["error"], "invalid_request");

    let r = send(
        token_post(&app)
            .header("authorization", &auth)
            .header("content-type", FORM)
            .body(form(&[
                ("grant_type", "client_credentials"),
                ("client_id", &cred.client_id),
                ("client_secret", &cred.secret),
            ])),
    )
    .await;
    oauth_error(r, 400, Some("invalid_request"), "basic + form body").await;

    let r = send(
        token_post(&app)
            .header("authorization", &auth)
            .header("content-type", FORM)
            .body(form(&[
                ("grant_type", "client_credentials"),
                ("client_secret", &cred.secret),
            ])),
    )
    .await;
    oauth_error(
        r,
        400,
        Some("invalid_request"),
        "basic + client_secret only",
    )
    .await;

    // Control: Basic alone works.
    let r = send(
        token_post(&app)
            .header("authorization", &auth)
            .header("content-type", FORM)
            .body(form(&[("grant_type", "client_credentials")])),
    )
    .await;
    assert_eq!(r.status(), 200, "Basic alone must work");
    still_issues(&app, &cred).await;
}

#[tokio::test]
async fn token_malformed_basic_header_is_invalid_request() {
    let (app, cred) = token_setup().await;
    let no_colon = format!(
        "Basic {}",
        STANDARD.encode(format!("{}{}", cred.client_id, cred.secret))
    );
    let cases: Vec<(&str, String)> = vec![
        ("not base64", "Basic !!!not*base64!!!".into()),
        ("no colon", no_colon),
        ("no credentials", "Basic".into()),
    ];
    for (case, auth) in cases {
        let r = send(
            token_post(&app)
                .header("authorization", auth)
                .header("content-type", FORM)
                .body(form(&[("grant_type", "client_credentials")])),
        )
        .await;
        oauth_error(r, 400, Some("invalid_request"), case).await;
    }
    still_issues(&app, &cred).await;
}

#[tokio::test]
async fn token_non_utf8_input_is_invalid_request() {
    let (app, cred) = token_setup().await;
    let id = cred.client_id.as_bytes();
    let secret = cred.secret.as_bytes();

    let cases: Vec<(&str, &str, Vec<u8>)> = vec![
        (
            "form client_id=%ff",
            FORM,
            [
                b"grant_type=client_credentials&client_id=%ff&client_secret=".as_slice(),
                secret,
            ]
            .concat(),
        ),
        (
            "form client_secret=%C3%28",
            FORM,
            [
                b"grant_type=client_credentials&client_id=".as_slice(),
                id,
                b"&client_secret=%C3%28",
            ]
            .concat(),
        ),
        (
            "form raw 0xff byte",
            FORM,
            [
                b"grant_type=client_credentials&client_id=".as_slice(),
                id,
                b"\xff&client_secret=",
                secret,
            ]
            .concat(),
        ),
        (
            "json raw 0xff in client_id",
            JSON,
            [
                br#"{"grant_type":"client_credentials","client_id":""#.as_slice(),
                id,
                b"\xff\",\"client_secret\":\"",
                secret,
                b"\"}",
            ]
            .concat(),
        ),
        (
            "json raw 0xfe 0xff in client_secret",
            JSON,
            [
                br#"{"grant_type":"client_credentials","client_id":""#.as_slice(),
                id,
                b"\",\"client_secret\":\"\xfe\xff\"}",
            ]
            .concat(),
        ),
    ];
    for (case, ct, body) in cases {
        let r = app.post_token_raw(ct, body).await;
        oauth_error(r, 400, Some("invalid_request"), case).await;
    }
    still_issues(&app, &cred).await;
}

#[tokio::test]
async fn token_body_over_16_kib_is_413_with_json_body() {
    let (app, cred) = token_setup().await;
    const LIMIT: usize = 16 * 1024;

    // A valid JSON body padded with blanks to `len` bytes.
    let padded_json = |len: usize| {
        let s = good_json(&cred).to_string();
        let inner = &s[1..];
        format!("{{{}{}", " ".repeat(len - s.len()), inner)
    };
    let at_limit = padded_json(LIMIT);
    assert_eq!(at_limit.len(), LIMIT);
    let r = app.post_token_raw(JSON, at_limit).await;
    assert_eq!(
        r.status(),
        200,
        "a body of exactly 16 KiB is not over the limit"
    );

    for (case, len) in [("json 16 KiB + 1", LIMIT + 1), ("json 20 KiB", 20 * 1024)] {
        let body = padded_json(len);
        assert_eq!(body.len(), len);
        let r = app.post_token_raw(JSON, body).await;
        oauth_error(r, 413, None, case).await;
    }

    let f = form(&[
        ("grant_type", "client_credentials"),
        ("client_id", &cred.client_id),
        ("client_secret", &cred.secret),
    ]);
    let big_form = format!("{f}{}", "&".repeat(LIMIT + 1 - f.len()));
    let r = app.post_token_raw(FORM, big_form).await;
    oauth_error(r, 413, None, "form 16 KiB + 1").await;
    still_issues(&app, &cred).await;
}

#[tokio::test]
async fn token_unsupported_content_type_is_415() {
    let (app, cred) = token_setup().await;
    let body = good_json(&cred).to_string();
    for ct in [
        "text/plain",
        "application/xml",
        "multipart/form-data; boundary=x",
    ] {
        let r = app.post_token_raw(ct, body.clone()).await;
        oauth_error(r, 415, None, ct).await;
    }
    // No content type at all.
    let r = send(token_post(&app).body(body.clone())).await;
    oauth_error(r, 415, None, "no content-type").await;
    still_issues(&app, &cred).await;
}

#[tokio::test]
async fn token_unknown_client_is_invalid_client() {
    let (app, cred) = token_setup().await;
    let unknown = "0123456789abcdef0123456789abcdef";

    let mut body = good_json(&cred);
    body["client_id"] = json!(unknown);
    let r = app.post_token_json(&body).await;
    oauth_error(r, 401, Some("invalid_client"), "json unknown client").await;

    let r = app
        .post_token_raw(
            FORM,
            form(&[
                ("grant_type", "client_credentials"),
                ("client_id", unknown),
                ("client_secret", &cred.secret),
            ]),
        )
        .await;
    oauth_error(r, 401, Some("invalid_client"), "form unknown client").await;

    let r = send(
        token_post(&app)
            .header("authorization", basic(unknown, &cred.secret))
            .header("content-type", FORM)
            .body(form(&[("grant_type", "client_credentials")])),
    )
    .await;
    let e = oauth_error(r, 401, Some("invalid_client"), "basic unknown client").await;
    assert_eq!(e.www.as_deref(), Some(r#"Basic realm="tollgate""#));
    still_issues(&app, &cred).await;
}

#[tokio::test]
async fn token_wrong_secret_is_invalid_client_with_basic_challenge() {
    let (app, cred) = token_setup().await;
    let other = app.credential("groups:read").await;
    let wrong = format!("{}x", cred.secret);

    for (case, secret) in [
        ("wrong secret", wrong.as_str()),
        ("another credential's secret", other.secret.as_str()),
    ] {
        let mut body = good_json(&cred);
        body["client_secret"] = json!(secret);
        let r = app.post_token_json(&body).await;
        oauth_error(r, 401, Some("invalid_client"), &format!("json {case}")).await;

        let r = app
            .post_token_raw(
                FORM,
                form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", &cred.client_id),
                    ("client_secret", secret),
                ]),
            )
            .await;
        oauth_error(r, 401, Some("invalid_client"), &format!("form {case}")).await;

        let r = send(
            token_post(&app)
                .header("authorization", basic(&cred.client_id, secret))
                .header("content-type", FORM)
                .body(form(&[("grant_type", "client_credentials")])),
        )
        .await;
        let e = oauth_error(r, 401, Some("invalid_client"), &format!("basic {case}")).await;
        assert_eq!(
            e.www.as_deref(),
            Some(r#"Basic realm="tollgate""#),
            "{case}: Basic challenge"
        );
    }
    // Control: the right secret over Basic works.
    let r = send(
        token_post(&app)
            .header("authorization", basic(&cred.client_id, &cred.secret))
            .header("content-type", FORM)
            .body(form(&[("grant_type", "client_credentials")])),
    )
    .await;
    assert_eq!(r.status(), 200);
    still_issues(&app, &cred).await;
    still_issues(&app, &other).await;
}

#[tokio::test]
async fn token_deleted_credential_is_invalid_client() {
    let (app, cred) = token_setup().await;
    let doomed = app.credential_in(cred.company, "groups:read").await;
    still_issues(&app, &doomed).await;
    app.admin
        .delete_credential(&ClientId::parse(&doomed.client_id).expect("client id"))
        .await
        .expect("delete");
    app.sync().await;

    let r = app.post_token_json(&good_json(&doomed)).await;
    oauth_error(r, 401, Some("invalid_client"), "json deleted").await;
    let r = send(
        token_post(&app)
            .header("authorization", basic(&doomed.client_id, &doomed.secret))
            .header("content-type", FORM)
            .body(form(&[("grant_type", "client_credentials")])),
    )
    .await;
    let e = oauth_error(r, 401, Some("invalid_client"), "basic deleted").await;
    assert_eq!(e.www.as_deref(), Some(r#"Basic realm="tollgate""#));
    still_issues(&app, &cred).await;
}

#[tokio::test]
async fn token_scope_outside_the_credential_is_invalid_scope() {
    let app = helpers::spawn().await;
    let cred = app.credential("groups:read").await;
    for scope in [
        "groups:write",
        "groups:read groups:write",
        "users:read",
        "credentials:manage",
        "nosuch:scope",
    ] {
        let mut body = good_json(&cred);
        body["scope"] = json!(scope);
        let r = app.post_token_json(&body).await;
        oauth_error(r, 400, Some("invalid_scope"), scope).await;
    }
    // Control: a scope it holds.
    let mut body = good_json(&cred);
    body["scope"] = json!("groups:read");
    let r = app.post_token_json(&body).await;
    assert_eq!(r.status(), 200);
    still_issues(&app, &cred).await;
}

#[tokio::test]
async fn token_malformed_scope_is_invalid_scope() {
    let (app, cred) = token_setup().await;
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
        let mut body = good_json(&cred);
        body["scope"] = json!(scope);
        let r = app.post_token_json(&body).await;
        oauth_error(r, 400, Some("invalid_scope"), scope).await;

        let r = app
            .post_token_raw(
                FORM,
                form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", &cred.client_id),
                    ("client_secret", &cred.secret),
                    ("scope", scope),
                ]),
            )
            .await;
        oauth_error(r, 400, Some("invalid_scope"), &format!("form {scope}")).await;
    }
    still_issues(&app, &cred).await;
}

#[tokio::test]
async fn token_endpoint_get_is_405() {
    let (app, cred) = token_setup().await;
    let r = send(app.client.get(app.token_url())).await;
    assert_eq!(r.status(), 405);
    let allow = r
        .headers()
        .get("allow")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        allow.contains("POST"),
        "405 must carry Allow: POST (RFC 9110), got {allow:?}"
    );
    // With credentials in the query string: still 405, and no token.
    let url = format!(
        "{}?grant_type=client_credentials&client_id={}&client_secret={}",
        app.token_url(),
        cred.client_id,
        cred.secret
    );
    let r = send(app.client.get(url)).await;
    assert_eq!(r.status(), 405);
    still_issues(&app, &cred).await;
}

// ---------------------------------------------------------------------------------------------
// API helpers
// ---------------------------------------------------------------------------------------------

/// An app with a company, a read/write credential, its token, the root group and one child group.
struct ApiFixture {
    app: TestApp,
    cred: Cred,
    token: String,
    root: String,
    child: String,
}

async fn api_setup() -> ApiFixture {
    let app = helpers::spawn().await;
    let cred = app.credential("groups:read groups:write").await;
    let token = app.token(&cred).await;
    let root = app.root_group(&token).await;
    let child = create_group(&app, &token, &root, "child").await;
    ApiFixture {
        app,
        cred,
        token,
        root,
        child,
    }
}

async fn create_group(app: &TestApp, token: &str, parent: &str, name: &str) -> String {
    let r = app
        .api(Method::POST, "/api/v2/groups", token)
        .json(&json!({"name": name, "public": false, "parentId": parent}))
        .send()
        .await
        .expect("send");
    let status = r.status().as_u16();
    let v: Value = r.json().await.expect("json");
    assert_eq!(status, 201, "create group: {v}");
    v["_id"].as_str().expect("_id").to_owned()
}

/// The first page of the caller's groups, sorted by id.
async fn groups(app: &TestApp, token: &str) -> Vec<Value> {
    let r = app
        .api(Method::GET, "/api/v2/groups", token)
        .send()
        .await
        .expect("send");
    let status = r.status().as_u16();
    let v: Value = r.json().await.expect("json");
    assert_eq!(status, 200, "list groups: {v}");
    let mut list = v.as_array().expect("array").clone();
    list.sort_by(|a, b| a["_id"].as_str().cmp(&b["_id"].as_str()));
    list
}

/// A request with the version header and, when given, the raw `Authorization` value.
fn raw_api(app: &TestApp, method: Method, path: &str, auth: Option<&str>) -> RequestBuilder {
    let rb = app
        .client
        .request(method, format!("{}{}", app.base, path))
        .header(VERSION_HEADER, "v2.0");
    match auth {
        Some(a) => rb.header("authorization", a),
        None => rb,
    }
}

/// How the Bearer challenge must look.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Challenge {
    /// A token was sent: `error="invalid_token"` and a description.
    InvalidToken,
    /// No token at all: no `error=` (RFC 6750 §3.1).
    NoToken,
    /// Either of the above (the contract does not say which applies).
    Either,
}

/// Checks a 401 `invalid_token` answer.
async fn assert_invalid_token(r: Response, challenge: Challenge, case: &str) {
    let (status, body, www) = error_of(r).await;
    assert_eq!(status, 401, "{case}: status (body: {body})");
    let obj = body
        .as_object()
        .unwrap_or_else(|| panic!("{case}: body is not an object: {body}"));
    assert_eq!(body["error"], "invalid_token", "{case}: body {body}");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "{case}: error_description: {body}"
    );
    assert!(
        obj.keys().all(|k| k == "error" || k == "error_description"),
        "{case}: unexpected members in {body}"
    );
    let www = www.unwrap_or_else(|| panic!("{case}: no WWW-Authenticate"));
    assert!(
        www.starts_with(r#"Bearer realm="tollgate""#),
        "{case}: WWW-Authenticate {www}"
    );
    let with_error = www
        .starts_with(r#"Bearer realm="tollgate", error="invalid_token", error_description=""#)
        && www.ends_with('"')
        && www.len()
            > r#"Bearer realm="tollgate", error="invalid_token", error_description="""#.len();
    match challenge {
        Challenge::InvalidToken => assert!(with_error, "{case}: WWW-Authenticate {www}"),
        Challenge::NoToken => assert!(!www.contains("error="), "{case}: WWW-Authenticate {www}"),
        Challenge::Either => assert!(
            with_error || !www.contains("error"),
            "{case}: WWW-Authenticate {www}"
        ),
    }
}

/// Every groups route refuses `auth` with 401 `invalid_token`; then the groups are unchanged.
async fn assert_refused_everywhere(
    f: &ApiFixture,
    auth: Option<&str>,
    challenge: Challenge,
    case: &str,
) {
    let before = groups(&f.app, &f.token).await;
    let one = format!("/api/v2/groups/{}", f.child);
    let requests = [
        (
            "GET list",
            raw_api(&f.app, Method::GET, "/api/v2/groups", auth),
        ),
        ("GET one", raw_api(&f.app, Method::GET, &one, auth)),
        (
            "POST",
            raw_api(&f.app, Method::POST, "/api/v2/groups", auth).json(&json!({
                "name": "intruder", "public": false, "parentId": f.root
            })),
        ),
        (
            "PATCH",
            raw_api(&f.app, Method::PATCH, &one, auth).json(&json!({"name": "renamed"})),
        ),
        ("DELETE", raw_api(&f.app, Method::DELETE, &one, auth)),
    ];
    for (what, rb) in requests {
        assert_invalid_token(send(rb).await, challenge, &format!("{case}: {what}")).await;
    }
    let after = groups(&f.app, &f.token).await;
    assert_eq!(before, after, "{case}: groups changed");
}

/// Splits a JWT into its three parts.
fn jwt_parts(token: &str) -> (String, String, String) {
    let mut it = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (it.next(), it.next(), it.next(), it.next()) else {
        panic!("not a compact JWS: {token}");
    };
    (h.to_owned(), p.to_owned(), s.to_owned())
}

fn b64_json(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("json")
}

fn b64_of(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

/// `s` with the character at `i` replaced by another base64url character.
fn change_char(s: &str, i: usize) -> String {
    let mut b = s.as_bytes().to_vec();
    b[i] = if b[i] == b'A' { b'B' } else { b'A' };
    String::from_utf8(b).expect("ascii")
}

fn assert_envelope(body: &Value, case: &str) -> String {
    let obj = body
        .as_object()
        .unwrap_or_else(|| panic!("{case}: body is not an object: {body}"));
    assert_eq!(obj.len(), 1, "{case}: body {body}");
    let err = body["error"]
        .as_object()
        .unwrap_or_else(|| panic!("{case}: `error` is not an object: {body}"));
    let code = err
        .get("code")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{case}: no code: {body}"));
    assert!(
        err.get("message")
            .and_then(Value::as_str)
            .is_some_and(|m| !m.is_empty()),
        "{case}: no message: {body}"
    );
    code.to_owned()
}

/// Checks an API error in the reference's envelope: status and code.
async fn assert_api_error(r: Response, status: u16, code: Option<&str>, case: &str) -> Value {
    let (got, body, _) = error_of(r).await;
    assert_eq!(got, status, "{case}: status (body: {body})");
    let c = assert_envelope(&body, case);
    match code {
        Some(code) => assert_eq!(c, code, "{case}: code (body: {body})"),
        None => assert!(
            c.starts_with(|ch: char| ch.is_ascii_lowercase())
                && c.chars().all(|ch| ch.is_ascii_alphanumeric()),
            "{case}: code must be camelCase: {body}"
        ),
    }
    body
}

// ---------------------------------------------------------------------------------------------
// API: tokens
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn api_without_authorization_header_is_401_without_error_in_challenge() {
    let f = api_setup().await;
    assert_refused_everywhere(&f, None, Challenge::NoToken, "no Authorization").await;
    // Another scheme is no bearer token either (RFC 6750 §3.1).
    let basic_auth = basic(&f.cred.client_id, &f.cred.secret);
    assert_refused_everywhere(&f, Some(&basic_auth), Challenge::NoToken, "Basic scheme").await;
}

#[tokio::test]
async fn api_bearer_without_token_is_401() {
    let f = api_setup().await;
    for auth in ["Bearer", "Bearer ", "Bearer    "] {
        assert_refused_everywhere(&f, Some(auth), Challenge::Either, &format!("{auth:?}")).await;
    }
}

#[tokio::test]
async fn api_garbled_token_is_401() {
    let f = api_setup().await;
    for token in ["abc", "a.b.c", "..", "eyJhbGciOiJFZERTQSJ9", "Bearer"] {
        let auth = format!("Bearer {token}");
        assert_refused_everywhere(&f, Some(&auth), Challenge::InvalidToken, token).await;
    }
}

#[tokio::test]
async fn api_token_with_changed_signature_is_401() {
    let f = api_setup().await;
    let (h, p, s) = jwt_parts(&f.token);
    for i in [0, s.len() / 2, s.len() - 2] {
        let forged = format!("{h}.{p}.{}", change_char(&s, i));
        assert_ne!(forged, f.token);
        let auth = format!("Bearer {forged}");
        assert_refused_everywhere(
            &f,
            Some(&auth),
            Challenge::InvalidToken,
            &format!("signature char {i} changed"),
        )
        .await;
    }
    // Signature dropped.
    let auth = format!("Bearer {h}.{p}.");
    assert_refused_everywhere(&f, Some(&auth), Challenge::InvalidToken, "no signature").await;
}

#[tokio::test]
async fn api_token_with_altered_payload_is_401() {
    let f = api_setup().await;
    // A read-only credential tries to give itself groups:write (and more time).
    let reader = f.app.credential_in(f.cred.company, "groups:read").await;
    let token = f.app.token(&reader).await;
    let (h, p, s) = jwt_parts(&token);
    let claims = b64_json(&p);
    assert_eq!(claims["scope"], "groups:read");

    let mut wider = claims.clone();
    wider["scope"] = json!("groups:read groups:write");
    let mut longer = claims.clone();
    longer["exp"] = json!(claims["exp"].as_i64().expect("exp") + 86_400);
    let mut other_client = claims.clone();
    other_client["client_id"] = json!(f.cred.client_id);
    other_client["sub"] = json!(f.cred.client_id);
    for (case, c) in [
        ("scope widened", wider),
        ("exp extended", longer),
        ("client swapped", other_client),
    ] {
        let forged = format!("{h}.{}.{s}", b64_of(&c));
        let auth = format!("Bearer {forged}");
        assert_refused_everywhere(&f, Some(&auth), Challenge::InvalidToken, case).await;
    }
    // The genuine token still only reads.
    let r = f
        .app
        .api(Method::GET, "/api/v2/groups", &token)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn api_expired_token_is_401() {
    let f = api_setup().await;
    // Still good one second before expiry.
    f.app.clock.advance(3599);
    let r = f
        .app
        .api(Method::GET, "/api/v2/groups", &f.token)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200, "the token is valid until exp");
    f.app.clock.advance(2);

    // Past exp: refused everywhere. The check uses a fresh token, as the old one is expired too.
    let fresh = f.app.token(&f.cred).await;
    let before = groups(&f.app, &fresh).await;
    let auth = format!("Bearer {}", f.token);
    let one = format!("/api/v2/groups/{}", f.child);
    let requests = [
        (
            "GET list",
            raw_api(&f.app, Method::GET, "/api/v2/groups", Some(&auth)),
        ),
        ("GET one", raw_api(&f.app, Method::GET, &one, Some(&auth))),
        (
            "POST",
            raw_api(&f.app, Method::POST, "/api/v2/groups", Some(&auth))
                .json(&json!({"name": "late", "public": false, "parentId": f.root})),
        ),
        (
            "PATCH",
            raw_api(&f.app, Method::PATCH, &one, Some(&auth)).json(&json!({"name": "late"})),
        ),
        ("DELETE", raw_api(&f.app, Method::DELETE, &one, Some(&auth))),
    ];
    for (what, rb) in requests {
        assert_invalid_token(
            send(rb).await,
            Challenge::InvalidToken,
            &format!("expired: {what}"),
        )
        .await;
    }
    assert_eq!(before, groups(&f.app, &fresh).await, "groups changed");
}

#[tokio::test]
async fn api_token_signed_by_another_key_is_401() {
    let f = api_setup().await;
    let (h, p, _) = jwt_parts(&f.token);
    let header = b64_json(&h);
    let server_kid = header["kid"].as_str().expect("kid").to_owned();
    let claims = URL_SAFE_NO_PAD.decode(&p).expect("claims");

    // Our own Ed25519 key (aws-lc-rs, through tollgate-core).
    let mut rec = generate_ed25519(f.app.clock.now()).expect("key");
    let own_kid = rec.kid.clone();
    assert_ne!(own_kid, server_kid);
    let now = f.app.clock.now();
    let with_own_kid = KeyRing::from_records(std::slice::from_ref(&rec), now)
        .expect("ring")
        .current()
        .sign_jwt(&claims)
        .expect("sign");
    // The same key, claiming to be the server's key.
    rec.kid = server_kid;
    let with_server_kid = KeyRing::from_records(&[rec], now)
        .expect("ring")
        .current()
        .sign_jwt(&claims)
        .expect("sign");

    for (case, token) in [
        ("other key, own kid", with_own_kid),
        ("other key, server's kid", with_server_kid),
    ] {
        assert_eq!(jwt_parts(&token).1, p, "same claims");
        let auth = format!("Bearer {token}");
        assert_refused_everywhere(&f, Some(&auth), Challenge::InvalidToken, case).await;
    }
}

#[tokio::test]
async fn api_token_with_alg_none_is_401() {
    let f = api_setup().await;
    let (h, p, _) = jwt_parts(&f.token);
    let kid = b64_json(&h)["kid"].clone();
    let cases = [
        ("alg none", json!({"alg": "none", "typ": "at+jwt"})),
        (
            "alg none with kid",
            json!({"alg": "none", "typ": "at+jwt", "kid": kid}),
        ),
        (
            "alg None",
            json!({"alg": "None", "typ": "at+jwt", "kid": kid}),
        ),
        (
            "alg EdDSA, empty signature",
            json!({"alg": "EdDSA", "typ": "at+jwt", "kid": kid}),
        ),
    ];
    for (case, header) in cases {
        let auth = format!("Bearer {}.{p}.", b64_of(&header));
        assert_refused_everywhere(&f, Some(&auth), Challenge::InvalidToken, case).await;
    }
}

#[tokio::test]
async fn api_token_of_deleted_credential_is_401() {
    let f = api_setup().await;
    let doomed = f
        .app
        .credential_in(f.cred.company, "groups:read groups:write")
        .await;
    let token = f.app.token(&doomed).await;
    let r = f
        .app
        .api(Method::GET, "/api/v2/groups", &token)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200, "works before the delete");
    f.app
        .admin
        .delete_credential(&ClientId::parse(&doomed.client_id).expect("client id"))
        .await
        .expect("delete");
    f.app.sync().await;
    let auth = format!("Bearer {token}");
    assert_refused_everywhere(
        &f,
        Some(&auth),
        Challenge::InvalidToken,
        "deleted credential",
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// API: version header and scope
// ---------------------------------------------------------------------------------------------

fn no_version(app: &TestApp, method: Method, path: &str, token: &str) -> RequestBuilder {
    app.client
        .request(method, format!("{}{}", app.base, path))
        .bearer_auth(token)
}

#[tokio::test]
async fn api_missing_version_header_is_400_missing_api_version() {
    let f = api_setup().await;
    let before = groups(&f.app, &f.token).await;
    let one = format!("/api/v2/groups/{}", f.child);
    let requests = [
        (
            "GET list",
            no_version(&f.app, Method::GET, "/api/v2/groups", &f.token),
        ),
        ("GET one", no_version(&f.app, Method::GET, &one, &f.token)),
        (
            "POST",
            no_version(&f.app, Method::POST, "/api/v2/groups", &f.token)
                .json(&json!({"name": "x", "public": false, "parentId": f.root})),
        ),
        (
            "PATCH",
            no_version(&f.app, Method::PATCH, &one, &f.token).json(&json!({"name": "y"})),
        ),
        ("DELETE", no_version(&f.app, Method::DELETE, &one, &f.token)),
    ];
    for (case, rb) in requests {
        let body = assert_api_error(send(rb).await, 400, Some("missingApiVersion"), case).await;
        let msg = body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            msg.contains("v2.0"),
            "{case}: the message must name the supported versions: {msg}"
        );
    }
    assert_eq!(before, groups(&f.app, &f.token).await, "groups changed");
}

#[tokio::test]
async fn api_unsupported_version_is_400_unsupported_api_version() {
    let f = api_setup().await;
    let before = groups(&f.app, &f.token).await;
    let one = format!("/api/v2/groups/{}", f.child);
    for version in ["v9.9", "v1.0"] {
        let v = |rb: RequestBuilder| rb.header(VERSION_HEADER, version);
        let requests = [
            (
                "GET list",
                v(no_version(&f.app, Method::GET, "/api/v2/groups", &f.token)),
            ),
            (
                "POST",
                v(no_version(&f.app, Method::POST, "/api/v2/groups", &f.token))
                    .json(&json!({"name": "x", "public": false, "parentId": f.root})),
            ),
            (
                "DELETE",
                v(no_version(&f.app, Method::DELETE, &one, &f.token)),
            ),
        ];
        for (what, rb) in requests {
            let case = format!("{version} {what}");
            let body =
                assert_api_error(send(rb).await, 400, Some("unsupportedApiVersion"), &case).await;
            let msg = body["error"]["message"].as_str().unwrap_or_default();
            assert!(
                msg.contains("v2.0"),
                "{case}: the message must name the supported versions: {msg}"
            );
        }
    }
    assert_eq!(before, groups(&f.app, &f.token).await, "groups changed");
}

async fn assert_insufficient_scope(r: Response, scope: &str, case: &str) {
    let (status, body, www) = error_of(r).await;
    assert_eq!(status, 403, "{case}: status (body: {body})");
    assert_eq!(
        assert_envelope(&body, case),
        "invalid_scope",
        "{case}: body {body}"
    );
    let www = www.unwrap_or_else(|| panic!("{case}: no WWW-Authenticate"));
    assert!(www.starts_with("Bearer "), "{case}: {www}");
    assert!(
        www.contains(r#"error="insufficient_scope""#),
        "{case}: {www}"
    );
    assert!(
        www.contains(&format!(r#"scope="{scope}""#)),
        "{case}: {www}"
    );
}

#[tokio::test]
async fn api_missing_scope_is_403_invalid_scope() {
    let f = api_setup().await;
    let before = groups(&f.app, &f.token).await;
    let reader = f.app.credential_in(f.cred.company, "groups:read").await;
    let reader = f.app.token(&reader).await;
    let one = format!("/api/v2/groups/{}", f.child);
    let writes = [
        (
            "POST",
            f.app
                .api(Method::POST, "/api/v2/groups", &reader)
                .json(&json!({"name": "x", "public": false, "parentId": f.root})),
        ),
        (
            "PATCH",
            f.app
                .api(Method::PATCH, &one, &reader)
                .json(&json!({"name": "y"})),
        ),
        ("DELETE", f.app.api(Method::DELETE, &one, &reader)),
    ];
    for (case, rb) in writes {
        assert_insufficient_scope(send(rb).await, "groups:write", case).await;
    }

    let writer = f.app.credential_in(f.cred.company, "groups:write").await;
    let writer = f.app.token(&writer).await;
    for (case, path) in [("GET list", "/api/v2/groups"), ("GET one", one.as_str())] {
        let r = send(f.app.api(Method::GET, path, &writer)).await;
        assert_insufficient_scope(r, "groups:read", case).await;
    }
    assert_eq!(before, groups(&f.app, &f.token).await, "groups changed");
}

// ---------------------------------------------------------------------------------------------
// API: bodies and ids
// ---------------------------------------------------------------------------------------------

/// Sends each body as a POST (and, for `patch`, each as a PATCH of the child): 400 in the envelope,
/// and the groups do not change.
async fn assert_bodies_refused(
    f: &ApiFixture,
    posts: Vec<(&str, String)>,
    patches: Vec<(&str, String)>,
) {
    let before = groups(&f.app, &f.token).await;
    for (case, body) in posts {
        let r = send(
            f.app
                .api(Method::POST, "/api/v2/groups", &f.token)
                .header("content-type", JSON)
                .body(body.clone()),
        )
        .await;
        let b = assert_api_error(r, 400, None, &format!("POST {case}: {body}")).await;
        assert_ne!(b["error"]["code"], "invalid_scope");
    }
    let one = format!("/api/v2/groups/{}", f.child);
    for (case, body) in patches {
        let r = send(
            f.app
                .api(Method::PATCH, &one, &f.token)
                .header("content-type", JSON)
                .body(body.clone()),
        )
        .await;
        assert_api_error(r, 400, None, &format!("PATCH {case}: {body}")).await;
    }
    assert_eq!(before, groups(&f.app, &f.token).await, "groups changed");
}

#[tokio::test]
async fn api_group_post_missing_field_is_400() {
    let f = api_setup().await;
    let full = json!({"name": "n", "public": false, "parentId": f.root});
    let mut posts = Vec::new();
    for field in ["name", "public", "parentId"] {
        let mut b = full.clone();
        b.as_object_mut().expect("object").remove(field);
        posts.push((field, b.to_string()));
    }
    posts.push(("empty object", "{}".to_owned()));
    assert_bodies_refused(&f, posts, Vec::new()).await;
}

#[tokio::test]
async fn api_group_unknown_field_is_400() {
    let f = api_setup().await;
    let posts = vec![
        (
            "foo",
            json!({"name": "n", "public": false, "parentId": f.root, "foo": 1}).to_string(),
        ),
        (
            "_id",
            json!({"name": "n", "public": false, "parentId": f.root, "_id": f.child}).to_string(),
        ),
        (
            "parentID (wrong case)",
            json!({"name": "n", "public": false, "parentId": f.root, "parentID": f.root})
                .to_string(),
        ),
    ];
    let patches = vec![
        ("foo", json!({"name": "n", "foo": 1}).to_string()),
        ("companyId", json!({"companyId": "x"}).to_string()),
    ];
    assert_bodies_refused(&f, posts, patches).await;
}

#[tokio::test]
async fn api_group_wrong_types_are_400() {
    let f = api_setup().await;
    let root = f.root.clone();
    let posts = vec![
        (
            "name number",
            json!({"name": 5, "public": false, "parentId": root}).to_string(),
        ),
        (
            "name null",
            json!({"name": null, "public": false, "parentId": root}).to_string(),
        ),
        (
            "public string",
            json!({"name": "n", "public": "false", "parentId": root}).to_string(),
        ),
        (
            "public number",
            json!({"name": "n", "public": 0, "parentId": root}).to_string(),
        ),
        (
            "parentId number",
            json!({"name": "n", "public": false, "parentId": 123}).to_string(),
        ),
        (
            "parentId array",
            json!({"name": "n", "public": false, "parentId": [root]}).to_string(),
        ),
        (
            "custom number",
            json!({"name": "n", "public": false, "parentId": root, "custom": 7}).to_string(),
        ),
        (
            "array body",
            format!(
                "[{}]",
                json!({"name": "n", "public": false, "parentId": root})
            ),
        ),
        ("string body", "\"n\"".to_owned()),
        ("malformed JSON", "{\"name\":".to_owned()),
    ];
    let patches = vec![
        ("public string", json!({"public": "yes"}).to_string()),
        ("name number", json!({"name": 1}).to_string()),
        ("array body", "[]".to_owned()),
    ];
    assert_bodies_refused(&f, posts, patches).await;
}

#[tokio::test]
async fn api_group_parent_id_not_24_hex_is_400() {
    let f = api_setup().await;
    let bad_ids = [
        "abc".to_owned(),
        String::new(),
        f.root[..23].to_owned(),
        format!("{}0", f.root),
        "z".repeat(24),
        format!(" {}", &f.root[1..]),
    ];
    let posts = bad_ids
        .iter()
        .map(|id| {
            (
                "parentId",
                json!({"name": "n", "public": false, "parentId": id}).to_string(),
            )
        })
        .collect();
    let patches = bad_ids
        .iter()
        .map(|id| ("parentId", json!({"parentId": id}).to_string()))
        .collect();
    assert_bodies_refused(&f, posts, patches).await;
}

/// A second company, with its own credential, token, root and child group.
async fn other_company(f: &ApiFixture) -> (String, String, String) {
    let company = f.app.company("groups:read groups:write").await;
    let cred = f
        .app
        .credential_in(company, "groups:read groups:write")
        .await;
    let token = f.app.token(&cred).await;
    let root = f.app.root_group(&token).await;
    let child = create_group(&f.app, &token, &root, "theirs").await;
    (token, root, child)
}

#[tokio::test]
async fn api_parent_in_another_company_is_404_parent_group_not_found() {
    let f = api_setup().await;
    let (their_token, their_root, their_child) = other_company(&f).await;
    let ours = groups(&f.app, &f.token).await;
    let theirs = groups(&f.app, &their_token).await;

    for parent in [&their_root, &their_child] {
        let r = send(
            f.app
                .api(Method::POST, "/api/v2/groups", &f.token)
                .json(&json!({"name": "n", "public": false, "parentId": parent})),
        )
        .await;
        assert_api_error(
            r,
            404,
            Some("parentGroupNotFound"),
            "POST under their group",
        )
        .await;

        let r = send(
            f.app
                .api(
                    Method::PATCH,
                    &format!("/api/v2/groups/{}", f.child),
                    &f.token,
                )
                .json(&json!({"parentId": parent})),
        )
        .await;
        assert_api_error(
            r,
            404,
            Some("parentGroupNotFound"),
            "PATCH under their group",
        )
        .await;
    }
    // Indistinguishable from a parent that does not exist.
    let missing = "0000000000000000000000ff";
    let r = send(
        f.app
            .api(Method::POST, "/api/v2/groups", &f.token)
            .json(&json!({"name": "n", "public": false, "parentId": missing})),
    )
    .await;
    assert_api_error(r, 404, Some("parentGroupNotFound"), "POST under missing").await;

    assert_eq!(ours, groups(&f.app, &f.token).await, "our groups changed");
    assert_eq!(
        theirs,
        groups(&f.app, &their_token).await,
        "their groups changed"
    );
}

#[tokio::test]
async fn api_group_of_another_company_is_404_group_not_found() {
    let f = api_setup().await;
    let (their_token, their_root, their_child) = other_company(&f).await;
    let theirs = groups(&f.app, &their_token).await;
    let ours = groups(&f.app, &f.token).await;
    let missing = "0000000000000000000000ff".to_owned();

    let mut bodies = Vec::new();
    for id in [&their_child, &their_root, &missing] {
        let path = format!("/api/v2/groups/{id}");
        let requests = [
            ("GET", f.app.api(Method::GET, &path, &f.token)),
            (
                "PATCH",
                f.app
                    .api(Method::PATCH, &path, &f.token)
                    .json(&json!({"name": "pwned"})),
            ),
            ("DELETE", f.app.api(Method::DELETE, &path, &f.token)),
        ];
        for (what, rb) in requests {
            let body = assert_api_error(
                send(rb).await,
                404,
                Some("groupNotFound"),
                &format!("{what} {id}"),
            )
            .await;
            bodies.push((what, body));
        }
    }
    // Another company's group reads exactly as a missing one.
    for (what, body) in &bodies {
        let same = bodies
            .iter()
            .filter(|(w, _)| w == what)
            .all(|(_, b)| b == body);
        assert!(
            same,
            "{what}: answers differ between foreign and missing: {bodies:?}"
        );
    }
    assert_eq!(
        theirs,
        groups(&f.app, &their_token).await,
        "their groups changed"
    );
    assert_eq!(ours, groups(&f.app, &f.token).await, "our groups changed");
}

#[tokio::test]
async fn api_tampered_cursor_is_400_invalid_cursor() {
    let f = api_setup().await;
    // 1 root + 1 child + 499 = 501 groups: two pages.
    let root = GroupId::parse(&f.root).expect("root id");
    let now = f.app.clock.now();
    for i in 0..499 {
        let g = Group {
            id: GroupId::generate(now).expect("id"),
            company_id: f.cred.company,
            name: format!("g{i}"),
            public: false,
            custom: None,
            parent_id: Some(root),
            extra: Map::new(),
        };
        f.app.store.insert_group(&g).await.expect("insert");
    }
    let r = send(f.app.api(Method::GET, "/api/v2/groups", &f.token)).await;
    assert_eq!(r.status(), 200);
    let link = r
        .headers()
        .get("link")
        .and_then(|v| v.to_str().ok())
        .expect("Link header")
        .to_owned();
    let page: Vec<Value> = r.json().await.expect("json");
    assert_eq!(page.len(), 500);
    let cursor = link
        .split("cursor=")
        .nth(1)
        .and_then(|s| s.split('>').next())
        .expect("cursor")
        .to_owned();
    assert!(link.ends_with(r#">; rel="next""#), "{link}");

    // Control: the real cursor gives the last group.
    let r = send(f.app.api(
        Method::GET,
        &format!("/api/v2/groups?cursor={cursor}"),
        &f.token,
    ))
    .await;
    assert_eq!(r.status(), 200);
    let next: Vec<Value> = r.json().await.expect("json");
    assert_eq!(next.len(), 1);

    let mut tampered = vec![
        ("garbage".to_owned(), "garbage".to_owned()),
        ("empty".to_owned(), String::new()),
        (
            "truncated".to_owned(),
            cursor[..cursor.len() - 4].to_owned(),
        ),
        ("extended".to_owned(), format!("{cursor}AAAA")),
    ];
    for i in [0, 5, cursor.len() / 2, cursor.len() - 10, cursor.len() - 2] {
        tampered.push((format!("char {i} changed"), change_char(&cursor, i)));
    }
    for (case, c) in tampered {
        assert_ne!(c, cursor);
        let r = send(
            f.app
                .api(Method::GET, &format!("/api/v2/groups?cursor={c}"), &f.token),
        )
        .await;
        assert_api_error(r, 400, Some("invalidCursor"), &case).await;
    }

    // A real cursor is bound to its company: another company cannot use it.
    let company = f.app.company("groups:read").await;
    let cred = f.app.credential_in(company, "groups:read").await;
    let token = f.app.token(&cred).await;
    let r = send(f.app.api(
        Method::GET,
        &format!("/api/v2/groups?cursor={cursor}"),
        &token,
    ))
    .await;
    assert_api_error(r, 400, Some("invalidCursor"), "another company's cursor").await;
}
