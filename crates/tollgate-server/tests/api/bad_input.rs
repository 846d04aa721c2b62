//! Bad input to the token endpoint, over real HTTP: each test sends one kind of malformed, forged or
//! unauthorized request and checks the documented answer (DESIGN.md, "HTTP contract" and "Errors"):
//! status, error code in the documented body, `WWW-Authenticate` where the contract asks for it —
//! and that nothing changed (the good credential still gets a token).
//!
//! The full tables of malformed requests (bodies, encodings, duplicates, Basic headers, content
//! types, scopes) are checked against the parser itself in `token_parsing`; here a representative
//! few of each kind go through the server, so each class of answer stays covered end to end, with
//! what needs the server: the body limit, the credentials in the database, the method. The protected
//! API's bad input is in `bad_input_api`.

// Test code: a failed expectation is a panic.
#![allow(clippy::expect_used, clippy::panic, clippy::unwrap_used)]

use reqwest::{RequestBuilder, Response};
use serde_json::{Value, json};
use tollgate_core::ids::ClientId;

use crate::helpers::{self, Cred, TestApp};
use crate::token_parsing::{basic, check_oauth_error, form};

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
    let headers = r.headers().clone();
    let www = headers
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let text = r.text().await.expect("body");
    let body = check_oauth_error(got, &headers, &text, status, code, case);
    OAuthError { body, www, text }
}

fn good_json(cred: &Cred) -> Value {
    json!({
        "grant_type": "client_credentials",
        "client_id": cred.client_id,
        "client_secret": cred.secret,
    })
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
    // One syntax error, one well-formed object followed by garbage (all of them: `token_parsing`).
    let cases: Vec<(&str, String)> = vec![
        ("open brace", "{".into()),
        ("trailing garbage", format!("{good} x")),
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
    // The good object, in an array (more: `token_parsing`).
    let case = "array holding the good object";
    let r = app
        .post_token_raw(JSON, format!("[{}]", good_json(&cred)))
        .await;
    oauth_error(r, 400, Some("invalid_request"), case).await;
    still_issues(&app, &cred).await;
}

#[tokio::test]
async fn token_wrong_types_are_invalid_request_and_not_echoed() {
    let (app, cred) = token_setup().await;
    // A number as the secret: not echoed (every field: `token_parsing`).
    let case = "client_secret as number";
    let body = json!({"grant_type": "client_credentials", "client_id": cred.client_id, "client_secret": 123_456_789_012_u64});
    let r = app.post_token_json(&body).await;
    let e = oauth_error(r, 400, Some("invalid_request"), case).await;
    assert!(
        !e.text.contains("123456789012"),
        "{case}: the response echoes the value: {}",
        e.text
    );
    assert!(
        !e.text.contains(&cred.secret),
        "{case}: the response echoes the secret"
    );
    still_issues(&app, &cred).await;
}

#[tokio::test]
async fn token_unknown_grant_type_is_unsupported_grant_type() {
    let (app, cred) = token_setup().await;
    // One, as JSON and as a form (more: `token_parsing`).
    let grant = "password";
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
    still_issues(&app, &cred).await;
}

#[tokio::test]
async fn token_missing_or_empty_fields_are_invalid_request() {
    let (app, cred) = token_setup().await;
    // Missing in JSON, empty in a form (every field both ways: `token_parsing`).
    let mut body = good_json(&cred);
    body.as_object_mut()
        .expect("object")
        .remove("client_secret");
    let r = app.post_token_json(&body).await;
    oauth_error(
        r,
        400,
        Some("invalid_request"),
        "json missing client_secret",
    )
    .await;
    let r = app
        .post_token_raw(
            FORM,
            form(&[
                ("grant_type", "client_credentials"),
                ("client_id", ""),
                ("client_secret", &cred.secret),
            ]),
        )
        .await;
    oauth_error(r, 400, Some("invalid_request"), "form empty client_id").await;
    let r = app.post_token_json(&json!({})).await;
    oauth_error(r, 400, Some("invalid_request"), "empty object").await;
    let r = app.post_token_raw(FORM, "").await;
    oauth_error(r, 400, Some("invalid_request"), "empty form").await;
    still_issues(&app, &cred).await;
}

#[tokio::test]
async fn token_unknown_json_property_is_invalid_request_but_company_and_user_id_are_ignored() {
    let (app, cred) = token_setup().await;
    // One (more: `token_parsing`).
    let mut body = good_json(&cred);
    body["foo"] = json!(1);
    let r = app.post_token_json(&body).await;
    oauth_error(r, 400, Some("invalid_request"), "unknown property foo").await;

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
    // One in a form, one in JSON (all of them: `token_parsing`).
    let pairs = [
        ("grant_type", "client_credentials"),
        ("client_id", id),
        ("client_id", id),
        ("client_secret", secret),
    ];
    let r = app.post_token_raw(FORM, form(&pairs)).await;
    oauth_error(r, 400, Some("invalid_request"), "client_id twice").await;
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
    // One (more: `token_parsing`).
    let e = oauth_error(r, 400, Some("invalid_request"), "basic + json body").await;
    assert_eq!(e.body["error"], "invalid_request");

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
    // One (all of them: `token_parsing`).
    let r = send(
        token_post(&app)
            .header("authorization", "Basic !!!not*base64!!!")
            .header("content-type", FORM)
            .body(form(&[("grant_type", "client_credentials")])),
    )
    .await;
    oauth_error(r, 400, Some("invalid_request"), "not base64").await;
    still_issues(&app, &cred).await;
}

#[tokio::test]
async fn token_non_utf8_input_is_invalid_request() {
    let (app, cred) = token_setup().await;
    let id = cred.client_id.as_bytes();
    let secret = cred.secret.as_bytes();
    // A bad percent-escape in a form, a raw bad byte in JSON (all of them: `token_parsing`).
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
    // One unknown type, and none (more: `token_parsing`).
    let r = app.post_token_raw("text/plain", body.clone()).await;
    oauth_error(r, 415, None, "text/plain").await;
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
    // Two, as JSON and as a form (all of them: `token_parsing`).
    for scope in ["groups:", "groups:rëad"] {
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
